"""``motionlib tokenizer-profile CLIPS_OR_CACHE [--tokenizer CKPT] [--smooth-s S] [--json]``: where a
tokenizer's reconstruction error sits."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import Failures, add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("tokenizer-profile", help="where a tokenizer's error sits: by style, joint, clip, slow vs fast",
                       description="Tokenize every clip whole (as eval-tokenizer does) and split the root-aligned "
                                   "joint error (SMPL joints 0..21) by style (from Bandai names dataset-N_CONTENT_"
                                   "STYLE_NNN; other names count as '-'), by joint and by clip, and into a slow part "
                                   "(the error averaged over a centred --smooth-s window: held postures reproduced "
                                   "wrongly) and a fast part (the rest), all as mean joint distances in mm.")
    p.add_argument("inputs", type=Path, nargs="+", metavar="CLIPS_OR_CACHE",
                   help="clips or folders of clips, or one feature cache (.npz, as the tokenizer benchmark writes)")
    p.add_argument("--tokenizer", default=None,
                   help="checkpoint .pt or run folder (default: $MOTIONLIB_TOKENIZER, else the shipped 2D-LFQ "
                        "tokenizer)")
    p.add_argument("--smooth-s", type=float, default=1.0, help="window of the slow part of the error, seconds "
                                                                "(default 1)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from motionlib.tokenizer.checkpoint import load_tokenizer, resolve_tokenizer
    from motionlib.tokenizer.error_profile import load_inputs, profile
    from motionlib.tokenizer.losses import FeatureDenormalizer

    if args.smooth_s < 0:
        raise ValueError(f"--smooth-s must not be negative, got {args.smooth_s}")
    torch.set_num_threads(args.threads)
    model, ck = load_tokenizer(resolve_tokenizer(args.tokenizer))
    failures = Failures()  # an unreadable clip is reported and the others are profiled
    clips = load_inputs(args.inputs, ck.config.fps, ck.config.alpha, guard=failures.one_input)
    failures.require_some(len(clips), "profiled")
    res = profile(clips, model, FeatureDenormalizer(ck.stats), args.smooth_s)
    rc = failures.finish(res)
    if args.json:
        print_json(res)
        return rc
    print(f"{res['clips']} clips: root-aligned MPJPE {res['mpjpe_root_aligned_mm']:.1f} mm; slow (over "
          f"{args.smooth_s:g} s) {res['slow_mm']:.1f} mm, fast {res['fast_mm']:.1f} mm")
    print("by style: " + ", ".join(f"{k} {v:.1f}" for k, v in res["per_style_mm"].items()))
    print("by joint (SMPL 0..21): " + " ".join(f"{v:.0f}" for v in res["per_joint_mm"]))
    for r in res["worst_clips"]:
        print(f"  {r['mpjpe_root_aligned_mm']:7.1f} mm  {r['frames']:5d} frames  {r['clip']}")
    failures.print()
    return rc
