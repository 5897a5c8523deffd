#!/usr/bin/env bash
# The tokenizer benchmark (README table: 2D-LFQ / 1D-LFQ / VQ-512, and the LFQ-vs-VQ codebook sweep)
# trained and evaluated on a lent GPU inside one device command (<= 600 s).
#
#   OUT=/tmp/out DATA=.devC bash scripts/gpu_tokenizer.sh
#
# DATA holds what the GPU machine lacks, made here beforehand:
#   *.whl              vector-quantize-pytorch and its needs that the image lacks (optional)
#   train_packed.npz   the training feature cache, `python scripts/feature_pack.py pack CACHE train_packed.npz`
#                      (CACHE: out/tokenizer_cache2/train_styles_*.npz, which a CPU `tokenizer_sweep.py eval
#                      --split styles --cache-dir out/tokenizer_cache2` builds, with the eval cache beside it)
#   eval.npz           the evaluation feature cache, exact (not packed)
# Environment: SPLIT (styles), WORKERS (9 runs trained at once), THREADS (torch threads per run, 1), SCALE (--budget-scale, 1: 420 s per main
# run, 75 s per sweep run), ONLY (glob over run names), WALL_S (540: training and evaluation are killed
# after it, and whatever finished comes back), DEVICE (cuda; cpu with a tiny SCALE is a dry run).
# Comes back in $OUT: session.log, runs.tgz (every run's result.json, train.log and TensorBoard events,
# and the best.pt of the main runs; the sweep's VQ-2^16 checkpoints are too large to carry).
# Unpack here with `tar xzf OUT/runs.tgz -C runs/` (gives runs/tokenizer_gpu/NAME/...), then
# `python scripts/tokenizer_sweep.py report --runs-dir runs/tokenizer_gpu`.
set -uo pipefail

: "${OUT:?set OUT to the folder that comes back}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
mkdir -p "$OUT"
DATA="${DATA:-.devC}"; SPLIT="${SPLIT:-styles}"; WORKERS="${WORKERS:-9}"; SCALE="${SCALE:-1}"
WALL_S="${WALL_S:-540}"; DEVICE="${DEVICE:-cuda}"; WORK="${WORK:-/tmp/tokenizer_gpu}"
RUNS="$WORK/tokenizer_gpu"
export PYTHONUNBUFFERED=1
LOG="$OUT/session.log"
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }
T0=$(date +%s)

if compgen -G "$DATA/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$DATA"/*.whl || { log "wheel install failed"; exit 1; }
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
source "$REPO/scripts/gpu_package_tree.sh"
python3 -P -c "import torch, vector_quantize_pytorch as v, motionlib.tokenizer.train as t; print('torch', \
torch.__version__, 'vq', v.__file__, 'device', torch.cuda.get_device_name(0) if torch.cuda.is_available() \
else 'none')" 2>&1 | tee -a "$LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || { log "environment check failed"; exit 1; }

rm -rf "$WORK" && mkdir -p "$RUNS"
python3 scripts/feature_pack.py unpack "$DATA/train_packed.npz" "$WORK/train.npz" 2>&1 | tee -a "$LOG"
log "setup took $(( $(date +%s) - T0 )) s; training: split=$SPLIT workers=$WORKERS scale=$SCALE only=${ONLY:-all}"
ARGS=(--device "$DEVICE" --split "$SPLIT" --runs-dir "$RUNS" --train-cache "$WORK/train.npz"
      --eval-cache "$DATA/eval.npz" --clips /nonexistent/bandai/clips --budget-scale "$SCALE" --threads "${THREADS:-1}")
[ -n "${ONLY:-}" ] && ARGS+=(--only "$ONLY")
left=$(( WALL_S - ($(date +%s) - T0) ))
# timeout signals its whole process group: the worker subprocesses stop with it
timeout "$left" python3 scripts/tokenizer_sweep.py train --workers "$WORKERS" \
  --eval-note "12-bit packed training features, exact evaluation features, $DEVICE" "${ARGS[@]}" 2>&1 \
  | tr '\r' '\n' | grep -v "^tokenizer runs: *[0-9]*%|" | tee -a "$LOG"
log "training+evaluation rc=${PIPESTATUS[0]} after $(( $(date +%s) - T0 )) s"
python3 scripts/tokenizer_sweep.py plan "${ARGS[@]}" 2>&1 | tee -a "$LOG"
(cd "$WORK" && find tokenizer_gpu \( -name result.json -o -name train.log -o -path '*/tb/*' \
   -o -path 'tokenizer_gpu/main_*/best.pt' \) -type f | tar czf "$OUT/runs.tgz" -T -)
log "runs.tgz $(du -h "$OUT/runs.tgz" | cut -f1); total $(( $(date +%s) - T0 )) s"
