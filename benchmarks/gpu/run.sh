#!/usr/bin/env bash
# The GPU benchmark, one prepared script for a lent GPU machine (H100/H200, 16 cores, no
# network), within 8 minutes wall time. From the repository root:
#
#   bash benchmarks/gpu/wheels.sh              # here, once: trl, datasets, ... into .whl/
#   bash benchmarks/gpu/run.sh [OUT_DIR]       # there: the device tool's run with
#                                              # carry [".whl"] and timeout_s 540
#   .venv/bin/python benchmarks/gpu/record.py OUT_DIR/results.json   # here: docs/benchmarks.md
#
# Results go to $OUT/results.json (the device tool's folder that comes back), else to the
# folder given as $1; the steps' own logs and models stay in /tmp/sft-gpu-bench. The steps,
# their budgets and what each measures: benchmarks/gpu/steps.py. SFT_GPU_SMOKE=1 runs every
# step with a tiny model on CPU (about 70 s on 2 cores, 330 s at most): a plumbing check.
T0=$(date +%s)
cd "$(dirname "$0")/../.." || exit 1
# the project itself is not installed there: its packages are imported from the checkout
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# The machine's Python lacks trl and datasets (and what of theirs it lacks): they travel as
# wheels. Not in smoke mode: here the venv has them, and the wheels are built for Python 3.12.
if [ -d .whl ] && [ -z "${SFT_GPU_SMOKE:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} || exit 1
fi
DEST=${OUT:-${1:-}}
if [ -z "$DEST" ]; then
  echo "usage: bash benchmarks/gpu/run.sh OUT_DIR (or set OUT)" >&2
  exit 2
fi
if [ -z "${PYTHON:-}" ]; then
  if [ -n "${SFT_GPU_SMOKE:-}" ] && [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python
  else PYTHON=python3; fi
fi
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
if [ -z "${SFT_GPU_WORK:-}" ]; then  # scratch: models, runs, exports, the steps' logs
  SFT_GPU_WORK=/tmp/sft-gpu-bench
  rm -rf "$SFT_GPU_WORK"
fi
export SFT_GPU_T0=$T0 SFT_GPU_WORK
mkdir -p "$DEST" "$SFT_GPU_WORK"
"$PYTHON" benchmarks/gpu/steps.py run "$DEST" 2>&1 | tee "$DEST/run.log"
status=${PIPESTATUS[0]}
# The steps' logs, tails only (the device tool brings back at most 8 files)
for f in "$SFT_GPU_WORK"/*.log; do
  [ -f "$f" ] && { echo "===== $(basename "$f")"; tail -c 20000 "$f"; }
done > "$DEST/steps.log" 2>/dev/null
echo "run.sh: $(( $(date +%s) - T0 )) s; $DEST/results.json"
exit "$status"
