"""``motionlib retarget CLIPS... --robot g1|h1 --out DIR``: human clips onto a humanoid robot (resumable)."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import Failures, add_json_flag, print_json


def register(sub) -> None:
    from motionlib.retarget.description import available_robots

    p = sub.add_parser("retarget", help="retarget clips onto a humanoid robot (Unitree G1, H1)",
                       description="Retarget every clip onto a robot by IK over the whole clip (mink on MuJoCo): "
                                   "scaled per body segment, joint and velocity limits hard, planted feet held, "
                                   "feet on the floor, self-collision avoided. Writes DIR/<clip>.npz (joint and "
                                   "body states, the BeyondMimic / mjlab layout) or <clip>.csv, and "
                                   "DIR/<clip>.report.json, atomically; finished clips are kept on a rerun. "
                                   "See docs/robots.md.")
    p.add_argument("clips", type=Path, nargs="+", help="clip files or dataset folders")
    p.add_argument("--robot", default="g1",
                   help=f"shipped robot ({', '.join(available_robots())}) or a robot description .json "
                        "(default g1)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--format", choices=("npz", "csv"), default="npz",
                   help="npz (default): joint and body states; csv: root xyz, root quaternion xyzw, joints "
                        "(GMR / BeyondMimic)")
    p.add_argument("--force", action="store_true", help="retarget clips that are already done")
    p.add_argument("--no-collision", action="store_true", help="IK without the self-collision limit (faster)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from motionlib.motion.atomic import write_text_atomic
    from motionlib.motion.io import find_clips
    from motionlib.retarget.batch import finished_report, retarget_file
    from motionlib.retarget.description import load_description
    from motionlib.retarget.ik import RetargetConfig, Retargeter
    from motionlib.retarget.report import totals

    import json

    desc = load_description(args.robot)
    retargeter = Retargeter(desc, RetargetConfig(avoid_collisions=not args.no_collision))
    files = find_clips(args.clips, required=True)
    failures = Failures()
    reports, done, kept = [], 0, 0
    for f in tqdm(files, desc=f"retarget {desc.name}", unit="clip", disable=args.json or len(files) < 2):
        rep = None if args.force else finished_report(f, args.out, args.format, desc.name)
        if rep is not None:
            kept += 1
            reports.append(rep)
            continue
        with failures.one_input():
            reports.append(retarget_file(retargeter, f, args.out, args.format))
            done += 1
    figures = {k: v for k, v in totals([{k: v for k, v in r.items() if k not in ("clip", "robot")}
                                        for r in reports]).items()}
    result = {"robot": desc.name, "clips": len(files), "retargeted": done, "kept": kept, "out": str(args.out),
              "format": args.format, "totals": figures}
    rc = failures.finish(result)
    if reports:
        write_text_atomic(args.out / "report.json", json.dumps(
            {**result, "per_clip": reports}, indent=1) + "\n")
    if args.json:
        print_json(result)
    else:
        print(f"retarget {desc.name}: {len(files)} clip(s): {done} retargeted, {kept} kept, {result['failed']} "
              f"failed -> {args.out}")
        if figures:
            print(f"  keypoint error {figures['keypoint_error_mm']:.1f} mm, joint-limit violations "
                  f"{figures['joint_limit_violations']}, velocity-limit violations "
                  f"{figures['velocity_limit_violations']}, self-collision frames "
                  f"{100 * figures['self_collision_frames']:.2f}%")
            print(f"  feet: penetration {figures['penetration_mm']:.2f} mm, float {figures['float_mm']:.2f} mm, "
                  f"planted skate {figures['planted_skate_mm']:.2f} mm (human {figures['human_planted_skate_mm']:.2f}), "
                  f"skate {figures['skate_mm']:.2f} mm (human {figures['human_skate_mm']:.2f})")
            print(f"  {figures['frames_per_s']:.0f} frames/s")
        failures.print()
    return rc
