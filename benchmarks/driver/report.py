"""Write a run's results: ``<name>.md`` for people, ``<name>.json`` for tools.

``name`` is ``RESULTS`` unless ``--output`` gives another.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from benchmarks.driver import cpus, footprint
from benchmarks.driver.bench import Settings, idle_rss_mib
from benchmarks.driver.endpoints import Endpoint
from benchmarks.driver.frameworks import BASELINE
from benchmarks.driver.paths import results_paths
from benchmarks.driver.results import FrameworkReport, Measurement, Summary, as_json
from benchmarks.driver.server import GRANIAN_OPTIONS


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _endpoint_table(
    endpoint: Endpoint, rows: dict[str, Summary], order: list[str], loop: str
) -> list[str]:
    lines = [
        f"### {endpoint.name} — `{endpoint.method} {endpoint.path}` ({loop})",
        "",
        "| framework | req/s | ratio | p99 ms | CPU µs/req | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in order:
        row = rows.get(name)
        if not endpoint.offered_by(name):
            lines.append(f"| {name} | — | — | — | — | — |")
            continue
        if row is None:
            continue
        mark = " ⚠" if row.flagged else ""
        lines.append(
            f"| {name}{mark} | {row.rps:,.0f} | {_ratio(row.rps_ratio)} | {row.p99_ms:.2f} "
            f"| {row.cpu_us_per_request:.1f} | {_ratio(row.cpu_ratio)} |"
        )
    missing = [name for name in order if name not in rows and endpoint.offered_by(name)]
    if missing:
        lines += ["", f"Not measured: {', '.join(missing)} (see Problems)."]
    return [*lines, ""]


def _ratio_overview(
    selected: list[Endpoint],
    summary: dict[str, dict[str, Summary]],
    order: list[str],
    metric: str,
) -> list[str]:
    """Tabulate one ratio (``rps_ratio`` or ``cpu_ratio``) per framework and endpoint."""
    names = [ep.name for ep in selected]
    lines = [
        "| framework | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for name in order:
        cells = []
        for ep in selected:
            row = summary.get(ep.name, {}).get(name)
            offered = ep.offered_by(name)
            cells.append(_ratio(getattr(row, metric) if row else None) if offered else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _footprint_table(reports: dict[str, FrameworkReport]) -> list[str]:
    lines = [
        "| framework | import time ms | idle worker RSS MiB |",
        "|---|---:|---:|",
    ]
    for report in reports.values():
        imp = "-" if report.import_us is None else f"{report.import_us / 1000:.1f}"
        rss = idle_rss_mib(report)
        lines.append(f"| {report.name} | {imp} | {'-' if rss is None else f'{rss:.1f}'} |")
    return [*lines, ""]


def _versions_table(reports: dict[str, FrameworkReport]) -> list[str]:
    lines = ["| framework | interface | status | versions |", "|---|---|---|---|"]
    for report in reports.values():
        versions = ", ".join(f"{k} {v}" for k, v in report.versions.items()) or "-"
        lines.append(f"| {report.name} | {report.interface} | {report.status} | {versions} |")
    return [*lines, ""]


def _problems(
    reports: dict[str, FrameworkReport], summary: dict[str, dict[str, Summary]]
) -> list[str]:
    lines = []
    for report in reports.values():
        if report.problem:
            lines += [f"- **{report.name}: {report.status}**", "", "  ```"]
            lines += [f"  {line}" for line in report.problem.splitlines()[-12:]]
            lines += ["  ```"]
        for endpoint, why in report.failed_checks.items():
            lines.append(f"- **{report.name} {endpoint}**: wrong answer, not measured: {why}")
    for endpoint, rows in summary.items():
        for name, row in rows.items():
            for why in row.flagged:
                first = why.splitlines()[0]
                lines.append(f"- {name} {endpoint} ⚠: {first}")
    return lines or ["None."]


@dataclass(frozen=True)
class RunInfo:
    """How the run was made: command, settings, wrk, and the machine's load around it."""

    command: str
    settings: Settings
    wrk_version: str
    load_before: str
    load_after: str


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages, as /proc/loadavg gives them."""
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def write(
    run: RunInfo,
    selected: list[Endpoint],
    reports: dict[str, FrameworkReport],
    measurements: list[Measurement],
    summary: dict[str, dict[str, Summary]],
    name: str,
) -> None:
    """Write ``<name>.md`` and ``<name>.json`` next to the driver."""
    settings = run.settings
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    order = list(reports)
    machine = f"{os.cpu_count()} cores, {_cpu_model()}, Linux {platform.release()}"
    base_versions = reports[BASELINE].versions if BASELINE in reports else {}
    md = [
        "# Benchmark results",
        "",
        f"Generated {when} by:",
        "",
        f"    {run.command}",
        "",
        f"- Machine: {machine}; load average {run.load_before} before the run, "
        f"{run.load_after} after (the machine is shared: compare ratios, not absolutes).",
        f"- Python {base_versions.get('python', platform.python_version())}, "
        f"Granian {base_versions.get('granian', '?')} (the same version in every venv).",
        f"- Server: `granian --interface rsgi|asgi {' '.join(GRANIAN_OPTIONS)} --no-ws "
        f"--loop {settings.loop}` — identical for every framework but the interface each one "
        "speaks.",
        f"- Load: {run.wrk_version}, `-t{settings.threads} -c{settings.connections} --latency`, "
        f"{settings.duration_s} s per run after a {settings.warmup_s} s warm-up, "
        f"{settings.rounds} round(s), frameworks interleaved per round and their order "
        "rotated by one each round; "
        f"{cpus.describe()}.",
        "- req/s, p99 and CPU are medians over rounds. A ratio compares with the raw RSGI app "
        "in this same run (req/s: higher is better, 1.00 = the ceiling; CPU: lower is better). "
        "CPU µs/req is user+system time of the server's whole process tree, read from /proc "
        "before and after the run, divided by the requests served. ⚠ marks numbers with errors "
        "(see Problems).",
        "",
        f"## Server CPU per request, as a ratio to raw RSGI, {settings.loop} loop "
        "(lower is better)",
        "",
        "The steadier measure on a shared machine: other load slows every server's req/s,",
        "but changes little the CPU time each request costs.",
        "",
        *_ratio_overview(selected, summary, order, "cpu_ratio"),
        f"## Throughput, as a ratio to raw RSGI, {settings.loop} loop (higher is better)",
        "",
        *_ratio_overview(selected, summary, order, "rps_ratio"),
        "## Per endpoint",
        "",
    ]
    for endpoint in selected:
        md += _endpoint_table(endpoint, summary.get(endpoint.name, {}), order, settings.loop)
    md += [
        "## Footprint",
        "",
        'Import time: `python -X importtime -c "<import>"`, the cumulative µs of the top-level '
        "imports the bare interpreter does not make, median of "
        f"{footprint.IMPORTTIME_RUNS} fresh processes. Idle RSS: "
        "the Granian worker after startup and one request per endpoint.",
        "",
        *_footprint_table(reports),
        "## Versions",
        "",
        *_versions_table(reports),
        "## Problems",
        "",
        *_problems(reports, summary),
        "",
    ]
    md_path, json_path = results_paths(name)
    md_path.write_text("\n".join(md))
    data: dict[str, Any] = {
        "generated": when,
        "command": run.command,
        "machine": machine,
        "load_average": {"before": run.load_before, "after": run.load_after},
        "settings": asdict(settings),
        "wrk": run.wrk_version,
        "granian_options": list(GRANIAN_OPTIONS),
        "frameworks": {name: asdict(report) for name, report in reports.items()},
        "summary": as_json(summary),
        "measurements": [asdict(m) for m in measurements],
    }
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
