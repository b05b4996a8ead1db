"""Install, drive and parse ``wrk``, the load generator.

wrk runs on loopback only, for a fixed duration, with a hard subprocess timeout on top.
POST bodies go through a small Lua script written next to the run's other files.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.driver.cpus import LOAD_CORE, pinned
from benchmarks.driver.endpoints import Endpoint

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_P99 = re.compile(r"^\s*99(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkError(RuntimeError):
    """wrk failed, or printed something the parser does not understand."""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    rps: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def ensure_installed() -> str:
    """Return the path of ``wrk``, installing Debian's package first if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    for step in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        done = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise WrkError(f"{' '.join(step)} failed:\n{done.stderr[-2000:]}")
    found = shutil.which("wrk")
    if not found:
        raise WrkError("apt-get installed wrk but it is not on PATH")
    return found


def version(wrk: str) -> str:
    """Return wrk's version line (wrk prints it on ``-v`` and exits non-zero)."""
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
    return (done.stdout or done.stderr).splitlines()[0].split(" [")[0].strip()


def lua_script(endpoint: Endpoint, directory: Path) -> Path | None:
    """Write the Lua script ``endpoint`` needs (a POST body), or return None for a GET."""
    if endpoint.body is None:
        return None
    body = endpoint.body.decode()
    if "]==]" in body:
        raise WrkError("the POST body cannot be quoted as a Lua long string")
    path = directory / f"{endpoint.name}.lua"
    path.write_text(
        f'wrk.method = "{endpoint.method}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{body}]==]\n"
    )
    return path


def parse(output: str) -> WrkResult:
    """Parse wrk's ``--latency`` report."""
    p99 = _P99.search(output)
    requests = _REQUESTS.search(output)
    rps = _RPS.search(output)
    if not (p99 and requests and rps):
        raise WrkError(f"unexpected wrk output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket_errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests=int(requests.group(1)),
        rps=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * _UNITS_MS[p99.group(2)],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, socket_errors.groups())) if socket_errors else 0,
    )


def run(
    wrk: str,
    url: str,
    *,
    duration_s: int,
    connections: int,
    threads: int,
    script: Path | None,
) -> WrkResult:
    """Load ``url`` for ``duration_s`` seconds and return the parsed result."""
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    command = pinned(command, LOAD_CORE)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=duration_s + 30, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish within {duration_s + 30} s") from exc
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode}:\n{done.stderr or done.stdout}")
    return parse(done.stdout)
