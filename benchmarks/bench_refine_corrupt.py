"""WHAM-artifact benchmark: corrupt clean clips, refine them, score against the clean clip.

    python benchmarks/bench_refine_corrupt.py --clips out/tracker_sets/eval [--policy CKPT] [--seed 0]
    python benchmarks/bench_refine_corrupt.py            # bundled sample clips

For every clip: ``corrupt`` (seeded rotation jitter, root drift, float/sink
offset, foot skating, depth noise) -> ``refine`` with the policy. Prints, as
means over clips, the distance to the clean clip (G-MPJPE, mm) of the
corrupted input and of the refined output, and penetration / float / skate of
input and output with their relative drop (target: output closer to the clean
clip; each artifact down by >= 80%).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    from motionlib.cli.common import add_cleanup_flags, cleanup_config

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, default=None, help="folder of clean motionlib clips")
    ap.add_argument("--policy", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-clips", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the per-clip figures here")
    add_cleanup_flags(ap)
    ap.add_argument("--rewind", type=int, default=None, help="frames a restart goes back (default: refine's)")
    ap.add_argument("--retry-distance", type=float, default=None,
                    help="restart distance, m (default: refine's, the policy's training termination distance; "
                         "0: only at PHC's 0.5 m mean loss)")
    args = ap.parse_args()

    from motionlib.motion import metrics as M
    from motionlib.motion.corrupt import corrupt
    from motionlib.motion.io import find_clips, load_motion
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.default import default_policy_path
    from motionlib.policies.refine import refine_clips

    if args.clips is None:
        from motionlib.motion.ingest.bvh_fit import bvh_to_motion

        clean = [bvh_to_motion(p) for p in sorted((REPO / "data" / "samples" / "bandai").glob("*.bvh"))]
    else:
        clean = [load_motion(f) for f in find_clips(args.clips)[: args.max_clips]]
    policy = TrackingPolicy.load(args.policy or default_policy_path())
    fps = policy.tracking.control_fps
    clean = [c if abs(c.fps - fps) < 1e-9 else c.resample(fps) for c in clean]
    noisy = [corrupt(c, seed=args.seed + i) for i, c in enumerate(clean)]
    results, totals = refine_clips(noisy, policy, retry=True, threads=args.threads, progress=True,
                                   retry_distance=args.retry_distance,
                                   **({} if args.rewind is None else {"rewind": args.rewind}),
                                   cleanup=cleanup_config(args))

    rows = []
    for c, n, r in zip(clean, noisy, results):
        gt = c.joints()[0]
        rows.append({
            "id": Path(str(c.meta.get("source", "clip"))).stem,
            "success": r.report["success"],
            "input_to_clean_mm": M.mpjpe(n.joints()[0], gt),  # mm
            "tracked_to_clean_mm": M.mpjpe(r.tracked.joints()[0], gt),
            "refined_to_clean_mm": M.mpjpe(r.clip.joints()[0][: len(gt)], gt[: r.clip.num_frames]),
            "clean": {k: float(v) for k, v in M.plausibility(c).items()},
            "input": r.report["before"], "tracked": {k: float(v) for k, v in M.plausibility(r.tracked).items()},
            "refined": r.report["after"],
        })
    mean = lambda key, sub=None: float(np.mean([x[key] if sub is None else x[key][sub] for x in rows]))  # noqa: E731
    print(f"refine vs WHAM-like artifacts: {len(rows)} clips, seed {args.seed}, "
          f"policy {args.policy or 'shipped default'}, success {totals['success_rate'] * 100:.0f}%, "
          f"clean-up of the input {'off' if args.no_cleanup else 'on'}"
          f"{' without unslide' if args.no_unslide and not args.no_cleanup else ''}"
          f"{' with foot locking' if args.footlock and not args.no_cleanup else ''}"
          f"{f', smoothing sigma {args.smooth:g}' if args.smooth is not None and not args.no_cleanup else ''}, restart distance "
          f"{totals['retry_distance_m'] or 'PHC loss (0.5 m mean)'}, rewind {totals['rewind_frames']} frames")
    if not args.no_cleanup:
        print(f"  distance to the clean clip of the cleaned-up reference the policy tracks: "
              f"{mean('tracked_to_clean_mm'):.1f} mm")
    print(f"  distance to the clean clip (G-MPJPE): input {mean('input_to_clean_mm'):.1f} mm -> "
          f"refined {mean('refined_to_clean_mm'):.1f} mm")
    for k in ("penetration_mm", "float_mm", "skate_mm", "jitter"):
        a, b, c0 = mean("input", k), mean("refined", k), mean("clean", k)
        drop = 100.0 * (a - b) / a if a > 0 else float("nan")
        print(f"  {k:15s}: clean {c0:8.2f}   input {a:8.2f} -> refined {b:8.2f}   drop {drop:5.1f}%   "
              f"(tracked reference {mean('tracked', k):8.2f})")
    print(f"  real-time factor: {totals['realtime_factor']:.1f}x on {args.threads} threads")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "totals": totals}, indent=1))


if __name__ == "__main__":
    main()
