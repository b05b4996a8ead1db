"""Run the benchmark: prepare every framework, then measure them interleaved in rounds.

Round r serves each framework in turn, so a slow phase of a shared machine hurts every
framework alike instead of whichever happened to run then; the order rotates by one each
round (A B C, then B C A, then C A B …), so no framework always runs first, or always
right after the same neighbour.
Within a server's turn each endpoint gets a short warm-up run, then the measured run,
bracketed by /proc readings of the server's CPU time.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.driver import endpoints as endpoints_mod
from benchmarks.driver import footprint, proctree, venvs, wrk
from benchmarks.driver.endpoints import Endpoint
from benchmarks.driver.frameworks import Framework
from benchmarks.driver.paths import VENVS_DIR
from benchmarks.driver.results import FrameworkReport, Measurement
from benchmarks.driver.server import Server, ServerError, serve

LOG_DIR = VENVS_DIR / "logs"


@dataclass(frozen=True)
class Settings:
    """How long and how hard to load each endpoint."""

    rounds: int
    duration_s: int
    warmup_s: int
    connections: int
    threads: int
    loop: str
    """Granian's ``--loop`` for every server: ``uvloop`` (production) or ``asyncio``."""


def prepare(framework: Framework) -> FrameworkReport:
    """Install ``framework`` if needed and read its versions and import time."""
    report = FrameworkReport(framework.name, framework.interface)
    try:
        venvs.ensure(framework)
        report.versions = venvs.versions(framework)
    except venvs.SetupError as exc:
        report.status, report.problem = "install failed", str(exc)
        return report
    if framework.import_statement:
        try:
            report.import_us = footprint.import_microseconds(
                venvs.python_for(framework), framework.import_statement
            )
        except RuntimeError as exc:
            report.status, report.problem = "import failed", str(exc)
    return report


def _load(
    wrk_path: str, url: str, seconds: int, script: Path | None, settings: Settings
) -> wrk.WrkResult:
    return wrk.run(
        wrk_path,
        url,
        duration_s=seconds,
        connections=settings.connections,
        threads=settings.threads,
        script=script,
    )


def _measure(
    server: Server, wrk_path: str, endpoint: Endpoint, script: Path | None, settings: Settings
) -> tuple[wrk.WrkResult, float]:
    """Warm up, then load ``endpoint``; return wrk's result and the server CPU µs spent."""
    url = f"http://127.0.0.1:{server.port}{endpoint.path}"
    if settings.warmup_s:
        _load(wrk_path, url, settings.warmup_s, script, settings)
    before = proctree.cpu_microseconds(server.pid)
    result = _load(wrk_path, url, settings.duration_s, script, settings)
    return result, proctree.cpu_microseconds(server.pid) - before


def _check_all(report: FrameworkReport, server: Server, selected: list[Endpoint]) -> None:
    """Request each endpoint once; note in ``report`` every wrong answer."""
    for endpoint in selected:
        problem = endpoints_mod.check(server.port, endpoint)
        if problem is not None:
            report.failed_checks.setdefault(endpoint.name, problem)


def _serve_turn(
    framework: Framework,
    report: FrameworkReport,
    server: Server,
    round_no: int,
    plan: list[tuple[Endpoint, Path | None]],
    settings: Settings,
    wrk_path: str,
) -> list[Measurement]:
    """Check, then measure, every endpoint of one running server that its app offers."""
    plan = [(ep, script) for ep, script in plan if ep.offered_by(framework.name)]
    _check_all(report, server, [ep for ep, _ in plan if not ep.only])
    # Idle RSS after the endpoints every app answers, before those only some offer:
    # /enqueue opens a task database, which would make the footprints incomparable.
    report.idle_rss_kib.append(sum(map(proctree.rss_kib, proctree.descendants(server.pid))))
    _check_all(report, server, [ep for ep, _ in plan if ep.only])
    measurements = []
    for endpoint, script in plan:
        if endpoint.name in report.failed_checks:
            continue
        m = Measurement(framework.name, endpoint.name, round_no)
        try:
            result, cpu_us = _measure(server, wrk_path, endpoint, script, settings)
        except wrk.WrkError as exc:
            m.error = f"round {round_no}: {exc}"
        else:
            m.requests, m.rps, m.p99_ms = result.requests, result.rps, result.p99_ms
            m.non_2xx, m.socket_errors = result.non_2xx, result.socket_errors
            m.cpu_us_per_request = cpu_us / result.requests if result.requests else 0.0
        if not server.alive():
            m.error = f"round {round_no}: server died during the run:\n{server.log_tail()}"
        measurements.append(m)
        print(_progress(m), flush=True)
        if not server.alive():
            break
    return measurements


def _progress(m: Measurement) -> str:
    head = f"  round {m.round} {m.framework:<11} {m.endpoint:<10}"
    if m.error:
        return f"{head} FAILED: {m.error.splitlines()[0]}"
    return (
        f"{head} {m.rps:>10.0f} req/s  p99 {m.p99_ms:7.2f} ms  "
        f"{m.cpu_us_per_request:7.1f} CPU µs/req"
    )


def rotated(frameworks: list[Framework], shift: int) -> list[Framework]:
    """``frameworks`` started ``shift`` places later, wrapping around (the order of a round)."""
    if not frameworks:
        return []
    shift %= len(frameworks)
    return frameworks[shift:] + frameworks[:shift]


def run(
    frameworks: list[Framework],
    selected: list[Endpoint],
    settings: Settings,
    wrk_path: str,
    reports: dict[str, FrameworkReport],
) -> list[Measurement]:
    """Measure every runnable framework, interleaved in rounds; return all measurements.

    A framework that fails to start is marked in its report and skipped from then on.
    """
    measurements: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="gobstopper-bench-") as tmp:
        plan = [(ep, wrk.lua_script(ep, Path(tmp))) for ep in selected]
        for round_no in range(1, settings.rounds + 1):
            print(f"round {round_no}/{settings.rounds}", flush=True)
            for framework in rotated(frameworks, round_no - 1):
                report = reports[framework.name]
                if report.status != "ok":
                    continue
                try:
                    with serve(
                        venvs.granian_for(framework),
                        framework.interface,
                        settings.loop,
                        framework.target,
                        framework.env,
                        LOG_DIR / f"{framework.name}.log",
                    ) as server:
                        measurements += _serve_turn(
                            framework, report, server, round_no, plan, settings, wrk_path
                        )
                except ServerError as exc:
                    report.status, report.problem = "startup failed", str(exc)
                    print(f"  {framework.name}: startup failed", flush=True)
    return measurements


def idle_rss_mib(report: FrameworkReport) -> float | None:
    """Return the median idle worker RSS in MiB, if it was measured."""
    if not report.idle_rss_kib:
        return None
    return statistics.median(report.idle_rss_kib) / 1024
