#!/usr/bin/env bash
# Pack the Python packages that a CUDA host without package access lacks (MuJoCo, MuJoCo Warp, warp,
# rl-games, gymnasium and their small needs) and the clip sets for tools/offline-gpu/train_gpu.sh, in parts
# of at most PART_MB (for hosts that limit the size of one upload), and print the commands to run there.
#
#   bash tools/offline-gpu/pack_site.sh                           # writes .w1/, .w2/, out/gpu_clips/ (git-ignored)
#   SETS=out/tracker_sets_t4 bash tools/offline-gpu/pack_site.sh  # a larger clip set: one more part
#
# Why parts: warp-lang's wheel alone is 149 MB (warp.so is 299 MB unpacked), more than one upload may
# carry on such a host. So the packages are installed here for the host's Python (HOST_PY, 3.12, x86-64
# manylinux), pruned (warp's examples/tests and its CPU compiler warp-clang.so, mujoco-warp's test data,
# mujoco's docs; mujoco-studio, the viewer, is not installed), packed as one tar.xz (~90 MB) and split.
# Each upload but the last parks its part in /tmp/parts on the host; the last carries the clips (and the
# last part where it fits beside them), unpacks and trains. All uploads must reach the same host.
# The host is assumed to have torch (CUDA), numpy, scipy, absl-py, etils, tensorboard, pyyaml, psutil and
# tqdm already.
#
# Environment:
#   PART_MB=64     the most one upload may carry, in MiB; the checkout's tracked files (which travel with
#                  every upload) count against it, with a 1 MB margin. Set it to what your host allows
#   SETS           clip sets to carry: SETS/train and SETS/eval (default out/tracker_sets; symlinks dereferenced)
#   PY=python3     the Python that downloads and installs here
#   HOST_PY=3.12   the host's Python version (wheels are fetched for it)
#   SITE           where the packages are installed before packing (default /tmp/motionlib_gpu_site)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
PY="${PY:-python3}"; HOST_PY="${HOST_PY:-3.12}"; PART_MB="${PART_MB:-64}"
SETS="${SETS:-out/tracker_sets}"  # clip sets to carry: SETS/train and SETS/eval (symlinks dereferenced)
WHL="$REPO/.whl" SITE="${SITE:-/tmp/motionlib_gpu_site}" TARBALL=/tmp/motionlib_gpu_site.tar.xz
exclude="$(git rev-parse --git-common-dir)/info/exclude"  # a worktree's .git is a file
mkdir -p "$(dirname "$exclude")"
for d in /.whl/ '/.w[0-9]*/' /out/gpu_clips/; do
  grep -qxF "$d" "$exclude" 2>/dev/null || echo "$d" >> "$exclude"
done
plat=(--python-version "$HOST_PY" --implementation cp --only-binary=:all:
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
pkgs=(mujoco==4.0.0 mujoco-core==4.0.0 glfw==2.11.0 pyopengl mujoco-warp==4.0.0 warp-lang==1.19.0
      rl-games==1.6.5 gymnasium==1.4.0 farama-notifications==0.0.6 setproctitle tensorboardX==2.6.5 watchdog)
echo "downloading ${#pkgs[@]} wheels to $WHL"
"$PY" -m pip download -q --no-deps "${plat[@]}" -d "$WHL" "${pkgs[@]}"
echo "installing for Python $HOST_PY into $SITE"
rm -rf "$SITE"
"$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "${plat[@]}" --find-links "$WHL" "${pkgs[@]}"
rm -rf "$SITE"/warp/examples "$SITE"/warp/tests "$SITE"/warp/bin/warp-clang.so "$SITE"/mujoco_warp/test_data "$SITE"/mujoco/doc
du -sh "$SITE"
echo "packing (xz, a few minutes on 2 cores)"
tar -C "$SITE" -cf - . | xz -T0 -6 > "$TARBALL"

rm -rf .w[0-9]* out/gpu_clips && mkdir -p out/gpu_clips
cp -rL "$SETS"/train "$SETS"/eval out/gpu_clips/
limit=$((PART_MB * 1024 * 1024))
tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)  # travels with every upload
room=$((limit - tree - 1000000))                                  # 1 MB margin
clips=$(du -sb out/gpu_clips | cut -f1)
[ "$clips" -le "$room" ] || { echo "the clips ($clips bytes) do not fit in one upload beside the tree: carry fewer"; exit 1; }
rm -f /tmp/motionlib_gpu_site.part_*
split -b "$room" -d "$TARBALL" /tmp/motionlib_gpu_site.part_
parts=(/tmp/motionlib_gpu_site.part_*)
n=${#parts[@]}
for ((i = 0; i < n; i++)); do mkdir -p ".w$((i + 1))" && mv "${parts[$i]}" ".w$((i + 1))/"; done
last=$(du -sb ".w$n" | cut -f1)
park=$n
[ $((last + clips)) -le "$room" ] && park=$((n - 1))  # the last part travels with the clips where it fits
echo "working tree $tree bytes; $n package part(s) of at most $room; clips $clips"
echo
echo "On the host, from the checkout's root, one upload after the other:"
for ((i = 1; i <= park; i++)); do
  echo "  upload $i: the working tree with .w$i/; run:  mkdir -p /tmp/parts && cp .w$i/* /tmp/parts/"
done
with="out/gpu_clips/"
[ "$park" -lt "$n" ] && with=".w$n/ and $with"
echo "  upload $((park + 1)): the working tree with $with; run:"
echo "    mkdir -p /tmp/parts /tmp/site && { cp .w[0-9]*/* /tmp/parts/ 2>/dev/null; true; } && cat /tmp/parts/* | xz -d -T4 | tar -x -C /tmp/site || exit 3;"
echo "    export PYTHONPATH=/tmp/site; OUT=/tmp/out TRAIN_MIN=9 TRAIN_CLIPS=out/gpu_clips/train EVAL_CLIPS=out/gpu_clips/eval"
echo "    CLIP_WEIGHT='_(walk|walk-[a-z-]+|run|dash)_=3' bash tools/offline-gpu/train_gpu.sh"
echo "A further run on the same host can resume (packages and kernel cache are still there): copy the"
echo "newest /tmp/motionlib_gpu_run/rl/nn/*.pth with curve.csv and policy_best.pt into one folder, then"
echo "RESUME=<that .pth> RUN=/tmp/run2 ... bash tools/offline-gpu/train_gpu.sh (tools/offline-gpu/README.md)."
