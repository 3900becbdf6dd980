"""LISTEN/NOTIFY: a server hears every commit to the catalog database and catches its index up at once.

Invariant: the listener is only a hastener. Searches stay correct without it (``IndexSync`` compares the
database generation before each search), so a missed notification, a dropped listening connection or a
database restart costs at most one catch-up on the next search; the listener reconnects by itself and catches
up after every reconnect, since notifications sent while it was away are lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from assistant.catalog.postgres.connection import CONNECT_TIMEOUT, redacted
from assistant.catalog.postgres.store import CHANNEL
from assistant.errors import AssistantError

log = logging.getLogger(__name__)
#: How often the thread looks up from waiting to see whether it was asked to stop (seconds).
POLL_SECONDS = 0.5
RECONNECT_SECONDS = 1.0


class ChangeListener:
    """A daemon thread that calls ``on_change()`` after each batch of commits announced on the channel."""

    def __init__(self, url: str, on_change: Callable[[], None]):
        self.url = url
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"catalog-listener {redacted(url)}", daemon=True)
        self.connected = threading.Event()

    def start(self) -> ChangeListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=POLL_SECONDS * 4)

    def _run(self) -> None:
        failing = False  # warn once per outage, not once per retry
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    if failing:
                        log.warning("catalog listener for %s is connected again", redacted(self.url))
                        failing = False
                    self._catch_up()  # commits made while this thread was not listening were not announced to it
                    self._listen(conn)
            except psycopg.Error as exc:
                self.connected.clear()
                if not failing:
                    log.warning("catalog listener for %s lost its connection (%s); retrying every %.0f s",
                                redacted(self.url), " ".join(str(exc).split()), RECONNECT_SECONDS)  # fmt: skip
                failing = True
                self._stop.wait(RECONNECT_SECONDS)

    def _listen(self, conn: psycopg.Connection) -> None:
        while not self._stop.is_set():
            heard = False
            for _ in conn.notifies(timeout=POLL_SECONDS):
                heard = True
                break  # one catch-up covers every commit so far; later notifications are drained next time
            if heard:
                self._catch_up()

    def _catch_up(self) -> None:
        try:
            self.on_change()
        except AssistantError as exc:  # the database went away between the notification and the read
            log.warning("catalog listener could not catch up with %s: %s", redacted(self.url), exc)
