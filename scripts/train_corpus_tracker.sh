#!/usr/bin/env bash
# Corpus-scale tracker training, one segment at a time, each continuing the training state kept in the
# repository (policies/data/corpus/):
#   checkpoint.pth   rl-games checkpoint of the last segment: actor, critic, optimizer, observation normaliser
#   curve.csv        every deterministic validation of every segment (env steps continue across segments)
#   segments.csv     one row per segment: where it ran, its env steps and minutes
#   policy_best.pt   the best policy on the validation split so far
#
#   MINUTES=60 bash scripts/train_corpus_tracker.sh              # a CPU: 64 envs
#   PRESET=gpu MINUTES=9 bash scripts/train_corpus_tracker.sh    # one CUDA GPU: MuJoCo Warp, 4096 worlds
#   SAVE=0 ...                                                   # train, but leave the state as it is
#   ARMATURE=4 BODY_JERK=1e-6 (the defaults)                     # refine's armature, the body-jerk reward term
#   TARGET_HOLD=zoh (the default)                               # foh: the PD target ramped over the substeps
#   SELECT_WITHIN=0.01 (the default)                             # policy_best.pt: the lowest G-MPJPE within one
#                                                                # point of the best validation success
#
# 1. ingest Bandai dataset-2 on the mean body (out/bandai2) and on the performers' own skeletons
#    (out/bandai2_fitted, `--body fitted`), once
# 2. `motionlib tracker-sets --corpus`: every dataset-2 clip on both bodies, a 5 % hash split of the clips for
#    validation (take 1, which the shipped policy trained on, never in it); dataset-1 in neither
# 3. `motionlib train-tracker --resume` the state's checkpoint for MINUTES of wall clock (the first segment
#    starts from the shipped policy, `--init-policy`); failure-weighted sampling, locomotion 3x; in refine's
#    physics (armature x4) with the body-jerk term (segments 1-2 ran with ARMATURE=1 BODY_JERK=0)
# 4. SAVE=1: the segment's last checkpoint, its validations and its best policy (if better) become the state
# Which policy ships, and the figures on dataset-1: docs/tracking.md "Corpus training".
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ML=(${ML:-.venv/bin/motionlib})
STATE=${STATE:-policies/data/corpus}
RUN=${RUN:-runs/corpus_segment}
SETS=${SETS:-out/corpus_sets}
DATA=${DATA:-../shared/data/bandai/dataset-2.tar.xz}
MINUTES=${MINUTES:-60}
SAVE=${SAVE:-1}
PRESET=${PRESET:-cpu}
ARMATURE=${ARMATURE:-4}
BODY_JERK=${BODY_JERK:-1e-6}
SELECT_WITHIN=${SELECT_WITHIN:-0.01}
TARGET_HOLD=${TARGET_HOLD:-zoh}
if [ "$PRESET" = gpu ]; then
  dev=(--preset gpu --eval-every "${EVAL_EVERY:-50}")
elif [ "$PRESET" = cpu ]; then
  dev=(--envs "${ENVS:-64}" --threads "${THREADS:-2}" --horizon 1024 --minibatches 2 --mini-epochs 5
       --eval-every "${EVAL_EVERY:-5}")
else
  echo "PRESET must be cpu or gpu, not '$PRESET'" >&2; exit 2
fi

[ -f out/bandai2/manifest.json ] || "${ML[@]}" ingest "$DATA" --out out/bandai2 --quiet
[ -f out/bandai2_fitted/manifest.json ] || "${ML[@]}" ingest "$DATA" --out out/bandai2_fitted --body fitted --quiet
"${ML[@]}" tracker-sets out/bandai2/clips --fitted out/bandai2_fitted/clips --corpus --out "$SETS"

resume=$("$PY" -m motionlib.policies.train_state prepare "$STATE" "$RUN")  # the curve and best continue
if [ -n "$resume" ]; then
  start=(--resume "$resume")
else
  start=(--init-policy policies/data/default_tracker.pt --critic-warmup 8)
fi
t0=$(date +%s)
"${ML[@]}" train-tracker --clips "$SETS/train" --eval-clips "$SETS/val" --out "$RUN" "${start[@]}" "${dev[@]}" \
    --clip-weight '_(walk|walk-[a-z-]+|run|dash)_=3' --armature-scale "$ARMATURE" --body-jerk "$BODY_JERK" \
    --select-within "$SELECT_WITHIN" --target-hold "$TARGET_HOLD" \
    --steps 1e10 --minutes "$MINUTES"
minutes=$(awk "BEGIN { printf \"%.1f\", ($(date +%s) - $t0) / 60 }")

if [ "$SAVE" = 1 ]; then
  "$PY" -m motionlib.policies.train_state save "$RUN" "$STATE" --threads "${THREADS:-2}" --minutes "$minutes"
fi
