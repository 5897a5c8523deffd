"""``motionlib convert IN OUT``: convert one motion file between formats."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import add_json_flag, print_json

TARGETS = ("motionlib", "amass")


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert one file between formats (BVH/AMASS/WHAM -> clip, clip -> AMASS)",
                       description="Read IN (BVH, AMASS .npz, WHAM .pkl or a motionlib clip) and write OUT as a "
                                   "motionlib clip (default) or an AMASS-style SMPL .npz (--to amass). WHAM files "
                                   "with several tracks write OUT_track<id>.npz per track.")
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument("--to", choices=TARGETS, default="motionlib", help="output format")
    p.add_argument("--fps", type=float, default=None, help="WHAM frame rate / resample to this rate")
    p.add_argument("--mapping", default="auto", help="BVH joint mapping name or JSON file")
    p.add_argument("--mirror", action="store_true", help="swap left and right")
    p.add_argument("--start", type=int, default=None, help="first frame to keep")
    p.add_argument("--end", type=int, default=None, help="frame to stop before")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from motionlib.motion.ingest.formats import ReadOptions, read_clips
    from motionlib.motion.io import save_motion

    clips = read_clips(args.input, opts=ReadOptions(fps=args.fps, mapping=args.mapping))
    written = []
    for i, clip in enumerate(clips):
        if args.start is not None or args.end is not None:
            clip = clip[args.start:args.end]
        if args.mirror:
            clip = clip.mirrored()
        out = args.output
        if len(clips) > 1:
            out = out.with_name(f"{out.stem}_track{clip.meta.get('track_id', i)}{out.suffix or '.npz'}")
        if args.to == "amass":
            from motionlib.motion.ingest.amass import save_amass

            save_amass(clip, out)
        else:
            save_motion(clip, out)
        written.append({"path": str(out), "frames": clip.num_frames, "fps": clip.fps,
                        "fit_error_mm": clip.meta.get("fit_error_mm")})
    if args.json:
        print_json({"input": str(args.input), "to": args.to, "outputs": written})
    else:
        for w in written:
            print(f"wrote {w['path']} ({w['frames']} frames at {w['fps']:g} fps)")
    return 0
