#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install Gobstopper with every extra and the dev tools.
# Safe to run repeatedly: it only installs what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "gobstopper needs Python 3.11 or newer" >&2; return 1
}

if [ ! -x .venv/bin/python ]; then
    "$(pick_python)" -m venv .venv
fi
stamp=.venv/.gobstopper-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[all,dev]'
    touch "$stamp"
fi
# An editable install is not byte-compiled the way a wheel install is; without this,
# PYTHONDONTWRITEBYTECODE=1 environments recompile every module on every start.
.venv/bin/python -m compileall -q src >/dev/null

# redis-server backs the Redis session-storage tests; install it (Debian/Ubuntu) if missing.
install_redis_server() {
    local apt=()
    if [ "$(id -u)" -ne 0 ]; then apt=(sudo); fi
    apt+=(env DEBIAN_FRONTEND=noninteractive apt-get)
    # Try the current package lists first; refresh them only if that fails (fresh machine).
    "${apt[@]}" install -y --no-install-recommends redis-server >/dev/null 2>&1 \
        || { "${apt[@]}" update -qq && "${apt[@]}" install -y --no-install-recommends redis-server; }
}
if ! command -v redis-server >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        install_redis_server
    else
        echo "warning: redis-server not found and apt-get unavailable; install it to run" \
            "the Redis session tests" >&2
    fi
fi
