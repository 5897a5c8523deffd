"""``motionlib retarget CLIPS... --robot g1|h1 --out DIR``: human clips onto a humanoid robot (resumable)."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import Failures, add_json_flag, add_robot_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("retarget", help="retarget clips onto a humanoid robot (Unitree G1, H1)",
                       description="Retarget every clip onto a robot by IK over the whole clip (mink on MuJoCo): "
                                   "scaled per body segment, joint and velocity limits hard, planted feet held, "
                                   "feet on the floor, self-collision avoided. Writes DIR/<clip>.npz (joint and "
                                   "body states, the BeyondMimic / mjlab layout) or <clip>.csv, and "
                                   "DIR/<clip>.report.json, atomically; finished clips are kept on a rerun. "
                                   "See docs/robots.md.")
    p.add_argument("clips", type=Path, nargs="+", help="clip files or dataset folders")
    add_robot_flag(p)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--format", choices=("npz", "csv"), default="npz",
                   help="npz (default): joint and body states; csv: root xyz, root quaternion xyzw, joints "
                        "(GMR / BeyondMimic)")
    p.add_argument("--force", action="store_true", help="retarget clips that are already done")
    p.add_argument("--no-collision", action="store_true", help="IK without the self-collision limit (faster)")
    p.add_argument("--video", nargs="?", const="robot", default=None, choices=("robot", "side-by-side"),
                   help="also write DIR/<clip>_robot.mp4, the robot drawn by MuJoCo with its meshes; "
                        "side-by-side: the source human clip's skeleton beside it (kept on a rerun when it "
                        "exists; see motionlib render-robot)")
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
    if args.video:  # before any clip: a missing offscreen GL would fail every video
        from motionlib.retarget.render import open_gl_context

        ctx, _ = open_gl_context(64, 64)
        ctx.free()
    retargeter = Retargeter(desc, RetargetConfig(avoid_collisions=not args.no_collision))
    files = find_clips(args.clips, required=True)
    failures = Failures()
    reports, done, kept, videos = [], 0, 0, 0
    for f in tqdm(files, desc=f"retarget {desc.name}", unit="clip", disable=args.json or len(files) < 2):
        rep = None if args.force else finished_report(f, args.out, args.format, desc.name)
        was_kept = rep is not None
        if was_kept:
            kept += 1
            reports.append(rep)
        else:
            with failures.one_input():
                reports.append(retarget_file(retargeter, f, args.out, args.format))
                done += 1
                rep = reports[-1]
        if args.video and rep is not None:
            with failures.one_input():
                videos += write_video(f, args, desc, keep=was_kept, progress=not args.json and len(files) < 2)
    figures = {k: v for k, v in totals([{k: v for k, v in r.items() if k not in ("clip", "robot")}
                                        for r in reports]).items()}
    result = {"robot": desc.name, "clips": len(files), "retargeted": done, "kept": kept, "out": str(args.out),
              "format": args.format, "totals": figures}
    if args.video:
        result["videos"] = videos
    rc = failures.finish(result)
    if reports:
        write_text_atomic(args.out / "report.json", json.dumps(
            {**result, "per_clip": reports}, indent=1) + "\n")
    if args.json:
        print_json(result)
    else:
        print(f"retarget {desc.name}: {len(files)} clip(s): {done} retargeted, {kept} kept, {result['failed']} "
              f"failed -> {args.out}" + (f" ({videos} video(s) written)" if args.video else ""))
        if figures:
            print(f"  keypoint error {figures['keypoint_error_mm']:.1f} mm, joint-limit violations "
                  f"{figures['joint_limit_violations']}, velocity-limit violations "
                  f"{figures['velocity_limit_violations']}, self-collision frames "
                  f"{100 * figures['self_collision_frames']:.2f}%")
            print(f"  feet: penetration {figures['penetration_mm']:.2f} mm, float {figures['float_mm']:.2f} mm, "
                  f"planted skate {figures['planted_skate_mm']:.2f} mm (human {figures['human_planted_skate_mm']:.2f}), "
                  f"skate {figures['skate_mm']:.2f} mm (human {figures['human_skate_mm']:.2f})")
            print(f"  skate by one contact rule: every sole point below 25 mm {figures['skate_mm']:.2f} mm "
                  f"(human's foot boxes {figures['human_sole_skate_mm']:.2f}); where the human's ankle or toe is in "
                  f"contact {figures['contact_skate_mm']:.2f} mm (human {figures['human_skate_mm']:.2f})")
            print(f"  {figures['frames_per_s']:.0f} frames/s")
        failures.print()
    return rc


def video_path(src: Path, out_dir: Path) -> Path:
    from motionlib.retarget.batch import output_paths

    clip_path, _ = output_paths(src, out_dir, "npz")
    return clip_path.with_name(clip_path.name[:-len(".npz")] + "_robot.mp4")


def write_video(src: Path, args, desc, keep: bool, progress: bool) -> int:
    """Render the retargeted clip of ``src`` to ``DIR/<clip>_robot.mp4`` (1), or, with ``keep`` (the clip was
    kept), keep the video there (0)."""
    from motionlib.motion.io import load_motion
    from motionlib.retarget.batch import output_paths
    from motionlib.retarget.render import RobotRenderConfig, load_clip_for_render, render_robot_video

    path = video_path(src, args.out)
    if keep and path.is_file():
        return 0
    human = load_motion(src)
    clip_path, _ = output_paths(src, args.out, args.format)
    clip = load_clip_for_render(clip_path, desc.path, human.fps)
    side = args.video == "side-by-side"
    cfg = RobotRenderConfig(size=(960, 480) if side else (640, 480))
    render_robot_video(clip, path, cfg, human if side else None, desc, progress=progress, source=str(clip_path),
                       human_source=str(src))
    return 1
