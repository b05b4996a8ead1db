#!/usr/bin/env bash
# Refresh the lock files on purpose: resolve the newest releases that pyproject.toml allows.
#   bash scripts/lock.sh                 # everything to its newest allowed release
#   bash scripts/lock.sh --upgrade-package redis   # only redis (and what it needs)
# Then run `bash scripts/test.sh` and commit requirements/*.lock together with what it needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev >/dev/null
upgrade=(--upgrade)
if [ "$#" -gt 0 ]; then upgrade=("$@"); fi
# --universal: one lock valid on every platform and on Python 3.11 and newer.
compile=(.venv/bin/uv pip compile --quiet --universal --python-version 3.11
         --custom-compile-command "bash scripts/lock.sh")
"${compile[@]}" "${upgrade[@]}" requirements/dev.in -o requirements/dev.lock
# The showcase gets the same versions as the tests: dev.lock's pins are its constraints.
pins="$(mktemp)"; trap 'rm -f "$pins"' EXIT
grep -v '^-e ' requirements/dev.lock >"$pins"
"${compile[@]}" --constraint "$pins" requirements/showcase.in -o requirements/showcase.lock
git --no-pager diff --stat -- requirements/ 2>/dev/null || true
