"""Print dev.lock's pins minus the runtime dependencies named in pyproject.toml.

``scripts/setup.sh lowest`` resolves with ``--resolution lowest-direct`` under these
constraints: Gobstopper's own dependencies go to the lowest releases its ranges allow,
while the test tools (and everything else) stay at the versions that passed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def canonical(name: str) -> str:
    """Return a distribution name in PEP 503 form."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_names(pyproject: dict[str, object]) -> set[str]:
    """Names of the dependencies and every extra except ``dev``."""
    project = pyproject["project"]
    assert isinstance(project, dict)
    requirements = list(project["dependencies"])
    for extra, items in project["optional-dependencies"].items():
        if extra != "dev":
            requirements += items
    return {canonical(m[0]) for r in requirements if (m := NAME.match(r))}


def main() -> int:
    """Write the constraints to stdout."""
    runtime = runtime_names(tomllib.loads((ROOT / "pyproject.toml").read_text()))
    for line in (ROOT / "requirements" / "dev.lock").read_text().splitlines():
        match = NAME.match(line)
        if match and "==" in line and canonical(match[0]) not in runtime:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
