"""Build the clip sets the default tracker is trained and evaluated on.

Training (dataset-2, curriculum order): one take per content x style, ordered
round-robin over contents so that the first N clips of the curriculum already
cover every content. Evaluation: dataset-1 (never trained on), one clip per
content in the ``normal`` style (17 clips; the final figures use all 174).

Writes symlink folders ``OUT/train`` and ``OUT/eval`` (clip names are prefixed
with their curriculum rank so that a sorted listing is the curriculum order).
``--augment AUG=REGEX`` (repeatable) adds, after them, a copy of every training
clip whose name matches REGEX under the augmentation AUG (``motion/augment.py``
names: reverse, mirror, speed:F, chained with +), written as a clip named
``RANK_NAME_AUG.npz``. Dataset-2 has walks and turns but no backward walk:
``--augment 'reverse=_(walk|walk-turn-left|walk-turn-right)_'`` adds them.

    python scripts/tracker_clip_sets.py out/bandai/clips --out out/tracker_sets --takes 1
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

from motionlib.motion.augment import augmented, check_augment
from motionlib.motion.errors import MotionError
from motionlib.motion.io import load_motion, save_motion

NAME = re.compile(r"^(dataset-\d)_(.+)_([a-z]+)_(\d+)$")


def parse(p: Path):
    m = NAME.match(p.stem)
    return (m.group(1), m.group(2), m.group(3), int(m.group(4))) if m else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", type=Path, help="folder of ingested Bandai clips")
    ap.add_argument("--out", type=Path, default=Path("out/tracker_sets"))
    ap.add_argument("--takes", type=int, default=1, help="takes per content x style for training")
    ap.add_argument("--augment", action="append", default=[], metavar="AUG=REGEX",
                    help="also train on AUG (e.g. reverse) of the training clips whose name matches REGEX")
    args = ap.parse_args()
    augments = []
    for spec in args.augment:
        aug, sep, pattern = spec.partition("=")
        if not sep or not pattern:
            raise SystemExit(f"--augment {spec!r}: expected AUG=REGEX")
        try:
            check_augment(aug)
            augments.append((aug, re.compile(pattern)))
        except (ValueError, re.error) as e:
            raise SystemExit(f"--augment {spec!r}: {e}")

    train = defaultdict(list)  # content -> [(style, take, path)]
    evals = []
    for p in sorted(args.clips.glob("*.npz")):
        k = parse(p)
        if k is None:
            continue
        ds, content, style, take = k
        if ds == "dataset-2" and take <= args.takes:
            train[content].append((style, take, p))
        elif ds == "dataset-1" and style == "normal":
            evals.append(p)
    order = []
    queues = {c: sorted(v) for c, v in sorted(train.items())}
    while any(queues.values()):
        for c in list(queues):
            if queues[c]:
                order.append(queues[c].pop(0)[2])
    for name, files in (("train", order), ("eval", evals)):
        d = args.out / name
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.npz"):
            old.unlink()
        for i, f in enumerate(files):
            os.symlink(f.resolve(), d / f"{i:04d}_{f.name}")
        print(f"{name}: {len(files)} clips -> {d}")
    rank = len(order)
    for aug, pattern in augments:
        tag, added = re.sub(r"[^A-Za-z0-9.-]+", "-", aug), 0
        for f in (f for f in order if pattern.search(f.stem)):
            try:
                clip = augmented(load_motion(f), aug)
            except MotionError as e:  # reported, and the set is built without it
                print(f"skipped: {e}", file=sys.stderr)
                continue
            save_motion(clip, args.out / "train" / f"{rank:04d}_{f.stem}_{tag}.npz")
            rank, added = rank + 1, added + 1
        print(f"train: + {added} clips under {aug}")


if __name__ == "__main__":
    main()
