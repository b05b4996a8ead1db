"""A clock that moves only when a test moves it.

Rate limiters, idempotency stores and session stores take a ``clock``
callable; handing them a ``FakeClock`` makes expiry and refill exact.
"""

from __future__ import annotations


class FakeClock:
    """Returns ``now``; ``advance`` (or setting ``now``) moves it."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
