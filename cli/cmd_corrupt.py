"""``motionlib corrupt IN... --out DIR --seed N``: video-estimation-like artifacts on clean clips."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import Failures, add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("corrupt", help="add WHAM-like artifacts (jitter, drift, float/sink, skating, depth noise)",
                       description="Turn clean clips into video-estimation-like ones, reproducibly from --seed, so "
                                   "that refinement can be scored against the known clean clip.")
    p.add_argument("inputs", nargs="+", type=Path, help="motionlib clips or folders of clips")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rot-jitter-deg", type=float, default=None)
    p.add_argument("--height-offset-m", type=float, default=None)
    p.add_argument("--drift-m-per-s", type=float, default=None)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from motionlib.motion.corrupt import CorruptConfig, clip_seed, corrupt
    from motionlib.motion.io import find_clips, load_motion, save_motion

    over = {k: v for k, v in (("rot_jitter_deg", args.rot_jitter_deg), ("height_offset_m", args.height_offset_m),
                              ("drift_m_per_s", args.drift_m_per_s)) if v is not None}
    cfg = CorruptConfig(**over)
    written = []
    failures = Failures()  # an unreadable clip is reported and the others are corrupted
    files = find_clips(args.inputs, required=True)
    for f in tqdm(files, desc="corrupt", unit="clip", disable=args.json or len(files) < 2):
        with failures.one_input():
            clip = load_motion(f)
            seed = clip_seed(args.seed, f.stem)  # per clip, reproducible
            out = args.out / f.name
            save_motion(corrupt(clip, cfg, seed), out)
            written.append(str(out))
    failures.require_some(len(written), "corrupted")
    result = {"out": str(args.out), "clips": len(written), "seed": args.seed}
    rc = failures.finish(result)
    if args.json:
        print_json(result)
    else:
        print(f"corrupted {len(written)} clips -> {args.out}")
        failures.print()
    return rc
