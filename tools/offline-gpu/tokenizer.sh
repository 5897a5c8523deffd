#!/usr/bin/env bash
# The tokenizer benchmark (2D-LFQ / 1D-LFQ / VQ-512, and the LFQ-vs-VQ codebook sweep of
# benchmarks/tokenizer_sweep.py) trained and evaluated on a CUDA host without package access, in one
# command of at most WALL_S seconds, with the results copied into one folder ($OUT) that the caller takes back.
#
#   OUT=/tmp/out DATA=.devC bash tools/offline-gpu/tokenizer.sh
#
# DATA holds what the host lacks, made beforehand on a machine with the data:
#   *.whl              vector-quantize-pytorch and its needs that the host lacks (optional)
#   train_packed.npz   the training feature cache, packed:
#                      `python tools/offline-gpu/feature_pack.py pack CACHE train_packed.npz`
#                      (CACHE: out/tokenizer_cache2/train_styles_*.npz, which `python benchmarks/tokenizer_sweep.py
#                      eval --split styles --cache-dir out/tokenizer_cache2` builds, with the eval cache beside it)
#   eval.npz           the evaluation feature cache, exact (not packed)
# Environment:
#   OUT                the folder that comes back (required)
#   DATA=.devC         the folder above
#   SPLIT=styles       the benchmark's --split
#   WORKERS=9          runs trained at once
#   THREADS=1          torch threads per run
#   SCALE=1            --budget-scale (1: 420 s per main run, 75 s per sweep run)
#   ONLY               glob over run names
#   WALL_S=540         training and evaluation are stopped after it (for hosts that limit how long one
#                      command may run), and whatever finished comes back
#   DEVICE=cuda        cpu with a tiny SCALE is a dry run
#   WORK=/tmp/tokenizer_gpu  the working folder on the host
# Comes back in $OUT: run.log, runs.tgz (every run's result.json, train.log and TensorBoard events,
# and the best.pt of the main runs; the sweep's VQ-2^16 checkpoints are left out for their size).
# Unpack with `tar xzf OUT/runs.tgz -C runs/` (gives runs/tokenizer_gpu/NAME/...), then
# `python benchmarks/tokenizer_sweep.py report --runs-dir runs/tokenizer_gpu`.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/preamble.sh"  # OUT must be set; cd to the checkout (REPO)
DATA="${DATA:-.devC}"; SPLIT="${SPLIT:-styles}"; WORKERS="${WORKERS:-9}"; SCALE="${SCALE:-1}"
WALL_S="${WALL_S:-540}"; DEVICE="${DEVICE:-cuda}"; WORK="${WORK:-/tmp/tokenizer_gpu}"
RUNS="$WORK/tokenizer_gpu"
export PYTHONUNBUFFERED=1
LOG="$OUT/run.log"
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }
T0=$(date +%s)

if compgen -G "$DATA/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$DATA"/*.whl || { log "wheel install failed"; exit 1; }
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
source "$HERE/package_tree.sh"
python3 -P -c "import torch, vector_quantize_pytorch as v, motionlib.tokenizer.train as t; print('torch', \
torch.__version__, 'vq', v.__file__, 'device', torch.cuda.get_device_name(0) if torch.cuda.is_available() \
else 'none')" 2>&1 | tee -a "$LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || { log "environment check failed"; exit 1; }

rm -rf "$WORK" && mkdir -p "$RUNS"
python3 "$HERE/feature_pack.py" unpack "$DATA/train_packed.npz" "$WORK/train.npz" 2>&1 | tee -a "$LOG"
log "setup took $(( $(date +%s) - T0 )) s; training: split=$SPLIT workers=$WORKERS scale=$SCALE only=${ONLY:-all}"
ARGS=(--device "$DEVICE" --split "$SPLIT" --runs-dir "$RUNS" --train-cache "$WORK/train.npz"
      --eval-cache "$DATA/eval.npz" --clips /nonexistent/bandai/clips --budget-scale "$SCALE" --threads "${THREADS:-1}")
[ -n "${ONLY:-}" ] && ARGS+=(--only "$ONLY")
left=$(( WALL_S - ($(date +%s) - T0) ))
# timeout signals its whole process group: the worker subprocesses stop with it
timeout "$left" python3 benchmarks/tokenizer_sweep.py train --workers "$WORKERS" \
  --eval-note "12-bit packed training features, exact evaluation features, $DEVICE" "${ARGS[@]}" 2>&1 \
  | tr '\r' '\n' | grep -v "^tokenizer runs: *[0-9]*%|" | tee -a "$LOG"
log "training+evaluation rc=${PIPESTATUS[0]} after $(( $(date +%s) - T0 )) s"
python3 benchmarks/tokenizer_sweep.py plan "${ARGS[@]}" 2>&1 | tee -a "$LOG"
(cd "$WORK" && find tokenizer_gpu \( -name result.json -o -name train.log -o -path '*/tb/*' \
   -o -path 'tokenizer_gpu/main_*/best.pt' \) -type f | tar czf "$OUT/runs.tgz" -T -)
log "runs.tgz $(du -h "$OUT/runs.tgz" | cut -f1); total $(( $(date +%s) - T0 )) s"
