"""Retargeting speed and quality: frames per second per core, against the targets.

    python benchmarks/bench_retarget.py                      # the bundled sample clips (BVH, fitted first)
    python benchmarks/bench_retarget.py --clips out/d1_v2/clips --max-clips 20 --robots g1 h1

Retargets every clip onto each robot in one process, single-threaded (one core: the IK is sequential
per clip), best of ``--repeat`` runs per clip, and prints per robot the frames retargeted per second of IK
(target >= 200 per core; GMR reports 35-70) and the quality figures of ``retarget.report`` against their
targets: joint-limit violations 0, self-collision in <= 1% of frames, foot penetration <= 5 mm, planted
skate no worse than the human's.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_FPS = 200.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, default=None, help="folder of motionlib clips (default: the samples)")
    ap.add_argument("--max-clips", type=int, default=20)
    ap.add_argument("--robots", nargs="+", default=["g1", "h1"])
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per clip (the best counts)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from motionlib.motion.io import find_clips, load_motion
    from motionlib.retarget.description import load_description
    from motionlib.retarget.ik import Retargeter
    from motionlib.retarget.report import clip_report, totals

    if args.clips is None:
        from motionlib.motion.ingest.bvh_fit import bvh_to_motion

        clips = [bvh_to_motion(p) for p in sorted((REPO / "data" / "samples" / "bandai").glob("*.bvh"))]
        where = "data/samples/bandai (fitted from BVH)"
    else:
        clips = [load_motion(f) for f in find_clips(args.clips, required=True)[: args.max_clips]]
        where = str(args.clips)
    frames = sum(c.num_frames for c in clips)
    print(f"retarget benchmark: {len(clips)} clips, {frames} frames, from {where}; one core")
    for robot in args.robots:
        rt = Retargeter(load_description(robot))
        rt.run(clips[0])  # warm-up
        reports, seconds = [], 0.0
        for c in clips:
            best = float("inf")
            for _ in range(args.repeat):
                t = time.perf_counter()
                res = rt.run(c)
                best = min(best, time.perf_counter() - t)
            seconds += best
            reports.append(clip_report(rt.robot, res, c))
        t = totals(reports)
        fps = frames / seconds
        ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
        print(f"{robot}: {fps:7.0f} frames/s per core (target >= {TARGET_FPS:.0f}; GMR 35-70)  {ok(fps >= TARGET_FPS)}")
        print(f"  joint-limit violations {t['joint_limit_violations']} (target 0)  "
              f"{ok(t['joint_limit_violations'] == 0)}; velocity-limit violations {t['velocity_limit_violations']}")
        print(f"  self-collision frames {100 * t['self_collision_frames']:.2f}% (target <= 1%)  "
              f"{ok(t['self_collision_frames'] <= 0.01)}")
        print(f"  foot penetration {t['penetration_mm']:.2f} mm (target <= 5)  {ok(t['penetration_mm'] <= 5.0)}; "
              f"float {t['float_mm']:.2f} mm (human {t['human_float_mm']:.2f})")
        print(f"  planted skate {t['planted_skate_mm']:.2f} mm/frame (human {t['human_planted_skate_mm']:.2f})  "
              f"{ok(t['planted_skate_mm'] <= t['human_planted_skate_mm'])}; all contacts {t['skate_mm']:.2f} "
              f"(human {t['human_skate_mm']:.2f})")
        print(f"  keypoint error {t['keypoint_error_mm']:.1f} mm; joint jerk {t['joint_jerk']:.0f} rad/s^3")


if __name__ == "__main__":
    main()
