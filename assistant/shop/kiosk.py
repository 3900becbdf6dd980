"""Rules of the in-store kiosk, apart from any UI: idle reset and the shortlist a shopper shows to staff.

A kiosk is shared by strangers, so a session forgets everything (photo, filters, shortlist) after a
configurable idle time, and nothing a shopper shows the camera is ever written anywhere: photos are
searched from memory and dropped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from assistant.settings import number_from_env

ENV_IDLE_SECONDS = "ASSISTANT_KIOSK_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 90.0
MIN_IDLE_SECONDS = 1.0


def idle_seconds_from_env(environ: Mapping[str, str] = os.environ) -> float:
    """The idle time after which a kiosk session starts over, from ASSISTANT_KIOSK_IDLE_SECONDS."""
    return number_from_env(ENV_IDLE_SECONDS, DEFAULT_IDLE_SECONDS, MIN_IDLE_SECONDS, "seconds", environ)


@dataclass
class KioskSession:
    """One shopper's visit: when they last touched the screen and what they shortlisted (skus, in order)."""

    idle_seconds: float = DEFAULT_IDLE_SECONDS
    last_activity: float = field(default_factory=time.monotonic)
    shortlist: list[str] = field(default_factory=list)
    #: Bumped on every reset; the UI puts it in widget keys so that a reset also clears photos and choices.
    visit: int = 0

    def touch(self, now: float | None = None) -> None:
        self.last_activity = time.monotonic() if now is None else now

    def seconds_idle(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.last_activity

    def is_idle(self, now: float | None = None) -> bool:
        return self.seconds_idle(now) >= self.idle_seconds

    def reset(self, now: float | None = None) -> None:
        """Start a fresh visit: forget the shortlist and everything keyed by the old visit."""
        self.shortlist.clear()
        self.visit += 1
        self.touch(now)

    def add(self, sku: str) -> None:
        """Put the sku on the shortlist; a second tap (an impatient shopper) changes nothing."""
        if sku not in self.shortlist:
            self.shortlist.append(sku)

    def remove(self, sku: str) -> None:
        """Take the sku off the shortlist; removing what is not there changes nothing."""
        if sku in self.shortlist:
            self.shortlist.remove(sku)

    def widget_key(self, name: str) -> str:
        return f"kiosk-{self.visit}-{name}"
