#!/usr/bin/env bash
# Set everything up, then serve the showcase app under Granian on http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/gobstopper run examples.showcase:app --host 127.0.0.1 --port "${PORT:-8000}" "$@"
