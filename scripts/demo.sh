#!/usr/bin/env bash
# `make demo`: the main job on the bundled sample clips.
# Ingest (BVH -> SMPL fit) -> inspect -> D135 round trip -> tokens round trip -> render a video ->
# physics refine -> the walk on the Unitree G1 (ingest, refine, retarget, export in one command) ->
# the shipped motion-language model: a motion from a sentence (rendered), and captions of the clips.
set -euo pipefail
cd "$(dirname "$0")/.."
ML=.venv/bin/motionlib
OUT=${OUT:-out/demo}
CLIP=$OUT/clips/dataset-1_walk_normal_001.npz

echo "== 1. ingest the bundled Bandai samples (BVH -> SMPL clips + manifest)"
$ML ingest data/samples/bandai --out "$OUT" --workers 2
echo
echo "== 2. inspect a clip"
$ML info "$CLIP"
echo
echo "== 3. SMPL-D135 features round trip"
$ML features "$CLIP" --check --out "$OUT/dataset-1_walk_normal_001.d135.npy"
echo
echo "== 4. MotionBook tokens round trip with the shipped 2D-LFQ tokenizer (tokenize, decode, score)"
$ML tokenize "$OUT/clips"
$ML detokenize "$OUT/clips" --out "$OUT/detokenized"
$ML eval-tokenizer "$OUT/clips"
echo
echo "== 5. render the walk"
$ML render "$CLIP" -o "$OUT/walk.mp4" --caption
$ML render "$CLIP" --frame 60 --png "$OUT/walk_frame60.png"
echo
echo "== 6. physics refinement with the shipped tracking policy (report + before/after video)"
$ML refine "$CLIP" --out "$OUT/refined" --video --no-resume  # always refine: a rerun would keep the last result
echo
echo "== 7. the walk on the Unitree G1: BVH -> ingest -> refine -> retarget (mink IK) -> export, one report"
$ML robot data/samples/bandai/dataset-1_walk_normal_001.bvh --robot g1 --out "$OUT/robot" --format npz,csv --no-resume
echo
echo "== 8. the shipped motion-language model: a motion from a sentence (rendered), captions of the clips"
$ML generate "a person walks forward" -o "$OUT/generated/walk_forward.npz" --seconds 4 --seed 0 \
  --render "$OUT/generated/walk_forward.mp4"
$ML caption "$OUT/clips"
echo
echo "demo outputs in $OUT: clips/ (with <clip>.tokens.npz), detokenized/, manifest.json, walk.mp4, walk_frame60.png,"
echo "  refined/clips/, refined/report.json, refined/dataset-1_walk_normal_001_before_after.mp4,"
echo "  robot/report.json, robot/dataset-1_walk_normal_001/g1/ (robot clip .npz and .csv),"
echo "  generated/walk_forward.npz and .mp4"
