#!/usr/bin/env bash
# Install llama-cpp-python's OpenAI-compatible server into a venv, for tests/test_llama_server.py.
#
#   bash tests/setup_llama_cpp.sh [VENV]      (default .venv)
#
# Idempotent: does nothing when the venv already imports llama_cpp.server. Otherwise the CPU
# wheel is built once from the PyPI sdist (about 13 minutes on 2 cores) into
# ${SFT_STUDIO_CACHE:-$HOME/.cache/sft-studio}/wheels and reused from there after that.
set -euo pipefail

VERSION=0.3.36
VENV=${1:-.venv}
PY="$VENV/bin/python"
CACHE="${SFT_STUDIO_CACHE:-$HOME/.cache/sft-studio}/wheels"
# gguf writes the tiny test model (tests/tiny_gguf.py).
EXTRA=("gguf>=0.17")

if [ ! -x "$PY" ]; then
    echo "setup_llama_cpp: no venv at $VENV (run make setup first)" >&2
    exit 2
fi

if "$PY" -c "import llama_cpp.server, gguf" 2>/dev/null; then
    echo "llama-cpp-python: already installed in $VENV"
    exit 0
fi

mkdir -p "$CACHE"
shopt -s nullglob
wheels=("$CACHE"/llama_cpp_python-"$VERSION"-*.whl)
shopt -u nullglob

if [ ${#wheels[@]} -gt 0 ]; then
    how="reused the cached wheel ${wheels[0]}"
else
    # Build in a temporary folder and move the finished wheel in, so that a killed build never
    # leaves half a wheel in the cache.
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/llama-cpp-build.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    echo "setup_llama_cpp: building llama_cpp_python $VERSION (takes several minutes)" >&2
    "$PY" -m pip download -q --no-deps --no-binary :all: -d "$tmp/sdist" \
        "llama_cpp_python==$VERSION"
    CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
        "$PY" -m pip wheel -q --no-deps -w "$tmp/wheel" "$tmp"/sdist/llama_cpp_python-"$VERSION".tar.gz
    built=("$tmp"/wheel/llama_cpp_python-"$VERSION"-*.whl)
    name=$(basename "${built[0]}")
    mv "${built[0]}" "$CACHE/$name.part"
    mv "$CACHE/$name.part" "$CACHE/$name"  # atomic within the cache folder
    how="built $CACHE/$name"
fi

"$PY" -m pip install -q --find-links "$CACHE" "llama_cpp_python[server]==$VERSION" "${EXTRA[@]}"
"$PY" -c "import llama_cpp.server, gguf"
echo "llama-cpp-python $VERSION: $how, installed into $VENV"
