"""Training references like the ones refine tracks: corrupted clean clips after refine's clean-up.

``refine`` never tracks a clean clip: it tracks the kinematic clean-up (``motion/cleanup.py``)
of a video estimate. This writes, for every clip of a folder and each copy, ``corrupt`` (seeded
as ``motionlib corrupt`` does, per clip name, plus the copy index) followed by
``clean_for_tracking`` with refine's defaults, so that a tracker can be fine-tuned on that
distribution next to the clean clips (``train-tracker --clips CLEAN_DIR THIS_DIR``).

    python scripts/wham_like_clip_set.py out/tracker_sets/train --out out/tracker_sets/train_wham --seed 1000

Seeds 1000.. keep these away from the selection clips of the refine settings (seeds 100..139, README).
A clip that cannot be read or processed is reported and skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="+", type=Path, help="clean clips or folders of clips")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--copies", type=int, default=1, help="corrupted versions per clip")
    args = ap.parse_args()

    from motionlib.motion.cleanup import CleanupConfig, clean_for_tracking
    from motionlib.motion.corrupt import clip_seed, corrupt
    from motionlib.motion.errors import MotionError
    from motionlib.motion.io import find_clips, load_motion, save_motion

    files = find_clips(args.clips, required=True)
    written, failed = 0, []
    for f in tqdm(files, desc="corrupt + clean-up", unit="clip"):
        try:
            clip = load_motion(f)
            for k in range(args.copies):
                seed = clip_seed(args.seed, f.stem) + k  # as `motionlib corrupt`, one more per copy
                save_motion(clean_for_tracking(corrupt(clip, seed=seed), CleanupConfig()), args.out / f"{f.stem}_wham{k}.npz")
                written += 1
        except (MotionError, ValueError, OSError) as e:
            failed.append(f"{f}: {e}")
            tqdm.write(f"skipped {f}: {e}")
    print(f"wrote {written} clips to {args.out}" + (f"; {len(failed)} failed" if failed else ""))


if __name__ == "__main__":
    main()
