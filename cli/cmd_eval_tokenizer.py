"""``motionlib eval-tokenizer DATASET [--tokenizer CKPT] [--json]``: reconstruction and codebook metrics
(default tokenizer: the shipped 2D-LFQ checkpoint)."""

from __future__ import annotations

import sys
from pathlib import Path

from motionlib.cli.common import Failures, add_json_flag, add_tokenizer_flag, load_cli_tokenizer, print_json


def register(sub) -> None:
    p = sub.add_parser("eval-tokenizer", help="reconstruction MPJPE and codebook use of a motion tokenizer",
                       description="Tokenize and decode every clip under DATASET (whole clips, as `motionlib "
                                   "tokenize` does; --windows: the training window instead) and report MPJPE in mm "
                                   "via FK (global and root-aligned, per body part), feature error, codebook "
                                   "utilisation and perplexity, and tokens per second of motion.")
    p.add_argument("dataset", type=Path, nargs="+", help="dataset folder (or clip files)")
    add_tokenizer_flag(p)
    p.add_argument("--max-clips", type=int, default=None, help="evaluate only the first N clips")
    p.add_argument("--windows", action="store_true", help="evaluate sequential training windows, not whole clips")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from motionlib.motion.io import find_clips
    from motionlib.tokenizer.data import WindowDataset, load_clip_features
    from motionlib.tokenizer.losses import FeatureDenormalizer
    from motionlib.tokenizer.metrics import evaluate_clips, evaluate_windows, feature_shift

    model, ckpt = load_cli_tokenizer(args)
    cfg = ckpt.config
    files = find_clips(args.dataset, required=True)[: args.max_clips]
    clips = []
    failures = Failures()  # an unreadable clip is reported and the others are evaluated
    for f in files:
        with failures.one_input():
            clips.append(load_clip_features(f, cfg.fps, cfg.window if args.windows else cfg.alpha))
    failures.require_some(len(clips), "evaluated")
    denorm = FeatureDenormalizer(ckpt.stats).to(args.device)
    if args.windows:
        res = evaluate_windows(model, WindowDataset(clips, ckpt.stats, cfg.window), denorm)
        res["clips"] = len(clips)
    else:
        res = evaluate_clips(model, clips, denorm, progress=not args.json and len(clips) > 1)
    result = {"mpjpe_mm": res["mpjpe_mm"], "mpjpe_window_mm": res["mpjpe_window_mm"], "window_s": res["window_s"],
              "mpjpe_root_aligned_mm": res["mpjpe_root_aligned_mm"],
              "per_part_mpjpe_mm": res["per_part_mpjpe_mm"], "feature_l1": res["feature_l1"],
              "codebook_size": res["codebook_size"], "utilization": res["utilization"],
              "perplexity": res["perplexity"], "codes_used": res["codes_used"],
              "tokens_per_second": res["tokens_per_second"], "tokens": res["tokens"], "frames": res["frames"],
              "clips": res["clips"], "mode": "windows" if args.windows
              else "clips", "kind": cfg.kind, "tokenizer_id": ckpt.tokenizer_id, "checkpoint_step": ckpt.step,
              "feature_shift": feature_shift([c.feats for c in clips], ckpt.stats)}
    sh = result["feature_shift"]
    rc = failures.finish(result)
    if args.json:
        print_json(result)
    else:
        print(f"{cfg.kind} tokenizer {ckpt.tokenizer_id} on {result['clips']} clip(s), {result['frames']} frames:")
        print(f"  MPJPE {result['mpjpe_mm']:.1f} mm global over whole clips, {result['mpjpe_window_mm']:.1f} mm global "
              f"over {result['window_s']:g} s windows, {result['mpjpe_root_aligned_mm']:.1f} mm root-aligned; "
              f"feature L1 {result['feature_l1']:.4f}")
        print("  per part (mm): " + ", ".join(f"{k} {v:.1f}" for k, v in result["per_part_mpjpe_mm"].items()))
        print(f"  codebook {result['codebook_size']}: utilisation {result['utilization']:.4f}, perplexity "
              f"{result['perplexity']:.1f}; {result['tokens_per_second']:g} tokens/s")
        judged = "" if sh["shifted"] is not None else f"; not judged on fewer than {sh['min_clips']} clips"
        print(f"  feature shift from the training data: mean |z| {sh['mean_abs_z']:.2f} (largest: "
              f"{sh['max_feature']} {sh['max_abs_z']:.1f}{judged})")
        failures.print()
    if sh["shifted"]:
        part = max(sh["per_part_mean_abs_z"], key=sh["per_part_mean_abs_z"].get)
        print(f"warning: these clips' D135 features differ from the tokenizer's training data (mean |z| "
              f"{sh['mean_abs_z']:.2f} > {sh['warn_above']}, most in {part}, largest {sh['max_feature']}); expect a "
              f"higher reconstruction error than on data like its training set. Clips from another capture or "
              f"another version of the BVH fit shift; retrain with `motionlib train-tokenizer` on such clips.",
              file=sys.stderr)
    return rc
