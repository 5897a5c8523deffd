"""``motionlib caption CLIP... --model RUN [--json]``: one caption per clip."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.cmd_generate import add_lm_flags, load_cli_lm
from motionlib.cli.common import Failures, add_json_flag


def register(sub) -> None:
    p = sub.add_parser("caption", help="describe motion clips in words",
                       description="Tokenize each clip with the MotionBook tokenizer and let a model trained by "
                                   "`motionlib train-lm` describe it, taking the likeliest word at each step "
                                   "(--sample draws them instead). Prints one caption per clip; --json prints a "
                                   "list of {\"clip\", \"caption\"}.")
    p.add_argument("clips", type=Path, nargs="+", help="clip files or folders")
    p.add_argument("--max-seconds", type=float, default=10.0, help="caption at most this much of each clip")
    add_lm_flags(p, greedy_default=True)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    import sys

    from motionlib.llm.generate import GenConfig, caption_grid
    from motionlib.motion.io import find_clips
    from motionlib.tokenizer.codec import tokenize_clip

    lm, tmodel, ck = load_cli_lm(args)
    cfg = GenConfig(temperature=args.temperature, top_k=args.top_k, greedy=args.greedy, seed=args.seed)
    steps = max(1, int(round(args.max_seconds * ck.config.fps / ck.config.alpha)))
    failures = Failures()
    out = []
    for f in find_clips(args.clips, required=True):
        with failures.one_input():
            grid = tokenize_clip(tmodel, ck, f).indices[:steps]
            out.append({"clip": str(f), "caption": caption_grid(lm, grid, cfg)})
            if not args.json:
                print(f"{f}: {out[-1]['caption']}")
    failures.require_some(len(out), "captioned")
    if args.json:
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        failures.print()
    return 1 if failures.errors else 0
