"""Run the rounds: per loop and round, every app in rotated order, checked then measured.

Each app gets a fresh server per round: it is checked with the ``websockets`` package,
then measured by the load process (``benchmarks/ws/client.py``) pinned to the load core,
echo first, then fan-out. A failure of one app is recorded and the run goes on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from statistics import median
from typing import Any

from benchmarks.driver.cpus import LOAD_CORE, pinned
from benchmarks.driver.paths import ROOT, VENVS_DIR
from benchmarks.driver.server import ServerError
from benchmarks.ws import check, server
from benchmarks.ws.echo import EchoSettings
from benchmarks.ws.fanout import FanoutSettings
from benchmarks.ws.peers import Peer

CLIENT_GRACE_S = 30.0
"""How long past its own timeout the load process may run before it is killed."""
LOG_DIR = VENVS_DIR / "logs"
FIGURES = {
    "echo": ("messages_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_message"),
    "fanout": ("deliveries_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_delivery"),
}
SHARES = ("server_cpu_share", "client_cpu_share", "others_on_server_core")


@dataclass(frozen=True)
class Settings:
    """Everything a run repeats."""

    rounds: int
    loops: list[str]
    benches: list[str]
    """``echo``, ``fanout`` or both, run in that order."""
    echo: EchoSettings
    fanout: FanoutSettings

    def load(self, bench: str) -> EchoSettings | FanoutSettings:
        """Return the settings of ``bench``."""
        return self.echo if bench == "echo" else self.fanout


@dataclass
class Measurement:
    """One benchmark of one app in one round: its figures, or why there are none."""

    loop: str
    round: int
    framework: str
    bench: str
    figures: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def _settings_args(settings: EchoSettings | FanoutSettings) -> list[str]:
    return [f"--{name.replace('_', '-')}={value}" for name, value in asdict(settings).items()]


def _load(
    bench: str, settings: EchoSettings | FanoutSettings, port: int, pid: int
) -> dict[str, Any]:
    """Run the load process for ``bench``; return its figures or raise ``RuntimeError``."""
    client = [sys.executable, "-m", "benchmarks.ws.client", bench]
    command = pinned(
        [*client, f"--port={port}", f"--server-pid={pid}", *_settings_args(settings)],
        LOAD_CORE,
    )
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=settings.timeout_s + CLIENT_GRACE_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"load process killed after {exc.timeout:.0f} s") from exc
    if not done.stdout.strip():
        raise RuntimeError(f"load process exited {done.returncode}: {done.stderr.strip()[-500:]}")
    figures: dict[str, Any] = json.loads(done.stdout)
    if figures["errors"]:
        raise RuntimeError("; ".join(figures["errors"][:3]))
    return figures


def _measure_app(peer: Peer, loop: str, number: int, settings: Settings) -> list[Measurement]:
    """Serve ``peer`` once, check it, and run both benchmarks against it."""
    results = [Measurement(loop, number, peer.name, bench) for bench in settings.benches]
    log_path = LOG_DIR / f"ws-{peer.name}-{loop}.log"
    try:
        env = peer.framework.env
        with server.serve(
            peer.granian, peer.framework.interface, peer.target, loop, env, log_path
        ) as running:
            check.check_app(running.port, f"check-{number}")
            for result in results:
                load = settings.load(result.bench)
                try:
                    result.figures = _load(result.bench, load, running.port, running.pid)
                except RuntimeError as exc:
                    result.error = str(exc)
    except (ServerError, check.CheckFailed, OSError) as exc:
        for result in results:
            result.error = result.error or f"{type(exc).__name__}: {exc}"
    return results


def run(peers: list[Peer], settings: Settings, progress: Any = print) -> list[Measurement]:
    """Run every round of every loop; the apps' order rotates by one each round."""
    measurements: list[Measurement] = []
    for loop in settings.loops:
        for number in range(settings.rounds):
            shift = number % len(peers)
            for peer in peers[shift:] + peers[:shift]:
                for result in _measure_app(peer, loop, number, settings):
                    progress(_describe(result))
                    measurements.append(result)
    return measurements


def _describe(result: Measurement) -> str:
    head = f"[{result.loop} round {result.round + 1}] {result.framework} {result.bench}: "
    if result.error:
        return head + "FAILED " + result.error
    main, *_ = FIGURES[result.bench]
    figures = result.figures
    return (
        head + f"{figures[main]:,.0f}/s p99 {figures['p99_ms']:.1f} ms, "
        f"server {figures['server_cpu_share']:.0%} client {figures['client_cpu_share']:.0%} busy, "
        f"others {figures['others_on_server_core']:.0%} of the server core"
    )


def summarize(measurements: list[Measurement]) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Return loop → bench → framework → figure → median over the rounds that succeeded."""
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for result in measurements:
        if not result.error:
            key = (result.loop, result.bench, result.framework)
            grouped.setdefault(key, []).append(result.figures)
    summary: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for (loop, bench, framework), runs in grouped.items():
        names = (*FIGURES[bench], *SHARES)
        medians = {name: median(run[name] for run in runs) for name in names}
        medians["rounds"] = len(runs)
        summary.setdefault(loop, {}).setdefault(bench, {})[framework] = medians
    return summary
