#!/usr/bin/env bash
# Train a Unitree G1 tracking policy on retarget clips and measure it on dataset-1 (docs/robots.md "Robot tracking").
#   1. retarget 350 dataset-2 clips onto the G1 for training (35 per content: whole rounds over the 7 styles
#      until at least 30, the first 5 takes of each style) and
#      all 174 dataset-1 clips for evaluation only (never trained on)
#   2. PPO (rl-games) on the robot clips with the humanoid's world-frame terms (train-tracker --robot g1
#      --terms mjcf_robot_world, TERMS), deterministic
#      evaluations on 20 of the training clips (2 per content)
#   3. playback of every dataset-1 clip through the best policy: success rate (PHC's rule), tracking errors
#
#   bash scripts/train_g1_tracker.sh                   # a CPU: 64 envs, one physics thread, MINUTES (30)
#   DEVICE=cuda bash scripts/train_g1_tracker.sh       # one CUDA GPU: MuJoCo Warp, 4096 worlds (--preset gpu)
#
# Each run continues the training state kept in the repository (STATE, policies/data/g1/: the last rl-games
# checkpoint, every evaluation so far, the best policy, one row per run; motionlib.policies.train_state), as
# scripts/train_corpus_tracker.sh does for the human tracker; SAVE=0 trains but leaves the state as it is.
# policy_best.pt: the lowest G-MPJPE among the evaluations within SELECT_WITHIN (0.01) of the best success.
# D2/D1: the ingested datasets' clip folders; DATA: where the robot clips go; RUN: the training run.
set -euo pipefail
cd "$(dirname "$0")/.."
ML=.venv/bin/motionlib
D2=${D2:-out/bandai2/clips}; D1=${D1:-out/d1_v2/clips}
DATA=${DATA:-out/g1}; RUN=${RUN:-runs/g1_tracker}; DEVICE=${DEVICE:-cpu}
STATE=${STATE:-policies/data/g1}; SAVE=${SAVE:-1}; SELECT_WITHIN=${SELECT_WITHIN:-0.01}
TERMS=${TERMS:-mjcf_robot_world}  # the reward term set the state trains with (train-tracker --terms)
if [ "$DEVICE" = cuda ]; then
  MINUTES=${MINUTES:-60}; dev=(--preset gpu --backend warp --device cuda --eval-every "${EVAL_EVERY:-100}")
else
  MINUTES=${MINUTES:-30}; dev=(--envs 64 --threads 1 --eval-every "${EVAL_EVERY:-40}")
fi
# whole rounds over the styles until a content has >= 30 clips (dataset-2_<content>_<style>_<take>.npz): 35
mapfile -t train < <(ls "$D2" | .venv/bin/python -c '
import collections, re, sys
by = collections.defaultdict(lambda: collections.defaultdict(list))
for f in sorted(l.strip() for l in sys.stdin):
    m = re.match(r"dataset-2_(.*)_([a-z]+)_(\d+)\.npz$", f)
    if m: by[m.group(1)][m.group(2)].append(f)
for content, styles in sorted(by.items()):
    picked, i = [], 0
    while len(picked) < 30 and i < max(map(len, styles.values())):
        picked += [styles[s][i] for s in sorted(styles) if i < len(styles[s]) and len(picked) < 30]
        i += 1
    print("\n".join(picked))')
$ML retarget "${train[@]/#/$D2/}" --robot g1 --out "$DATA/train" --json > "$DATA.train.json" || true
$ML retarget "$D1" --robot g1 --out "$DATA/d1" --json > "$DATA.d1.json" || true
mkdir -p "$DATA/eval"
for f in $(ls "$DATA"/train/*.npz | awk -F_ '{c=$0; sub(/_[a-z]+_[0-9]+\.npz$/, "", c); if (n[c]++ < 2) print}'); do
  ln -sf "$(realpath "$f")" "$DATA/eval/"
done
resume=$(.venv/bin/python -m motionlib.policies.train_state prepare "$STATE" "$RUN")  # the curve and best continue
start=(${resume:+--resume "$resume"})
t0=$(date +%s)
$ML train-tracker --robot g1 --clips "$DATA/train" --eval-clips "$DATA/eval" --out "$RUN" --steps "${STEPS:-2e9}" \
    --minutes "$MINUTES" "${dev[@]}" "${start[@]}" ${TERMS:+--terms "$TERMS"} --select-within "$SELECT_WITHIN" --quiet
minutes=$(awk "BEGIN { printf \"%.1f\", ($(date +%s) - $t0) / 60 }")
if [ "$SAVE" = 1 ]; then
  .venv/bin/python -m motionlib.policies.train_state save "$RUN" "$STATE" --minutes "$minutes"
fi
$ML plot-curve "$RUN" --out "$RUN/curve.png"
$ML playback "$DATA/d1" --robot g1 --policy "$RUN/policy_best.pt" --json > "$RUN/playback_d1.json"
