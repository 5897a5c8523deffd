"""WHAM-artifact benchmark: corrupt clean clips, refine them, score against the clean clip.

    python benchmarks/bench_refine_corrupt.py --clips out/tracker_sets/eval [--policy CKPT] [--seed 0]
    python benchmarks/bench_refine_corrupt.py            # bundled sample clips

For every clip: ``corrupt`` (seeded rotation jitter, root drift, float/sink
offset, foot skating, depth noise) -> ``refine`` with the policy. Prints, as
means over clips, the distance to the clean clip (G-MPJPE, mm) of the
corrupted input and of the refined output, and penetration / float / skate of
input and output with their relative drop (target: output closer to the clean
clip; each artifact down by >= 80%).

What "refined" is follows refine's output: by default the continuous segments
refine writes (cut at restarts, those under 1 s dropped), and every figure of a
clip, the clean clip's, the input's and the tracked reference's included, is
taken over the frames kept (frame-weighted over its segments), so input and
output are compared on the same frames; a clip with nothing kept is left out
of the means (their number is printed). ``--keep-restarts``: the whole
trajectory of every clip, jumps back to the reference included, over all
frames (the figures before the cut).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    from motionlib.cli.common import action_filter_config, add_cleanup_flags, add_control_flags, cleanup_config

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, default=None, help="folder of clean motionlib clips")
    ap.add_argument("--policy", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-clips", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the per-clip figures here")
    ap.add_argument("--keep-restarts", action="store_true",
                    help="score the whole refined trajectory, jumps at restarts included (refine --keep-restarts)")
    add_cleanup_flags(ap)
    add_control_flags(ap, "refine's")
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
    from motionlib.policies.refine import ACTION_FILTER, refine_clips

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
                                   cleanup=cleanup_config(args), keep_restarts=args.keep_restarts,
                                   action_filter=action_filter_config(args, ACTION_FILTER), substeps=args.substeps)

    def over(segs, fn) -> float | dict:
        """``fn(start, end, segment)`` frame-weighted over the segments (a dict: per key)."""
        w = np.array([s.end - s.start for s in segs], dtype=np.float64) / sum(s.end - s.start for s in segs)
        vals = [fn(s.start, s.end, s) for s in segs]
        if isinstance(vals[0], dict):
            return {k: float(sum(wi * v[k] for wi, v in zip(w, vals))) for k in vals[0]}
        return float(sum(wi * v for wi, v in zip(w, vals)))

    rows = []
    for c, n, r in zip(clean, noisy, results):
        if not r.segments:
            continue  # nothing kept: counted below
        gt, inp, trk = c.joints()[0], n.joints()[0], r.tracked.joints()[0]
        plaus = lambda m: {k: float(v) for k, v in M.plausibility(m).items()}  # noqa: E731
        rows.append({
            "id": Path(str(c.meta.get("source", "clip"))).stem,
            "success": r.report["success"], "frames": r.report["frames"]["kept"],
            "input_to_clean_mm": over(r.segments, lambda a, b, s: M.mpjpe(inp[a:b], gt[a:b])),  # mm
            "tracked_to_clean_mm": over(r.segments, lambda a, b, s: M.mpjpe(trk[a:b], gt[a:b])),
            "refined_to_clean_mm": over(r.segments, lambda a, b, s: M.mpjpe(s.clip.joints()[0], gt[a:b])),
            "clean": over(r.segments, lambda a, b, s: plaus(c[a:b])),
            "input": over(r.segments, lambda a, b, s: plaus(n[a:b])),
            "tracked": over(r.segments, lambda a, b, s: plaus(r.tracked[a:b])),
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
    fr = totals["frames"]
    what = "whole trajectories, jumps at restarts included" if args.keep_restarts else "the segments refine writes"
    print(f"  output: {what}; frames kept {fr['kept']:,} of {fr['input']:,} ({fr['kept_share'] * 100:.1f}%) "
          f"in {totals['segments']} clip(s); {totals['cuts']} cut(s); {totals['clips_without_output']} clip(s) with nothing kept, left out; "
          f"every figure below is over the frames kept")
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
