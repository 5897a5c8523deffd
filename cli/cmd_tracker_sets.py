"""``motionlib tracker-sets CLIPS... --out DIR [--takes N] [--augment AUG=REGEX]``: the default tracker's
training and evaluation clip sets."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import Failures, add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("tracker-sets", help="build the training and evaluation clip sets of the default tracker",
                       description="From ingested Bandai clips (dataset-N_CONTENT_STYLE_TAKE), write OUT/train: "
                                   "the first --takes takes of every dataset-2 content x style, round-robin over "
                                   "contents (curriculum order), and OUT/eval: every dataset-1 clip in the "
                                   "'normal' style (never trained on). Both are folders of symlinks named RANK_NAME "
                                   "(earlier *.npz entries are replaced). --augment adds, after the training "
                                   "clips, a copy of each one whose name matches REGEX under AUG, written as "
                                   "RANK_NAME_AUG.npz; a clip that cannot be read is reported and left out.")
    p.add_argument("clips", nargs="+", type=Path, help="ingested Bandai clips or folders of them")
    p.add_argument("--out", type=Path, required=True, help="folder of the sets (OUT/train, OUT/eval)")
    p.add_argument("--takes", type=int, default=1, help="takes per content x style for training (default 1)")
    p.add_argument("--augment", action="append", default=[], metavar="AUG=REGEX",
                   help="also train on AUG (motion.augment names: reverse, mirror, speed:F, posture:SEED, chained "
                        "with +) of the training clips whose name matches REGEX, e.g. "
                        "'reverse=_(walk|walk-turn-left|walk-turn-right)_' (repeatable)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from motionlib.policies.clip_sets import write_tracker_sets

    failures = Failures()  # a clip that cannot be augmented is reported and the set is built without it
    sets = write_tracker_sets(args.clips, args.out, args.takes, args.augment, guard=failures.one_input)
    result = {"out": str(sets.out), "train": len(sets.train), "eval": len(sets.eval), "augmented": sets.augmented}
    rc = failures.finish(result)
    if args.json:
        print_json(result)
    else:
        print(f"train: {len(sets.train)} clips -> {sets.out / 'train'}")
        print(f"eval: {len(sets.eval)} clips -> {sets.out / 'eval'}")
        for aug, n in sets.augmented.items():
            print(f"train: + {n} clips under {aug}")
        failures.print()
    return rc
