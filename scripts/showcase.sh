#!/usr/bin/env bash
# Set up what the showcase needs (requirements/showcase.lock), then serve it under Granian
# on http://127.0.0.1:8000 (PORT overrides the port; extra arguments go to `gobstopper run`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh showcase
exec .venv/bin/gobstopper run examples.showcase:app --host 127.0.0.1 --port "${PORT:-8000}" "$@"
