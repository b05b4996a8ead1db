#!/usr/bin/env bash
# Set everything up, then run ruff and the whole test suite (unit, examples and e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks examples
exec .venv/bin/python -m pytest "$@"
