"""Write the WebSocket run's results: ``RESULTS-ws.md`` for people, ``.json`` for tools."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from benchmarks.driver import cpus
from benchmarks.driver.frameworks import BASELINE
from benchmarks.driver.paths import results_paths
from benchmarks.driver.report import _cpu_model
from benchmarks.ws.bench import FIGURES, Measurement, Settings
from benchmarks.ws.server import GRANIAN_OPTIONS

RESULTS_NAME = "RESULTS-ws"
TARGET_ECHO_RATIO = 0.85
Summary = dict[str, dict[str, dict[str, dict[str, float]]]]


@dataclass(frozen=True)
class RunInfo:
    """What the report says about how the run was made."""

    command: str
    source: str
    """The checkout Gobstopper's venv was built from."""
    settings: Settings
    skipped_loops: list[str]
    versions: dict[str, dict[str, str]]
    load_before: str
    load_after: str
    minutes: float
    """How long the rounds took."""


def _fmt(value: float | None, pattern: str = "{:,.0f}") -> str:
    return "-" if value is None else pattern.format(value)


def _ratio(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else value / base


def _fanout_table(rows: dict[str, dict[str, float]], loop: str) -> list[str]:
    if not rows:
        return []
    raw = rows.get(BASELINE, {})
    lines = [
        f"### Fan-out, loop `{loop}`",
        "",
        "| framework | deliveries/s | ratio to raw | p50 ms | p99 ms | server CPU µs/delivery "
        "| server busy | client busy | others on server core |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        speed = _ratio(row["deliveries_per_s"], raw.get("deliveries_per_s"))
        lines.append(
            f"| {name} | {_fmt(row['deliveries_per_s'])} | {_fmt(speed, '{:.2f}')} "
            f"| {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
            f"| {row['server_cpu_us_per_delivery']:.1f} | {row['server_cpu_share']:.0%} "
            f"| {row['client_cpu_share']:.0%} | {row['others_on_server_core']:.0%} |"
        )
    return [*lines, ""]


def _echo_table(rows: dict[str, dict[str, float]], loop: str) -> list[str]:
    if not rows:
        return []
    raw = rows.get(BASELINE, {})
    lines = [
        f"### Echo, loop `{loop}`",
        "",
        "| framework | messages/s | ratio to raw | p99 RTT ms | server CPU µs/message "
        "| CPU ratio to raw | server busy | client busy | others on server core |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        speed = _ratio(row["messages_per_s"], raw.get("messages_per_s"))
        cpu = _ratio(row["server_cpu_us_per_message"], raw.get("server_cpu_us_per_message"))
        lines.append(
            f"| {name} | {_fmt(row['messages_per_s'])} | {_fmt(speed, '{:.2f}')} "
            f"| {row['p99_ms']:.1f} | {row['server_cpu_us_per_message']:.1f} "
            f"| {_fmt(cpu, '{:.2f}')} | {row['server_cpu_share']:.0%} "
            f"| {row['client_cpu_share']:.0%} | {row['others_on_server_core']:.0%} |"
        )
    return [*lines, ""]


def _target(
    loop: str, target: str, measured: float | None, by_cpu: float | None, need: float
) -> dict[str, Any]:
    """One target row: a ratio from throughput and one from server CPU, each against ``need``.

    A ``need`` of 1 means "ahead": the ratio must exceed it; any other must be reached.
    """

    def met(ratio: float | None) -> bool | None:
        if ratio is None:
            return None
        return ratio > need if need == 1.0 else ratio >= need

    return {
        "loop": loop,
        "target": target,
        "throughput_ratio": measured,
        "met": met(measured),
        "cpu_ratio": by_cpu,
        "met_by_cpu": met(by_cpu),
    }


def targets(summary: Summary) -> list[dict[str, Any]]:
    """Return issue #20's WebSocket targets per loop, each judged two ways.

    By throughput (Gobstopper's messages/s over the other's, as measured) and by server
    CPU per message (the other's over Gobstopper's: the throughput ratio the two would
    have with a whole core each, which other load on the shared machine distorts less).
    """
    found: list[dict[str, Any]] = []
    for loop, benches in summary.items():
        fanout, echo = benches.get("fanout", {}), benches.get("echo", {})
        ours, ours_echo = fanout.get("gobstopper", {}), echo.get("gobstopper", {})
        for peer in ("starlette", "emmett55"):
            theirs = fanout.get(peer, {})
            found.append(
                _target(
                    loop,
                    f"fan-out deliveries/s ahead of {peer} (ratio > 1)",
                    _ratio(ours.get("deliveries_per_s"), theirs.get("deliveries_per_s")),
                    _ratio(
                        theirs.get("server_cpu_us_per_delivery"),
                        ours.get("server_cpu_us_per_delivery"),
                    ),
                    need=1.0,
                )
            )
        raw = echo.get(BASELINE, {})
        found.append(
            _target(
                loop,
                f"echo messages/s at least {TARGET_ECHO_RATIO} of raw RSGI's",
                _ratio(ours_echo.get("messages_per_s"), raw.get("messages_per_s")),
                _ratio(
                    raw.get("server_cpu_us_per_message"), ours_echo.get("server_cpu_us_per_message")
                ),
                need=TARGET_ECHO_RATIO,
            )
        )
    return found


def _rounds_table(measurements: list[Measurement]) -> list[str]:
    rounds = max((m.round for m in measurements), default=0) + 1
    cells: dict[tuple[str, str, str], list[str]] = {}
    for result in measurements:
        key = (result.loop, result.bench, result.framework)
        row = cells.setdefault(key, ["-"] * rounds)
        row[result.round] = (
            "failed" if result.error else _fmt(result.figures[FIGURES[result.bench][0]])
        )
    lines = [
        "| loop | benchmark | framework | "
        + " | ".join(f"round {n + 1}" for n in range(rounds))
        + " |",
        "|---|---|---|" + "---:|" * rounds,
    ]
    for (loop, bench, framework), row in sorted(cells.items()):
        lines.append(f"| {loop} | {bench} | {framework} | " + " | ".join(row) + " |")
    return [*lines, ""]


def _bench_lines(s: Settings) -> list[str]:
    """Say what each benchmark of the run did."""
    lines = []
    if "fanout" in s.benches:
        lines.append(
            "- Rooms: Gobstopper's `WebSocketManager.broadcast_to_room` sends to all members "
            "concurrently; the raw RSGI, Starlette and emmett55 rooms await one send after "
            "another (Starlette's and FastAPI's documented idiom), so raw RSGI is the "
            "framework-free version of that idiom, not a ceiling for fan-out."
        )
        lines.append(
            f"- Fan-out: {s.fanout.members} clients in one room; one of them sends "
            f"{s.fanout.messages:,} texts of {s.fanout.size} B, each to every member, itself "
            f"included ({s.fanout.members * s.fanout.messages:,} deliveries), with at most "
            f"{s.fanout.window} messages in flight (message k waits until message "
            f"k-{s.fanout.window} reached every member). Latency: from the send to the "
            "arrival at each member, over every delivery. Every member must get every "
            "message exactly, in order."
        )
    if "echo" in s.benches:
        lines.append(
            f"- Echo: {s.echo.connections} connections each ping-pong {s.echo.messages:,} "
            f"texts of {s.echo.size} B (one in flight per connection); messages/s counts "
            "round trips."
        )
    return lines


def _header(run: RunInfo) -> list[str]:
    s = run.settings
    versions = run.versions.get(BASELINE, {})
    skipped = (
        f" Not measured: {', '.join(run.skipped_loops)} (not importable in every venv; "
        "production runs uvloop)."
        if run.skipped_loops
        else ""
    )
    return [
        "# WebSocket benchmark results (issue #20)",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by:",
        "",
        f"    {run.command}",
        "",
        f"- Machine: {os.cpu_count()} cores, {_cpu_model()}, {platform.system()} "
        f"{platform.release()}; load average {run.load_before} before the run, "
        f"{run.load_after} after. **The machine is shared with other engineers' tests and "
        "benchmarks**: absolute figures move by tens of percent between runs; compare "
        "frameworks within one run, and prefer server CPU per message, the steadier figure.",
        f"- Python {versions.get('python', '?')}, Granian {versions.get('granian', '?')} "
        f"(the same version in every venv). Gobstopper: {run.source}.",
        "- Server: `granian --interface rsgi|asgi "
        + " ".join(GRANIAN_OPTIONS)
        + " --loop <loop>"
        + "` — identical for every app but the interface it speaks.",
        f"- Event loops: {', '.join(s.loops)}; every table names its loop.{skipped}",
        f"- {cpus.describe().replace('wrk', 'the load process')}.",
        "- Load: one separate Python process (on uvloop when installed) with a minimal asyncio "
        "WebSocket client of its own (`benchmarks/ws/wire.py`): the `websockets` package "
        "costs too much CPU per received message to outrun the servers on one core. Its CPU "
        "use is the *client busy* column: near 100 % it, not the server, sets the pace. "
        "*Others on server core*: the time CPU 0 was busy with other processes (the shared "
        "machine) during the window, which the server could not have. Each app is first "
        "checked with the `websockets` package: exact texts (ASCII, multi-byte UTF-8, 300 B "
        "and 70 kB) delivered to every room member in order, and echoed.",
        *_bench_lines(s),
        f"- {s.rounds} interleaved round(s) per loop, a fresh server per app and round, the "
        f"apps' order rotated each round ({run.minutes:.1f} min in all, kept short for the "
        "shared machine); figures are medians over rounds. Server CPU: "
        "user+system time of Granian's whole process tree from /proc over the measured window.",
        "",
    ]


def write(run: RunInfo, measurements: list[Measurement], summary: Summary) -> tuple[str, str]:
    """Write the Markdown and JSON results; return their paths."""
    md_path, json_path = results_paths(RESULTS_NAME)
    lines = _header(run)
    lines += [
        "## Targets",
        "",
        "Gobstopper's ratio to the other app, from measured throughput and from server CPU "
        "per message (what each would do with a whole core: the steadier of the two here).",
        "",
        "| loop | target | by throughput | met | by server CPU | met |",
        "|---|---|---:|---|---:|---|",
    ]
    verdict = {True: "yes", False: "**no**", None: "-"}
    for t in targets(summary):
        if t["throughput_ratio"] is None and t["cpu_ratio"] is None:
            continue
        lines.append(
            f"| {t['loop']} | {t['target']} | {_fmt(t['throughput_ratio'], '{:.3f}')} "
            f"| {verdict[t['met']]} | {_fmt(t['cpu_ratio'], '{:.3f}')} "
            f"| {verdict[t['met_by_cpu']]} |"
        )
    lines.append("")
    for loop, benches in summary.items():
        lines += _fanout_table(benches.get("fanout", {}), loop)
        lines += _echo_table(benches.get("echo", {}), loop)
    lines += ["## Every round (deliveries/s or messages/s)", "", *_rounds_table(measurements)]
    failures = [m for m in measurements if m.error]
    if failures:
        lines += ["## Problems", ""]
        lines += [
            f"- {m.loop} round {m.round + 1} {m.framework} {m.bench}: {m.error}" for m in failures
        ]
        lines.append("")
    lines += ["## Versions", "", "| app | versions |", "|---|---|"]
    for name, found in run.versions.items():
        lines.append(f"| {name} | " + ", ".join(f"{k} {v}" for k, v in found.items()) + " |")
    md_path.write_text("\n".join(lines) + "\n")
    document = {
        "command": run.command,
        "source": run.source,
        "settings": asdict(run.settings),
        "skipped_loops": run.skipped_loops,
        "load_average": {"before": run.load_before, "after": run.load_after},
        "minutes": run.minutes,
        "versions": run.versions,
        "targets": targets(summary),
        "summary": summary,
        "measurements": [asdict(m) for m in measurements],
    }
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    return str(md_path), str(json_path)
