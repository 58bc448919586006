#!/usr/bin/env bash
# Install what tests/test_llama_server.py runs: llama-cpp-python's OpenAI-compatible server in a
# venv, and llama.cpp's native llama-server built from the llama.cpp that the same
# llama-cpp-python sdist vendors (so both servers are one llama.cpp version).
#
#   bash tests/setup_llama_cpp.sh [VENV]      (default .venv)
#
# Idempotent and fast when everything is there. Otherwise, once each, from the PyPI sdist:
#   - the CPU wheel, LLaVA off (about 6 minutes on 2 cores) into $ROOT/wheels, then installed;
#   - the static llama-server binary (cmake, about 7 minutes) into $ROOT/bin/llama-server-$VERSION,
#     build log next to it (.build.log);
# where ROOT=${SFT_STUDIO_CACHE:-$HOME/.cache/sft-studio}. tests/llama_server.py finds the binary.
set -euo pipefail

VERSION=0.3.36
VENV=${1:-.venv}
PY="$VENV/bin/python"
ROOT="${SFT_STUDIO_CACHE:-$HOME/.cache/sft-studio}"
CACHE="$ROOT/wheels"
BIN="$ROOT/bin/llama-server-$VERSION"
# gguf writes the tiny test model (tests/tiny_gguf.py).
EXTRA=("gguf>=0.17")
# Static, CPU only, portable (no -march=native), just the server: no curl/openssl (it only
# reads local files), no web UI (it would be fetched from the net at build time).
NATIVE_CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_UI=OFF
    -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_CCACHE=OFF)

if [ ! -x "$PY" ]; then
    echo "setup_llama_cpp: no venv at $VENV (run make setup first)" >&2
    exit 2
fi

# Builds happen in a temporary folder (removed on exit) and only finished files are moved into
# the cache, so that a killed build never leaves half a wheel or half a binary there.
tmp=""
cleanup() { if [ -n "$tmp" ]; then rm -rf "$tmp"; fi; }
trap cleanup EXIT

# Sets TARBALL to the sdist, downloaded at most once per run.
fetch_sdist() {
    if [ -z "$tmp" ]; then
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/llama-cpp-build.XXXXXX")
    fi
    TARBALL="$tmp/sdist/llama_cpp_python-$VERSION.tar.gz"
    if [ ! -f "$TARBALL" ]; then
        "$PY" -m pip download -q --no-deps --no-binary :all: -d "$tmp/sdist" \
            "llama_cpp_python==$VERSION"
    fi
}

# -- llama-cpp-python ---------------------------------------------------------------------------

ensure_python_server() {
    if "$PY" -c "import llama_cpp.server, gguf" 2>/dev/null; then
        echo "llama-cpp-python: already installed in $VENV"
        return
    fi
    mkdir -p "$CACHE"
    local wheels how
    shopt -s nullglob
    wheels=("$CACHE"/llama_cpp_python-"$VERSION"-*.whl)
    shopt -u nullglob

    if [ ${#wheels[@]} -gt 0 ]; then
        how="reused the cached wheel ${wheels[0]}"
    else
        echo "setup_llama_cpp: building llama_cpp_python $VERSION (takes several minutes)" >&2
        local built name
        fetch_sdist
        CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
        CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
            "$PY" -m pip wheel -q --no-deps -w "$tmp/wheel" "$TARBALL"
        built=("$tmp"/wheel/llama_cpp_python-"$VERSION"-*.whl)
        name=$(basename "${built[0]}")
        mv "${built[0]}" "$CACHE/$name.part"
        mv "$CACHE/$name.part" "$CACHE/$name"  # atomic within the cache folder
        how="built $CACHE/$name"
    fi

    "$PY" -m pip install -q --find-links "$CACHE" "llama_cpp_python[server]==$VERSION" "${EXTRA[@]}"
    "$PY" -c "import llama_cpp.server, gguf"
    echo "llama-cpp-python $VERSION: $how, installed into $VENV"
}

# -- native llama-server ------------------------------------------------------------------------

ensure_native_server() {
    local how
    if [ -x "$BIN" ]; then
        how="cached"
    else
        command -v cmake >/dev/null || { echo "setup_llama_cpp: cmake is needed to build llama-server" >&2; exit 2; }
        echo "setup_llama_cpp: building llama-server from llama_cpp_python $VERSION's llama.cpp" \
             "(takes several minutes; log $BIN.build.log)" >&2
        local src t0 log="$BIN.build.log"
        mkdir -p "$(dirname "$BIN")"
        fetch_sdist
        tar -xzf "$TARBALL" -C "$tmp"
        src="$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp"
        t0=$SECONDS
        if ! { cmake -S "$src" -B "$tmp/build" "${NATIVE_CMAKE_ARGS[@]}" &&
               cmake --build "$tmp/build" --config Release --target llama-server -j "$(nproc)"; } \
                >"$log" 2>&1; then
            tail -n 30 "$log" >&2
            echo "setup_llama_cpp: building llama-server failed; log $log" >&2
            exit 1
        fi
        # Copy next to the target, then rename: a killed setup never leaves half a binary.
        cp "$tmp/build/bin/llama-server" "$BIN.part.$$"
        mv "$BIN.part.$$" "$BIN"
        how="built in $((SECONDS - t0)) s"
    fi
    local out version
    if ! out=$("$BIN" --version 2>&1); then
        echo "setup_llama_cpp: $BIN does not run; delete it and run again:" >&2
        echo "$out" >&2
        exit 1
    fi
    version=$(echo "$out" | grep -m1 '^version:' || true)
    echo "llama-server (llama.cpp of llama_cpp_python $VERSION, $version): $how, $BIN"
}

ensure_python_server
ensure_native_server
