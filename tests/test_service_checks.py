"""run_service_checks: reachable services pass, degradable ones warn, the rest fail."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gobstopper.service_checks import (
    ServiceCheck,
    ServiceUnavailableError,
    components_of,
    declare_components,
    run_service_checks,
)


async def ok() -> bool:
    return True


async def refused() -> None:
    raise ConnectionRefusedError("connection refused")


async def silent() -> None:
    await asyncio.sleep(10)


async def test_reachable_services_pass_quietly(caplog):
    with caplog.at_level(logging.WARNING):
        assert await run_service_checks([ServiceCheck("A at x", ok, None)]) == []
    assert caplog.records == []


async def test_an_unreachable_service_that_degrades_is_one_warning_naming_it(caplog):
    checks = [ServiceCheck("Redis limit at redis://h:1/0", refused, "calls pass")] * 3
    with caplog.at_level(logging.WARNING, logger="gobstopper.services"):
        assert await run_service_checks(checks) == ["Redis limit at redis://h:1/0"]
    [record] = caplog.records
    assert "Redis limit at redis://h:1/0 is unreachable" in record.getMessage()
    assert "calls pass" in record.getMessage() and "connection refused" in record.getMessage()


async def test_a_service_a_feature_cannot_lose_fails_and_a_silent_one_times_out():
    checks = [
        ServiceCheck("Redis task backend at redis://h:1/0", refused, None),
        ServiceCheck("Redis task backend at redis://h:2/0", silent, None),
        ServiceCheck("fine", ok, None),
    ]
    with pytest.raises(ServiceUnavailableError) as caught:
        await asyncio.wait_for(run_service_checks(checks, timeout=0.1), 5)
    message = str(caught.value)
    assert "redis://h:1/0 is unreachable" in message and "redis://h:2/0" in message
    assert "no answer within 0.1s" in message and "fine" not in message


def test_decorators_record_components_through_each_other():
    def handler() -> None: ...

    declare_components(handler, "limiter")
    declare_components(handler, "store")
    assert components_of(handler) == ("limiter", "store")
    assert components_of(ok) == ()
