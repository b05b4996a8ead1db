"""Startup checks of the external services (Redis) an app's components depend on.

A component that talks to a server declares it with ``service_checks()``, a list
of ``ServiceCheck``: what the service is (named by its address, never a password),
a coroutine function that pings it, and what degrades while it is down, or None
when the feature cannot work without it. The app runs the checks of its own
components once at startup (``run_service_checks``): an unreachable service that
can degrade is one warning naming it and the consequence; one that cannot fails
startup, so the server exits instead of answering 500s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, NamedTuple

#: Seconds each ping may take before the service counts as unreachable.
PING_TIMEOUT = 2.0


class ServiceCheck(NamedTuple):
    """One external service a component needs, and how to tell it is there."""

    #: e.g. "Redis session storage at redis://127.0.0.1:6379/0"
    what: str
    ping: Callable[[], Awaitable[Any]]
    #: What degrades while it is down; None: the feature cannot work without it.
    degraded: str | None


class ServiceUnavailableError(RuntimeError):
    """A service a feature cannot work without did not answer at startup."""


def checks_of(component: Any) -> list[ServiceCheck]:
    """The checks ``component`` declares (none for components without services)."""
    declare = getattr(component, "service_checks", None)
    return list(declare()) if callable(declare) else []


#: The attribute a decorated handler lists its service-backed components under.
COMPONENTS = "__gobstopper_components__"


def declare_components(handler: Callable[..., Any], *components: Any) -> None:
    """Record on a decorated handler the components it uses (limiters, stores), so the
    app's startup check finds their services."""
    handler.__dict__[COMPONENTS] = getattr(handler, COMPONENTS, ()) + components


def components_of(handler: Callable[..., Any]) -> tuple[Any, ...]:
    """The components ``declare_components`` recorded on ``handler``."""
    return tuple(getattr(handler, COMPONENTS, ()))


def redis_address(client: Any) -> str:
    """Where a redis-py client connects, for messages (never its password)."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    host, port = kwargs.get("host", "localhost"), kwargs.get("port", 6379)
    return f"redis://{host}:{port}/{kwargs.get('db', 0)}"


async def run_service_checks(
    checks: Iterable[ServiceCheck], timeout: float = PING_TIMEOUT
) -> list[str]:
    """Ping every distinct service at once; return what was unreachable.

    Raises ``ServiceUnavailableError`` naming each unreachable service whose
    feature cannot degrade; logs one warning per one that can.
    """
    unique = {check.what: check for check in checks}
    if not unique:
        return []
    # PERF: imported here: an app whose components use no service never loads them.
    import asyncio
    import logging

    logger = logging.getLogger("gobstopper.services")
    outcomes = await asyncio.gather(
        *(asyncio.wait_for(check.ping(), timeout) for check in unique.values()),
        return_exceptions=True,
    )
    fatal: list[str] = []
    failed: list[str] = []
    for check, outcome in zip(unique.values(), outcomes, strict=True):
        if not isinstance(outcome, BaseException):
            continue
        timed_out = isinstance(outcome, TimeoutError)
        reason = f"no answer within {timeout:g}s" if timed_out else repr(outcome)
        failed.append(check.what)
        if check.degraded is None:
            fatal.append(f"{check.what} is unreachable ({reason})")
        else:
            logger.warning(
                "%s is unreachable at startup (%s): %s", check.what, reason, check.degraded
            )
    if fatal:
        raise ServiceUnavailableError(
            "; ".join(fatal) + ". Start the server it names or fix its URL; this feature "
            "cannot work without it"
        )
    return failed
