# Sourced by scripts/run and scripts/test: create or reuse .venv and install the project
# into it, again only when pyproject.toml changed (idempotent).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ensure_venv() {  # $1: extras, e.g. "dev" or ""
    local extras="$1" py="${PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || {
            echo "gonka needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
        echo "creating .venv with $("$py" --version)" >&2
        "$py" -m venv .venv
    fi
    local want stamp=".venv/.gonka-installed${extras:+-$extras}"
    want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "installing gonka${extras:+ [$extras]} into .venv (once)" >&2
        .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >&2
        .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}" >&2
        echo "$want" > "$stamp"
    fi
}

ensure_js_tests() {  # cosmjs for tests/devnet/test_devnet_clients.py; without npm those tests say why they skip
    local dir=tests/js stamp=tests/js/node_modules/.gonka-installed want
    command -v npm >/dev/null 2>&1 || { echo "npm not found: the cosmjs test will be skipped" >&2; return 0; }
    want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "installing cosmjs for the client tests (once)" >&2
        if npm ci --prefix "$dir" --no-audit --no-fund --silent >&2; then
            echo "$want" > "$stamp"
        else
            echo "npm ci failed: the cosmjs test will be skipped" >&2
        fi
    fi
}
