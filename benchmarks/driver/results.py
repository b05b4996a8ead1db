"""What a benchmark run records, and the medians and ratios computed from it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from benchmarks.driver.frameworks import BASELINE


@dataclass
class Measurement:
    """One wrk run of one endpoint of one framework, in one round."""

    framework: str
    endpoint: str
    round: int
    requests: int = 0
    rps: float = 0.0
    p99_ms: float = 0.0
    cpu_us_per_request: float = 0.0
    non_2xx: int = 0
    socket_errors: int = 0
    error: str | None = None


@dataclass
class FrameworkReport:
    """Everything known about one framework besides its measurements."""

    name: str
    interface: str
    status: str = "ok"
    """``ok``, ``install failed``, ``import failed`` or ``startup failed``."""
    problem: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    import_us: int | None = None
    idle_rss_kib: list[int] = field(default_factory=list)
    """Worker RSS right after startup and one request per endpoint, one sample per round."""
    failed_checks: dict[str, str] = field(default_factory=dict)
    """Endpoint name → why its answer was wrong (such endpoints are not measured)."""


@dataclass
class Summary:
    """Medians over rounds for one framework and endpoint, with ratios to the baseline."""

    rps: float
    p99_ms: float
    cpu_us_per_request: float
    rounds: int
    rps_ratio: float | None = None
    cpu_ratio: float | None = None
    flagged: list[str] = field(default_factory=list)
    """Why these numbers deserve doubt (errors or non-2xx answers during the runs)."""


def summarize(measurements: list[Measurement]) -> dict[str, dict[str, Summary]]:
    """Return endpoint → framework → medians of the successful runs, with baseline ratios."""
    grouped: dict[str, dict[str, list[Measurement]]] = {}
    for m in measurements:
        grouped.setdefault(m.endpoint, {}).setdefault(m.framework, []).append(m)
    summary: dict[str, dict[str, Summary]] = {}
    for endpoint, by_framework in grouped.items():
        rows: dict[str, Summary] = {}
        for framework, runs in by_framework.items():
            ok = [m for m in runs if m.error is None]
            if not ok:
                continue
            flagged = [m.error for m in runs if m.error is not None]
            flagged += [
                f"round {m.round}: {m.non_2xx} non-2xx, {m.socket_errors} socket errors"
                for m in ok
                if m.non_2xx or m.socket_errors
            ]
            rows[framework] = Summary(
                rps=statistics.median(m.rps for m in ok),
                p99_ms=statistics.median(m.p99_ms for m in ok),
                cpu_us_per_request=statistics.median(m.cpu_us_per_request for m in ok),
                rounds=len(ok),
                flagged=flagged,
            )
        base = rows.get(BASELINE)
        if base is not None:
            for row in rows.values():
                row.rps_ratio = row.rps / base.rps if base.rps else None
                row.cpu_ratio = (
                    row.cpu_us_per_request / base.cpu_us_per_request
                    if base.cpu_us_per_request
                    else None
                )
        summary[endpoint] = rows
    return summary


def as_json(summary: dict[str, dict[str, Summary]]) -> dict[str, Any]:
    """Return ``summary`` as plain JSON-ready dicts."""
    return {
        endpoint: {name: vars(row) for name, row in rows.items()}
        for endpoint, rows in summary.items()
    }
