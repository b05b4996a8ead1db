#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install exactly the versions in a committed lock file.
#   bash scripts/setup.sh [dev]      # tests and tools: requirements/dev.lock, plus redis-server
#   bash scripts/setup.sh showcase   # only what the showcase app needs: requirements/showcase.lock
#   bash scripts/setup.sh latest     # .venv-latest: the newest releases pyproject.toml allows
#   bash scripts/setup.sh lowest     # .venv-lowest: the lowest releases of the runtime
#                                    # dependencies pyproject.toml allows, test tools as locked
# Safe to run repeatedly: an environment that already matches is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-dev}"

pick_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "gobstopper needs Python 3.11 or newer" >&2; return 1
}

# A venv with uv in it, at the version dev.lock pins; uv then installs everything else.
make_venv() {
    local venv="$1" uv_pin
    if [ ! -x "$venv/bin/python" ]; then
        "$(pick_python)" -m venv "$venv"
    fi
    uv_pin="$(grep -E '^uv==' requirements/dev.lock)"
    if [ "$("$venv/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "${uv_pin#uv==}" ]; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$uv_pin"
    fi
}

# uv reads the system's CA store, as pip does here (a TLS-inspecting proxy needs it).
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-1}"
case "$target" in
    dev)
        make_venv .venv
        # sync: exactly the lock, nothing more (a package dropped from the lock is removed).
        .venv/bin/uv pip sync --quiet --python .venv/bin/python requirements/dev.lock
        ;;
    showcase)
        make_venv .venv
        # install, not sync: a dev environment already here keeps its test tools.
        .venv/bin/uv pip install --quiet --python .venv/bin/python -r requirements/showcase.lock
        ;;
    latest)
        make_venv .venv-latest
        .venv-latest/bin/uv pip install --quiet --upgrade --python .venv-latest/bin/python \
            -e '.[all,dev]'
        ;;
    lowest)
        make_venv .venv-lowest
        pins="$(mktemp)"; trap 'rm -f "$pins"' EXIT
        .venv-lowest/bin/python scripts/lowest_constraints.py >"$pins"
        .venv-lowest/bin/uv pip install --quiet --resolution lowest-direct --constraint "$pins" \
            --python .venv-lowest/bin/python -e '.[all,dev]'
        ;;
    *)
        echo "usage: scripts/setup.sh [dev|showcase|latest|lowest]" >&2; exit 2 ;;
esac
venv=.venv; [ "$target" = latest ] || [ "$target" = lowest ] && venv=".venv-$target"
# An editable install is not byte-compiled the way a wheel install is; without this,
# PYTHONDONTWRITEBYTECODE=1 environments recompile every module on every start.
"$venv/bin/python" -m compileall -q src >/dev/null

# The tests' real peers from Debian's packages: redis-server (sessions, rate limits,
# backplane, idempotency) and headless Chromium with its driver (pages). The showcase needs none.
system_packages() {
    command -v redis-server >/dev/null 2>&1 || echo redis-server
    command -v chromium >/dev/null 2>&1 || echo chromium
    command -v chromedriver >/dev/null 2>&1 || echo chromium-driver
}
install_system_packages() {
    local apt=()
    if [ "$(id -u)" -ne 0 ]; then apt=(sudo); fi
    apt+=(env DEBIAN_FRONTEND=noninteractive apt-get)
    # Try the current package lists first; refresh them only if that fails (fresh machine).
    "${apt[@]}" install -y --no-install-recommends "$@" >/dev/null 2>&1 \
        || { "${apt[@]}" update -qq && "${apt[@]}" install -y --no-install-recommends "$@"; }
}
if [ "$target" != showcase ]; then
    mapfile -t missing < <(system_packages)
    if [ "${#missing[@]}" -gt 0 ]; then
        if command -v apt-get >/dev/null 2>&1; then
            install_system_packages "${missing[@]}"
        else
            echo "warning: ${missing[*]} missing and apt-get unavailable; install them to" \
                "run the Redis and browser tests" >&2
        fi
    fi
fi
