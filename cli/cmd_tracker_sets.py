"""``motionlib tracker-sets CLIPS... --out DIR [--takes N] [--augment AUG=REGEX]``: the default tracker's
training and evaluation clip sets; ``--corpus [--fitted DIR]``: the corpus-scale training and validation sets."""

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
                                   "RANK_NAME_AUG.npz; a clip that cannot be read is reported and left out. "
                                   "--corpus writes the corpus-scale sets instead: OUT/train every dataset-2 clip "
                                   "but a validation split (SHA-1 of the name 0 mod --val-every; take 1 never), "
                                   "OUT/val that split, dataset-1 in neither; with --fitted each clip twice, as "
                                   "mean_NAME (CLIPS, one folder) and fit_NAME (the same clips ingested with "
                                   "--body fitted).")
    p.add_argument("clips", nargs="+", type=Path, help="ingested Bandai clips or folders of them")
    p.add_argument("--out", type=Path, required=True, help="folder of the sets (OUT/train, OUT/eval)")
    p.add_argument("--takes", type=int, default=1, help="takes per content x style for training (default 1)")
    p.add_argument("--augment", action="append", default=[], metavar="AUG=REGEX",
                   help="also train on AUG (motion.augment names: reverse, mirror, speed:F, posture:SEED, chained "
                        "with +) of the training clips whose name matches REGEX, e.g. "
                        "'reverse=_(walk|walk-turn-left|walk-turn-right)_' (repeatable)")
    p.add_argument("--corpus", action="store_true",
                   help="corpus-scale sets: every dataset-2 clip, a hash split for validation (OUT/train, OUT/val)")
    p.add_argument("--fitted", type=Path,
                   help="--corpus: the same clips ingested with --body fitted; each clip then trains on both bodies")
    p.add_argument("--val-every", type=int, default=20,
                   help="--corpus: a clip is in validation when its name's SHA-1 is 0 modulo this (default 20)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.corpus:
        return run_corpus(args)
    if args.fitted is not None:
        raise SystemExit("tracker-sets: --fitted needs --corpus")
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


def run_corpus(args) -> int:
    from motionlib.policies.clip_sets import write_corpus_sets

    if len(args.clips) != 1 or args.augment or args.takes != 1:
        raise SystemExit("tracker-sets --corpus: one folder of clips, without --takes or --augment")
    bodies = {"mean": args.clips[0], "fit": args.fitted} if args.fitted is not None else {"clip": args.clips[0]}
    try:
        sets = write_corpus_sets(bodies, args.out, args.val_every)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"tracker-sets: {e}") from None
    result = {"out": str(sets.out), "train": {b: len(v) for b, v in sets.train.items()},
              "val": {b: len(v) for b, v in sets.val.items()}, "missing": sets.missing}
    if args.json:
        print_json(result)
    else:
        for sub in ("train", "val"):
            counts = ", ".join(f"{n} {b}" for b, n in result[sub].items())
            print(f"{sub}: {counts} -> {sets.out / sub}")
        for name in sets.missing:
            print(f"left out (not on every body): {name}")
    return 0
