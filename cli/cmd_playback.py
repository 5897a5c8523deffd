"""``motionlib playback CLIPS... --robot g1 [--policy P] [--out DIR] [--video out.mp4] [--json]``: robot clips
through a tracking policy in physics (``retarget.playback``)."""

from __future__ import annotations

import json
from pathlib import Path

from motionlib.cli.common import add_json_flag, add_robot_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("playback", help="play robot clips through a tracking policy in physics",
                       description="Play robot clips (written by motionlib retarget) through a robot tracking policy "
                                   "in MuJoCo and report, per clip and in total, the success rate (PHC's rule: lost "
                                   "when the tracked bodies' mean distance to the reference exceeds 0.5 m), global "
                                   "and root-relative tracking errors (mm), the joint position error (rad) and the "
                                   "simulated feet's skate, penetration and float (mm). See docs/robots.md "
                                   "\"Robot tracking\".")
    p.add_argument("clips", type=Path, nargs="+", help="robot clip files (.npz) or folders")
    add_robot_flag(p)
    p.add_argument("--policy", type=Path, default=None,
                   help="robot tracking policy (train-tracker --robot); default: the robot's shipped tracker, else "
                        "the zero policy (PD on the reference joint positions alone)")
    p.add_argument("--out", type=Path, default=None,
                   help="write the simulated motion per clip: DIR/<clip>.npz (the robot clip layout) and "
                        "DIR/<clip>.playback.json")
    p.add_argument("--video", type=Path, default=None,
                   help="an .mp4 of the simulated robot beside the reference (several clips: one per clip, "
                        "<stem>_<clip>.mp4)")
    p.add_argument("--threads", type=int, default=None, help="physics threads (default: all cores)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from motionlib.motion.errors import MotionError
    from motionlib.retarget.playback import playback_clips

    try:
        result = playback_clips(args.clips, args.robot, args.policy, args.out, args.video, threads=args.threads,
                                progress=not args.json)
    except (MotionError, ValueError) as e:
        raise SystemExit(f"playback: {e}")
    code = 1 if result["failures"] else 0
    if args.json:
        print_json(result)
        return code
    for name, r in result["clips"].items():
        state = "tracked" if r["success"] else f"lost at frame {r['fail_frame']}"
        print(f"{name}: {state}, G-MPJPE {r['g_mpjpe_mm']:.1f} mm, joints {r['joint_error_rad']:.3f} rad")
    for f in result["failures"]:
        print(f"  failed: {f['file']}: {f['error']}")
    print(json.dumps({"robot": result["robot"], "policy": result["policy"], **result["total"]}, indent=1))
    return code
