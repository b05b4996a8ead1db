#!/usr/bin/env bash
# Set everything up, then run ruff and the whole test suite (unit, examples and e2e).
#   bash scripts/test.sh [pytest args]            # the locked versions (what CI runs)
#   bash scripts/test.sh --latest [pytest args]   # the newest releases pyproject.toml allows;
#       on a failure, names the upgraded dependencies that cause it (see scripts/drift.py)
#   bash scripts/test.sh --lowest [pytest args]   # the runtime dependencies at the lowest
#       releases pyproject.toml allows (its lower bounds are tested ones)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --lowest ]; then
    shift
    bash scripts/setup.sh lowest
    exec .venv-lowest/bin/python -m pytest "$@"
fi
if [ "${1:-}" = --latest ]; then
    shift
    bash scripts/setup.sh latest
    exec .venv-latest/bin/python scripts/drift.py "$@"
fi
bash scripts/setup.sh dev
.venv/bin/ruff check src tests benchmarks examples scripts
.venv/bin/ruff format --check src tests benchmarks examples scripts
.venv/bin/mypy  # strict on src/gobstopper ([tool.mypy] in pyproject.toml)
# The whole suite measures branch coverage with a floor that only rises (94.93% when set);
# a run of chosen tests (arguments given) does not.
coverage=()
if [ "$#" -eq 0 ]; then
    coverage=(--cov=gobstopper --cov-branch --cov-report=term:skip-covered --cov-fail-under=94.5)
fi
exec .venv/bin/python -m pytest "${coverage[@]}" "$@"
