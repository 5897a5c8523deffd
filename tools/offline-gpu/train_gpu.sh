#!/usr/bin/env bash
# Tracker work on a CUDA host: MuJoCo Warp throughput benchmark and/or tracker training, with what is
# worth keeping copied into one folder ($OUT) that the caller takes back.
#
#   OUT=/tmp/out BENCH=1 TRAIN_MIN=8 bash tools/offline-gpu/train_gpu.sh
#
# Assumes python3 can import torch (CUDA), mujoco, mujoco_warp, warp, rl_games, gymnasium, tensorboard
# (e.g. the packages that tools/offline-gpu/pack_site.sh carries, unpacked into a folder on PYTHONPATH);
# installs nothing. motionlib itself is made importable from this checkout through a symlinked package
# tree (package_tree.sh: no pip, no build). What comes back in $OUT (at most MAX_FILES files):
#   run.log        versions, device, what ran and how long
#   bench.txt          bench_warp table (BENCH=1)
#   train.log          train-tracker output (TRAIN_MIN)
#   policy_best.pt     exported policy with the best deterministic evaluation
#   checkpoint.pth     latest rl-games checkpoint (RESUME=path continues from one)
#   curve.csv          env steps, success rate, G-MPJPE per evaluation
#   summary.json       train-tracker summary
#   tensorboard.tgz    TensorBoard event files
#   policies_N.tar     every evaluated policy (RUN/policies/policy_epNNNNNN.pt) in the file slots left, to rank
#                      afterwards (`motionlib eval-tracker --policy ...`); an evenly spread subset (keeping the
#                      last) if not all fit
#
# Environment:
#   OUT                the folder that comes back (required)
#   BENCH=1            run benchmarks/bench_warp.py --check: a CUDA-vs-CPU-MuJoCo parity check (4 worlds,
#                      10 steps), then the table (BENCH_WORLDS, default "1024 4096 8192"; BENCH_STEPS;
#                      killed after BENCH_TIMEOUT=300 s, training still follows)
#   TRAIN_MIN=N        train `train-tracker --preset gpu` for ~N minutes of wall clock (then it stops
#                      itself: checkpoint, evaluation, exported policy; the final evaluation adds ~1 min)
#   RUN_S=570      wall-clock budget of the whole script, for hosts that limit how long one command may
#                      run: training minutes are cut so that training, its final evaluation and the copies
#                      end within it (90 s are kept for those)
#   MAX_FILES=8        files that may come back in $OUT, for hosts that limit the files of one download
#   MAX_FILE_MB=16     largest file that may come back (a larger one is dropped and logged), for hosts that
#                      limit the size of one download
#   PART_MB=15         size of each policies_N.tar
#   RUN=/tmp/motionlib_gpu_run  the training run folder
#   RESUME=path        rl-games checkpoint (.pth) to resume from; a curve.csv and policy_best.pt beside it
#                      (an earlier run's $OUT) carry on: the curve continues, the best is kept unless beaten
#   INIT_POLICY=path   fine-tune from an exported policy (train-tracker --init-policy, e.g.
#                      policies/data/default_tracker.pt) instead of resuming a checkpoint
#   FEET_SLIP, ACTION_RATE  reward coefficients (train-tracker --feet-slip / --action-rate; the shipped
#                      policy was fine-tuned with 0.5 and 0.5)
#   DEVICE=cuda        cpu runs the same steps on warp's CPU device (for a dry run; use tiny sizes)
#   ENVS, EVAL_EVERY   override the preset's 4096 envs / 100 epochs between evaluations
#   CLIP_WEIGHT=REGEX=W  train-tracker --clip-weight (the shipped recipe: '_(walk|walk-[a-z-]+|run|dash)_=3')
#   GRAPH=0            launch warp kernels eagerly instead of replaying CUDA graphs (fallback)
#   TRAIN_CLIPS, EVAL_CLIPS  clip folders (default out/tracker_sets/train, out/tracker_sets/eval). Those
#                      hold absolute symlinks into out/bandai/clips: carry a dereferenced copy instead
#                      (cp -rL out/tracker_sets out/gpu_clips; TRAIN_CLIPS=out/gpu_clips/train ...)
#   WARP_CACHE_PATH    warp kernel cache (default /tmp/warp-cache; reused between the bench and training)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/preamble.sh"  # OUT must be set; cd to the checkout (REPO)
DEVICE="${DEVICE:-cuda}"
TRAIN_CLIPS="${TRAIN_CLIPS:-out/tracker_sets/train}"
EVAL_CLIPS="${EVAL_CLIPS:-out/tracker_sets/eval}"
RUN="${RUN:-/tmp/motionlib_gpu_run}"
MAX_FILES="${MAX_FILES:-8}"; MAX_FILE_MB="${MAX_FILE_MB:-16}"; PART_MB="${PART_MB:-15}"
export PYTHONUNBUFFERED=1
export WARP_CACHE_PATH="${WARP_CACHE_PATH:-/tmp/warp-cache}"
LOG="$OUT/run.log"
NOGRAPH=""; [ "${GRAPH:-1}" = "0" ] && NOGRAPH="--no-graph"
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }

# Every evaluated policy (RUN/policies/policy_epNNNNNN.pt) comes back for ranking afterwards: tars of at
# most PART_MB in the file slots left (MAX_FILES in all); when they do not all fit, an evenly spread subset
# that keeps the last one.
pack_policies() {
  local pols=("$RUN"/policies/policy_ep*.pt)
  [ -f "${pols[0]}" ] || return 0
  local slots=$(( MAX_FILES - $(ls "$OUT" | wc -l) )) size per cap n i k=0 part=1 chunk=()
  size=$(stat -c %s "${pols[0]}"); per=$(( PART_MB * 1000000 / size )); [ "$per" -lt 1 ] && per=1
  cap=$(( slots * per )); n=${#pols[@]}
  if [ "$cap" -le 0 ]; then log "no file slot left for the ${n} policies"; return 0; fi
  local keep=()
  if [ "$n" -le "$cap" ]; then keep=("${pols[@]}")
  else for ((i = 0; i < cap; i++)); do keep+=("${pols[$(( (n - 1) - (cap - 1 - i) * (n - 1) / (cap > 1 ? cap - 1 : 1) ))]}"); done
  fi
  for f in "${keep[@]}"; do
    chunk+=("$(basename "$f")"); k=$((k + 1))
    if [ "${#chunk[@]}" -eq "$per" ] || [ "$k" -eq "${#keep[@]}" ]; then
      tar -cf "$OUT/policies_$part.tar" -C "$RUN/policies" "${chunk[@]}"; part=$((part + 1)); chunk=()
    fi
  done
  log "policies back: ${#keep[@]} of $n in $((part - 1)) tar(s): $(for f in "${keep[@]}"; do basename "$f" .pt; done | tr '\n' ' ')"
}

source "$HERE/package_tree.sh"  # motionlib importable from this checkout

log "run start: DEVICE=$DEVICE BENCH=${BENCH:-0} TRAIN_MIN=${TRAIN_MIN:-0} RESUME=${RESUME:-none}"
# -P: the checkout's own motionlib/ folder must not shadow the package tree above
python3 -P - 2>&1 <<'EOF' | tee -a "$LOG"
import importlib, platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
for m in ("mujoco", "mujoco_warp", "warp", "rl_games", "gymnasium", "motionlib"):
    mod = importlib.import_module(m)
    print(f"{m:12s} {getattr(mod, '__version__', '?'):10s} {mod.__file__}")
EOF
if [ "${PIPESTATUS[0]}" -ne 0 ]; then log "environment check failed (see above)"; exit 1; fi

for d in "$TRAIN_CLIPS" "$EVAL_CLIPS"; do  # carried clip folders must hold files, not dangling links
  n=$(find -L "$d" -name '*.npz' -type f 2>/dev/null | wc -l)
  log "clips in $d: $n"
  if [ "$n" -eq 0 ]; then log "no readable clips in $d (dangling symlinks?): stopping before the GPU work"; exit 2; fi
done

status=0
if [ "${BENCH:-0}" = "1" ]; then
  log "bench_warp: worlds ${BENCH_WORLDS:-1024 4096 8192}"
  t0=$SECONDS
  # shellcheck disable=SC2086
  timeout -k 10 "${BENCH_TIMEOUT:-300}" python3 -P benchmarks/bench_warp.py --check --device "$DEVICE" --worlds ${BENCH_WORLDS:-1024 4096 8192} \
      ${BENCH_STEPS:+--steps $BENCH_STEPS} ${NOGRAPH} --clips "$TRAIN_CLIPS" 2>&1 | tee "$OUT/bench.txt"
  rc=${PIPESTATUS[0]}; [ "$rc" -ne 0 ] && status=$rc
  log "bench_warp done: rc $rc, $((SECONDS - t0)) s"
fi

if [ -n "${TRAIN_MIN:-}" ] && [ "${TRAIN_MIN}" != "0" ]; then
  left_min=$(awk -v b="${RUN_S:-570}" -v e="$SECONDS" 'BEGIN { printf "%.2f", (b - e - 90) / 60 }')
  TRAIN_MIN=$(awk -v a="$TRAIN_MIN" -v b="$left_min" 'BEGIN { m = (a < b) ? a : b; if (m < 0.5) m = 0.5; printf "%.2f", m }')
  log "train-tracker: preset gpu, device $DEVICE, ${TRAIN_MIN} min (budget left ${left_min} min), run dir $RUN"
  t0=$SECONDS
  args=(train-tracker --preset gpu --device "$DEVICE" --backend warp --clips "$TRAIN_CLIPS"
        --eval-clips "$EVAL_CLIPS" --out "$RUN" --minutes "$TRAIN_MIN" --quiet)
  [ -z "${RESUME:-}" ] && rm -rf "$RUN"  # a fresh run (an earlier one on this host may have left its folder)
  if [ -n "${RESUME:-}" ]; then
    args+=(--resume "$RESUME")
    mkdir -p "$RUN"
    for f in curve.csv policy_best.pt; do
      [ -f "$(dirname "$RESUME")/$f" ] && cp "$(dirname "$RESUME")/$f" "$RUN/$f" && log "carried on: $f"
    done
  fi
  [ -n "${INIT_POLICY:-}" ] && args+=(--init-policy "$INIT_POLICY")
  [ -n "${FEET_SLIP:-}" ] && args+=(--feet-slip "$FEET_SLIP")
  [ -n "${ACTION_RATE:-}" ] && args+=(--action-rate "$ACTION_RATE")
  [ -n "${ENVS:-}" ] && args+=(--envs "$ENVS")
  [ -n "${EVAL_EVERY:-}" ] && args+=(--eval-every "$EVAL_EVERY")
  [ -n "${CLIP_WEIGHT:-}" ] && args+=(--clip-weight "$CLIP_WEIGHT")
  [ -n "$NOGRAPH" ] && args+=("$NOGRAPH")
  hard=$(( ${RUN_S:-570} - SECONDS - 20 ))  # backstop only: the run stops itself at --minutes
  [ "$hard" -lt 60 ] && hard=60
  timeout -k 10 "$hard" python3 -P -m motionlib.cli.main "${args[@]}" 2>&1 | tee "$OUT/train.log"
  rc=${PIPESTATUS[0]}; [ "$rc" -ne 0 ] && status=$rc
  log "train-tracker done: rc $rc, $((SECONDS - t0)) s"

  ckpt=$(ls -t "$RUN"/rl/nn/*.pth 2>/dev/null | head -1)
  [ -n "$ckpt" ] && cp "$ckpt" "$OUT/checkpoint.pth" && log "checkpoint: $(basename "$ckpt")"
  for f in policy_best.pt curve.csv summary.json; do
    [ -f "$RUN/$f" ] && cp "$RUN/$f" "$OUT/$f"
  done
  [ -d "$RUN/rl/summaries" ] && tar -czf "$OUT/tensorboard.tgz" -C "$RUN/rl" summaries
  pack_policies
fi

for f in "$OUT"/*; do  # what comes back: at most MAX_FILE_MB a file
  size=$(stat -c %s "$f")
  if [ "$size" -gt $(( MAX_FILE_MB * 1000000 )) ]; then
    log "dropping $(basename "$f"): $size bytes > $MAX_FILE_MB MB"; rm -f "$f"
  fi
done
log "run end: status $status; files: $(ls "$OUT" | tr '\n' ' ')"
exit $status
