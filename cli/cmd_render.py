"""``motionlib render CLIP [CLIP2 ...] -o out.mp4``: skeleton video or still.

Several clips render side by side with a shared clock (e.g. before/after).
``--frame N --png out.png`` writes one still instead of (or as well as) the
video. ``--caption`` with no text shows the first clip's first caption.
"""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import add_json_flag, print_render_result, video_result


def register(sub) -> None:
    p = sub.add_parser("render", help="render clips (side by side) to an .mp4 or one frame to a .png",
                       description="Render one or more clips offscreen as a 3D skeleton over a ground grid. Several "
                                   "clips play side by side on one clock. Needs -o OUT.mp4 and/or --png OUT.png.")
    p.add_argument("clips", type=Path, nargs="+", metavar="CLIP", help="motionlib .npz clips (or any readable format)")
    p.add_argument("-o", "--output", type=Path, default=None, help="output .mp4")
    p.add_argument("--fps", type=float, default=None, help="video frame rate (default: clip fps / stride, real time)")
    p.add_argument("--stride", type=int, default=1, help="render every N-th frame")
    p.add_argument("--size", default=None,
                   help="frame size WIDTHxHEIGHT in pixels (default 640x480, or 480x480 per clip side by side)")
    p.add_argument("--frame", type=int, default=None, help="frame index for --png (default 0)")
    p.add_argument("--png", type=Path, default=None, help="write this frame as a PNG still")
    cam = p.add_mutually_exclusive_group()
    cam.add_argument("--follow", dest="follow", action="store_true", default=True,
                     help="camera follows the pelvis (default)")
    cam.add_argument("--fixed", dest="follow", action="store_false", help="fixed camera framing the whole clip")
    p.add_argument("--caption", nargs="?", const="", default=None,
                   help="show a caption: the given text, or the clip's first caption when no text is given")
    p.add_argument("--titles", nargs="+", default=None, help="panel titles (default: clip names)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from motionlib.cli.cmd_info import load_clips_arg
    from motionlib.motion.render import RenderConfig, parse_size, render_frame_png, render_video

    if args.output is None and args.png is None:
        raise ValueError("nothing to write: give -o OUT.mp4 and/or --png OUT.png")
    if args.frame is not None and args.png is None:
        raise ValueError("--frame needs --png OUT.png")
    clips = []
    for path in args.clips:
        clips.extend(load_clips_arg(path))
    n = len(clips)
    # the default size is per panel when several clips play side by side
    w, h = parse_size(args.size) if args.size is not None else (640 if n == 1 else 480 * n, 480)
    cfg = RenderConfig(size=(w, h), fps=args.fps, stride=args.stride, follow=args.follow)
    caption = args.caption
    if caption == "":
        caps = (clips[0].meta.get("texts") or {}).get("captions") or []
        caption = caps[0] if caps else None
    result: dict = {"clips": [str(p) for p in args.clips]}
    if args.png is not None:
        render_frame_png(clips, args.frame or 0, args.png, cfg, titles=args.titles, caption=caption)
        result["png"] = str(args.png)
    if args.output is not None:
        info = render_video(clips, args.output, cfg, titles=args.titles, caption=caption,
                            progress=not (args.no_progress or args.json))
        result.update(video_result(info))
    return print_render_result(result, args.json)
