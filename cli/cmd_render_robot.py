"""``motionlib render-robot CLIP.npz -o out.mp4 [--beside [HUMAN.npz]] [--png out.png --frame N]``.

The robot clip (what ``motionlib retarget`` writes) drawn by MuJoCo with the robot's meshes over a
floor, the camera following the root; ``--beside`` puts the source human clip's skeleton beside it
(with no file: the clip that the robot clip was retargeted from, as its meta records it).
"""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import add_json_flag, print_render_result, video_result


def register(sub) -> None:
    p = sub.add_parser("render-robot", help="render a robot clip with the robot's meshes to an .mp4 or a .png",
                       description="Render a robot clip (motionlib retarget's .npz, or its GMR / BeyondMimic .csv "
                                   "with --robot and --fps) offscreen with MuJoCo: the robot's meshes, a floor, "
                                   "shadows, a camera following the root; optionally beside the source human "
                                   "clip's skeleton. Needs -o OUT.mp4 and/or --png OUT.png. See docs/robots.md.")
    p.add_argument("clip", type=Path, metavar="CLIP", help="robot clip .npz (or .csv)")
    p.add_argument("-o", "--output", type=Path, default=None, help="output .mp4")
    p.add_argument("--beside", nargs="?", type=Path, const=Path(""), default=None, metavar="HUMAN",
                   help="show the human clip beside the robot: this clip file, or with no file the clip the "
                        "robot clip was retargeted from")
    p.add_argument("--png", type=Path, default=None, help="write one frame as a PNG still")
    p.add_argument("--frame", type=int, default=None, help="frame index for --png (default 0)")
    p.add_argument("--fps", type=float, default=None,
                   help="video frame rate (default: clip fps / stride, real time); a .csv clip's frame rate")
    p.add_argument("--stride", type=int, default=1, help="render every N-th frame")
    p.add_argument("--size", default=None,
                   help="frame size WIDTHxHEIGHT in pixels (default 640x480, 960x480 with --beside)")
    p.add_argument("--fixed", dest="follow", action="store_false", default=True,
                   help="fixed camera framing the whole clip (default: follows the root)")
    p.add_argument("--robot", default=None,
                   help="robot name or description .json (default: the one the clip names; needed for a .csv)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_json_flag(p)
    p.set_defaults(func=run)


def beside_path(clip, explicit: Path | None, clip_path: Path) -> Path | None:
    """The human clip to show: ``explicit``, or (given as an empty path) the robot clip's source."""
    from motionlib.motion.errors import MotionError

    if explicit is None:
        return None
    if str(explicit) not in ("", "."):
        return explicit
    src = (clip.meta.get("retarget") or {}).get("source")
    if not src:
        raise MotionError("the robot clip does not record its source clip; give --beside HUMAN.npz", str(clip_path))
    return Path(src)


def run(args) -> int:
    from motionlib.motion.errors import MotionError
    from motionlib.motion.io import load_motion
    from motionlib.motion.render import parse_size
    from motionlib.retarget.description import load_description
    from motionlib.retarget.render import (RobotRenderConfig, load_clip_for_render, render_robot_png,
                                           render_robot_video)

    if args.output is None and args.png is None:
        raise ValueError("nothing to write: give -o OUT.mp4 and/or --png OUT.png")
    if args.frame is not None and args.png is None:
        raise ValueError("--frame needs --png OUT.png")
    is_csv = args.clip.suffix.lower() == ".csv"
    clip = load_clip_for_render(args.clip, args.robot, args.fps if is_csv else None)
    desc = load_description(args.robot or clip.robot)
    human_path = beside_path(clip, args.beside, args.clip)
    human = None
    if human_path is not None:
        if not human_path.is_file():
            raise MotionError("no such human clip", str(human_path))
        human = load_motion(human_path)
    w, h = parse_size(args.size) if args.size is not None else (960 if human is not None else 640, 480)
    cfg = RobotRenderConfig(size=(w, h), fps=None if is_csv else args.fps, stride=args.stride, follow=args.follow)
    src, hsrc = str(args.clip), str(human_path) if human_path else ""
    result: dict = {"clip": src, "robot": clip.robot, "human": hsrc or None}
    if args.png is not None:
        render_robot_png(clip, args.frame or 0, args.png, cfg, human, desc, src, hsrc)
        result["png"] = str(args.png)
    if args.output is not None:
        info = render_robot_video(clip, args.output, cfg, human, desc, not (args.no_progress or args.json), src, hsrc)
        result.update(video_result(info), gl=info["backend"])
    return print_render_result(result, args.json)
