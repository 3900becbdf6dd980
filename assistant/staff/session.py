"""A staff member's sign-in in one browser session, and when it ends on its own.

Invariant: a ``StaffSession`` is only created by a successful sign-in (password or single sign-on) and is
over once ``ASSISTANT_STAFF_IDLE_MINUTES`` (default 30) pass without activity; the app drops it then, and
also when the account is removed or its password changed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from assistant.settings import number_from_env

ENV_IDLE_MINUTES = "ASSISTANT_STAFF_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 30.0
PASSWORD, SINGLE_SIGN_ON = "password", "single sign-on"


def idle_minutes_from_env(environ: Mapping[str, str] = os.environ) -> float:
    """``ASSISTANT_STAFF_IDLE_MINUTES``: a positive number of minutes, 30 when unset."""
    return number_from_env(ENV_IDLE_MINUTES, DEFAULT_IDLE_MINUTES, 0, "minutes", environ, above_minimum=True)


@dataclass
class StaffSession:
    """Who is signed in, how, and when they last did anything (seconds since the epoch)."""

    name: str
    method: str = PASSWORD
    #: For password sign-ins: when the password was set, so that a change ends this session.
    password_changed: float | None = None
    last_active: float = field(default_factory=time.time)

    def is_idle(self, idle_minutes: float, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return now - self.last_active > idle_minutes * 60.0

    def touch(self, now: float | None = None) -> None:
        self.last_active = time.time() if now is None else now
