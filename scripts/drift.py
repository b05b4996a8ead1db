"""Run the checks on the newest releases and name the upgraded dependency behind a failure.

``bash scripts/test.sh --latest`` runs this with ``.venv-latest/bin/python``. Each check
(ruff, mypy, then pytest) runs once; when one fails, every package whose installed version differs
from ``requirements/dev.lock`` is put back to its locked version, one at a time, and the
failing part of the check is run again: a package whose locked version makes it pass is a
culprit. The environment is restored after each probe, so the report names each culprit alone.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "dev.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def canonical(name: str) -> str:
    """Return a distribution name in PEP 503 form (``Foo_bar`` -> ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock_text: str) -> dict[str, str]:
    """Map each pinned package of a ``uv pip compile`` lock to its version."""
    pins = (PIN.match(line) for line in lock_text.splitlines())
    return {canonical(m[1]): m[2] for m in pins if m}


def drifted(locked: dict[str, str], installed: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Return ``{name: (locked, installed)}`` for every locked package now at another version."""
    return {
        name: (version, installed[name])
        for name, version in sorted(locked.items())
        if name in installed and installed[name] != version
    }


def installed_versions() -> dict[str, str]:
    """Map every distribution installed in this interpreter to its version."""
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}


def run(argv: list[str]) -> bool:
    """Run one command from the project root; True when it exits 0."""
    return subprocess.run(argv, cwd=ROOT, check=False).returncode == 0


def install(name: str, version: str) -> None:
    """Put exactly ``name==version`` into this venv, leaving its dependencies alone."""
    uv = str(Path(sys.executable).with_name("uv"))
    pin = f"{name}=={version}"
    command = [uv, "pip", "install", "--quiet", "--no-deps", "--python", sys.executable, pin]
    subprocess.run(command, cwd=ROOT, check=True)


def culprits(rerun: list[str], changes: dict[str, tuple[str, str]]) -> list[str]:
    """Return the packages whose locked version alone makes ``rerun`` pass."""
    found = []
    for name, (locked, newest) in changes.items():
        print(f"-- probing {name}: {newest} -> {locked}", flush=True)
        install(name, locked)
        try:
            if run(rerun):
                found.append(name)
        finally:
            install(name, newest)
    return found


def main(pytest_args: list[str]) -> int:
    """Run ruff and pytest; on a failure, report which upgraded dependency breaks it."""
    python = sys.executable
    ruff = str(Path(python).with_name("ruff"))
    checks = [
        ([ruff, "check", "src", "tests", "benchmarks", "examples", "scripts"], None),
        ([str(Path(python).with_name("mypy"))], None),
        ([python, "-m", "pytest", *pytest_args], [python, "-m", "pytest", "--lf", "-q"]),
    ]
    changes = drifted(locked_versions(LOCK.read_text()), installed_versions())
    summary = ", ".join(f"{n} {old} -> {new}" for n, (old, new) in changes.items())
    print(f"newest releases differing from the lock: {summary or 'none'}", flush=True)
    for command, rerun in checks:
        if run(command):
            continue
        found = culprits(rerun or command, changes)
        if found:
            named = ", ".join(f"{n} {changes[n][1]} (locked {changes[n][0]})" for n in found)
            print(f"FAILED on the newest releases; the upgrade that breaks it: {named}")
        else:
            print(
                "FAILED on the newest releases; no single upgraded package explains it "
                "(a combination, or a failure that the lock shares)"
            )
        return 1
    print("passed on the newest releases: refresh the lock with `bash scripts/lock.sh`")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
