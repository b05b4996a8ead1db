"""Fixtures for the utils tests: a clock the limiters and stores read."""

from __future__ import annotations

import pytest

from tests.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A clock at 0 that moves only when the test advances it."""
    return FakeClock()
