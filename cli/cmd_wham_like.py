"""``motionlib wham-like CLIPS... --out DIR [--seed S] [--copies N]``: tracker training references like the
ones refine tracks (corrupted clean clips after refine's clean-up)."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import Failures, add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("wham-like", help="corrupt clean clips and clean them up as refine does (tracker training data)",
                       description="refine never tracks a clean clip: it tracks the kinematic clean-up of a video "
                                   "estimate. For every clip and copy, write `corrupt` (seeded per clip name as "
                                   "`motionlib corrupt` does, plus the copy index) followed by refine's default "
                                   "clean-up, as OUT/NAME_wham<copy>.npz, so that a tracker can be fine-tuned on "
                                   "that distribution next to the clean clips (train-tracker --clips CLEAN OUT). "
                                   "A clip that cannot be read or processed is reported and skipped.")
    p.add_argument("clips", nargs="+", type=Path, help="clean clips or folders of clips")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=1000,
                   help="corruption seed (default 1000: away from the refine settings' selection seeds 100..139)")
    p.add_argument("--copies", type=int, default=1, help="corrupted versions per clip (default 1)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from motionlib.policies.clip_sets import write_wham_like

    failures = Failures()
    written = write_wham_like(args.clips, args.out, args.seed, args.copies, guard=failures.one_input,
                              progress=not args.json)
    failures.require_some(len(written), "corrupted and cleaned up")
    result = {"out": str(args.out), "clips": len(written), "seed": args.seed, "copies": args.copies}
    rc = failures.finish(result)
    if args.json:
        print_json(result)
    else:
        print(f"wrote {len(written)} clips to {args.out}" + (f"; {len(failures.errors)} failed" if failures.errors
                                                             else ""))
        failures.print()
    return rc
