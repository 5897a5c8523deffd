"""``motionlib features CLIP [--check] [--out F.npy]`` and ``--stats`` over a dataset."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import Failures, add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("features", help="SMPL-D135 features: write, check the round trip, dataset statistics",
                       description="Encode clips as SMPL-D135 features (135 numbers per frame; layout in "
                                   "motionlib.motion.features). --check decodes them again and reports the worst "
                                   "joint position / rotation error. --stats computes mean/std over all given clips.")
    p.add_argument("clips", nargs="+", type=Path, help="motionlib clips or folders")
    p.add_argument("--out", type=Path, default=None, help="features .npy (one clip) or stats .npz (--stats)")
    p.add_argument("--check", action="store_true", help="report the decode(encode(clip)) round-trip error")
    p.add_argument("--stats", action="store_true", help="compute normalisation statistics over the clips")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np
    from tqdm import tqdm

    from motionlib.motion.io import find_clips
    from motionlib.motion.atomic import atomic_path
    from motionlib.motion.feature_stats import StatsAccumulator
    from motionlib.motion.features import encode, roundtrip_error
    from motionlib.motion.io import load_motion

    files = find_clips(args.clips, required=True)
    acc = StatsAccumulator()
    worst = {"max_joint_err_m": 0.0, "max_rot_err_rad": 0.0, "clip": None}
    frames, done, dim = 0, 0, 0
    failures = Failures()  # an unreadable clip is reported and the others are encoded
    for f in tqdm(files, desc="features", unit="clip", disable=args.json or len(files) < 2):
        with failures.one_input():
            clip = load_motion(f)
            feats, origin = encode(clip)
            frames += clip.num_frames
            done, dim = done + 1, int(feats.shape[1])
            acc.add(feats)
            if args.check:
                e = roundtrip_error(clip)
                if e["max_joint_err_m"] >= worst["max_joint_err_m"]:
                    worst.update(max_joint_err_m=e["max_joint_err_m"], clip=str(f))
                worst["max_rot_err_rad"] = max(worst["max_rot_err_rad"], e["max_rot_err_rad"])
            if args.out is not None and not args.stats and len(files) == 1:
                with atomic_path(args.out) as tmp:
                    with open(tmp, "wb") as fh:
                        np.save(fh, feats)
    failures.require_some(done, "encoded")
    result = {"clips": done, "frames": frames, "dim": dim}
    if args.check:
        result.update(roundtrip_max_joint_err_m=worst["max_joint_err_m"],
                      roundtrip_max_rot_err_rad=worst["max_rot_err_rad"], worst_clip=worst["clip"])
    if args.stats:
        stats = acc.result()
        out = args.out or Path("d135_stats.npz")
        stats.save(out)
        result.update(stats=str(out), mean_abs_mean=float(np.abs(stats.mean).mean()), std_min=float(stats.std.min()))
    elif args.out is not None:
        result["features"] = str(args.out)
    rc = failures.finish(result)
    if args.json:
        print_json(result)
    else:
        print(f"D135 features: {result['clips']} clip(s), {frames} frames x {result['dim']}")
        if args.check:
            print(f"round trip: max joint error {worst['max_joint_err_m']:.3g} m, "
                  f"max rotation error {worst['max_rot_err_rad']:.3g} rad")
        if "stats" in result:
            print(f"statistics written to {result['stats']}")
        if "features" in result:
            print(f"features written to {result['features']}")
        failures.print()
    return rc
