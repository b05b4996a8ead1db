"""Find the external services an app's own components use, and check them at startup.

Components are found where the app holds them: app and blueprint middleware
(route-level middleware included), handlers wrapped by ``@rate_limit`` or
``@use_idempotency`` (``service_checks.declare_components``), and the task
queue's storage when tasks are enabled. Each declares its services with
``service_checks()``; see ``gobstopper.service_checks`` for what a failure means.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from gobstopper.service_checks import (
    ServiceCheck,
    checks_of,
    components_of,
    run_service_checks,
)

if TYPE_CHECKING:
    from gobstopper.core.app import Gobstopper
    from gobstopper.core.scaffold import Scaffold


def _scaffold_components(scaffold: Scaffold) -> Iterator[Any]:
    """Middleware and handler components of ``scaffold`` and its blueprints."""
    for spec in scaffold._middleware:
        yield spec.middleware
    for route in scaffold._routes:
        yield from route.middleware
        yield from components_of(route.handler)
    for blueprint, _prefix in scaffold._blueprints:
        yield from _scaffold_components(blueprint)


def app_service_checks(app: Gobstopper) -> list[ServiceCheck]:
    """Every service check declared by ``app``'s own components."""
    components = list(_scaffold_components(app))
    queue = app._task_queue
    if queue is not None and queue.enabled:
        components.append(getattr(queue, "storage", None))  # a stand-in queue may have none
    return [check for component in components for check in checks_of(component)]


async def check_app_services(app: Gobstopper) -> None:
    """Ping the services of ``app``'s components (startup step; see the module doc)."""
    await run_service_checks(app_service_checks(app))
