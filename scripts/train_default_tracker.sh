#!/usr/bin/env bash
# Reproduce the shipped default tracker (policies/data/default_tracker.pt) and its learning curve.
#   1. ingest Bandai (both sets) into out/bandai
#   2. clip sets: dataset-2 one take per content x style (70 clips, curriculum order), dataset-1 for evaluation
#   3. PPO (rl-games), curriculum starting on 10 clips, evaluation every 200 epochs on unseen dataset-1 clips
# Resume an interrupted run with RESUME=runs/default_tracker/rl/nn/<checkpoint>.pth
set -euo pipefail
cd "$(dirname "$0")/.."
ML=.venv/bin/motionlib
STEPS=${STEPS:-3e7}
RUN=${RUN:-runs/default_tracker}
[ -f out/bandai/manifest.json ] || $ML ingest ../shared/data/bandai --out out/bandai
.venv/bin/python scripts/tracker_clip_sets.py out/bandai/clips --out out/tracker_sets --takes 1
$ML train-tracker --clips out/tracker_sets/train --eval-clips out/tracker_sets/eval --out "$RUN" \
    --steps "$STEPS" --envs 64 --threads 2 --curriculum 10 --eval-every 200 \
    ${RESUME:+--resume "$RESUME"}
# ship the evaluation-selected policy
cp "$RUN/policy_best.pt" policies/data/default_tracker.pt
