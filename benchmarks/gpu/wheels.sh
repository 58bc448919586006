#!/usr/bin/env bash
# Download, here, the wheels the GPU machine lacks for benchmarks/gpu/run.sh into .whl/ (git
# ignores it; the device tool carries it with carry [".whl"]), for its Python 3.12 on x86-64.
#
#   bash benchmarks/gpu/wheels.sh [--pyarrow]
#
# That machine has torch, transformers, peft, accelerate, numpy, pandas, pyarrow, xxhash,
# huggingface-hub, requests, tqdm, pyyaml, jinja2 and scipy (the device README's KINDS.md), but
# not trl, datasets or gguf, nor datasets' dill and multiprocess. fsspec is pinned to the newest
# datasets 5.2.0 accepts (<= 2026.9.0): the machine's own may be newer. --pyarrow adds pyarrow
# (~45 MB) for a machine whose pyarrow is older than datasets' minimum (24). llama-cpp-python is
# not carried: PyPI has no binary wheel of it, so the export step serves with transformers
# there. Each name's older wheels are removed first (two versions stop the whole install).
# Ends by checking that .whl and the working tree together stay under the 64 MiB a call carries.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
WHEELS=(trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 gguf==0.19.0
        fsspec==2026.9.0)
[ "${1:-}" = "--pyarrow" ] && WHEELS+=(pyarrow==26.0.1)
mkdir -p .whl
for spec in "${WHEELS[@]}"; do
  name=${spec%%==*}
  rm -f .whl/"${name}"-*.whl
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d .whl "$spec"
done
ls -l .whl/*.whl | awk '{printf "%10.1f KiB  %s\n", $5 / 1024, $9}'
wheels=$(cat .whl/*.whl | wc -c)
tree=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } \
        | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}')
total=$((wheels + tree))
printf 'wheels %.1f MiB + working tree %.1f MiB = %.1f MiB of the 64 MiB a call carries\n' \
  "$(echo "$wheels / 1048576" | bc -l)" "$(echo "$tree / 1048576" | bc -l)" \
  "$(echo "$total / 1048576" | bc -l)"
if [ "$total" -ge $((64 * 1048576)) ]; then
  echo "over 64 MiB: the device tool would refuse the call" >&2
  exit 1
fi
