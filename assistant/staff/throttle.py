"""How long a sign-in waits after failures: free tries first, then delays that double up to a ceiling.

Invariant: ``Throttle.wait_left`` is zero for the first ``FREE_TRIES`` failures; after that every further
failure doubles the wait before the next try is even checked, up to ``MAX_DELAY_SECONDS``. A success resets
it; failures older than ``FORGET_AFTER_SECONDS`` are forgotten. Pure arithmetic: the accounts store keeps one
per name (shared by every server process), the app one per browser session.
"""

from __future__ import annotations

from dataclasses import dataclass

FREE_TRIES = 5
FIRST_DELAY_SECONDS = 2.0
MAX_DELAY_SECONDS = 15 * 60.0
FORGET_AFTER_SECONDS = 24 * 3600.0


def delay_after(failures: int) -> float:
    """Seconds the next try waits after ``failures`` failed ones in a row."""
    if failures < FREE_TRIES:
        return 0.0
    return min(FIRST_DELAY_SECONDS * 2.0 ** (failures - FREE_TRIES), MAX_DELAY_SECONDS)


@dataclass
class Throttle:
    """Failed sign-ins in a row and when the last one happened (seconds since the epoch)."""

    failures: int = 0
    last_failure: float = 0.0

    def current_failures(self, now: float) -> int:
        return 0 if now - self.last_failure > FORGET_AFTER_SECONDS else self.failures

    def wait_left(self, now: float) -> float:
        """Seconds before the next try may be checked; 0 when it may be checked now."""
        return max(0.0, self.last_failure + delay_after(self.current_failures(now)) - now)

    def failed(self, now: float) -> None:
        self.failures = self.current_failures(now) + 1
        self.last_failure = now

    def succeeded(self) -> None:
        self.failures, self.last_failure = 0, 0.0


def wait_in_units(seconds: float) -> tuple[int, str]:
    """(8, 's') for an 8 s wait; (3, 'min') for long waits, rounded up: what ``wait_message`` (and the app, in the
    reader's language) says."""
    whole = max(1, int(seconds + 0.999))
    return (whole, "s") if whole < 120 else ((whole + 59) // 60, "min")


def wait_message(seconds: float) -> str:
    """'Too many failed sign-ins: try again in 8 s.' (or minutes, for long waits)."""
    amount, unit = wait_in_units(seconds)
    return f"Too many failed sign-ins: try again in {amount} {unit}."
