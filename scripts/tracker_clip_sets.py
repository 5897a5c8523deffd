"""Build the clip sets the default tracker is trained and evaluated on.

Training (dataset-2, curriculum order): one take per content x style, ordered
round-robin over contents so that the first N clips of the curriculum already
cover every content. Evaluation: dataset-1 (never trained on), one clip per
content in the ``normal`` style (17 clips; the final figures use all 174).

Writes symlink folders ``OUT/train`` and ``OUT/eval`` (clip names are prefixed
with their curriculum rank so that a sorted listing is the curriculum order).
``--loco-weight W`` (W > 1) also writes ``OUT/train_loco``: W - 1 more links to
each locomotion clip of ``OUT/train`` (walk, walk variants, run, dash), so that
training on both folders samples locomotion W times as often as before.

    python scripts/tracker_clip_sets.py out/bandai/clips --out out/tracker_sets --takes 1 --loco-weight 3
"""

from __future__ import annotations

import argparse
import os
import re
from collections import defaultdict
from pathlib import Path

NAME = re.compile(r"^(dataset-\d)_(.+)_([a-z]+)_(\d+)$")
LOCOMOTION = re.compile(r"^(walk|walk-.+|run|dash)$")  # Bandai contents that take steps


def parse(p: Path):
    m = NAME.match(p.stem)
    return (m.group(1), m.group(2), m.group(3), int(m.group(4))) if m else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", type=Path, help="folder of ingested Bandai clips")
    ap.add_argument("--out", type=Path, default=Path("out/tracker_sets"))
    ap.add_argument("--takes", type=int, default=1, help="takes per content x style for training")
    ap.add_argument("--loco-weight", type=int, default=1,
                    help="sampling weight of locomotion clips when training on OUT/train and OUT/train_loco")
    args = ap.parse_args()
    if args.loco_weight < 1:
        ap.error("--loco-weight must be at least 1")

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
    if args.loco_weight > 1:
        d = args.out / "train_loco"
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.npz"):
            old.unlink()
        loco = [f"{i:04d}_{f.name}" for i, f in enumerate(order) if LOCOMOTION.match(parse(f)[1])]
        for copy in range(1, args.loco_weight):
            for name in loco:
                os.symlink(Path("..") / "train" / name, d / f"loco{copy}_{name}")
        print(f"train_loco: {len(loco)} locomotion clips x {args.loco_weight - 1} more links -> {d}")


if __name__ == "__main__":
    main()
