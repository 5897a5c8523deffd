"""``motionlib train-tokenizer --clips DIR --out DIR [--preset lfq2d-14] [--bits 14] [--steps N]``."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("train-tokenizer", help="train a MotionBook motion tokenizer (2D-LFQ) or a baseline",
                       description="Train a motion tokenizer on the SMPL-D135 features of the clips under --clips: "
                                   "lfq2d (MotionBook: body parts x time, lookup-free codes, 2^bits vocabulary), "
                                   "lfq1d or vq1d (T2M-GPT-style 1D baselines). Logs to TensorBoard under OUT/tb, "
                                   "checkpoints atomically to OUT/last.pt (resumed when present) and OUT/best.pt.")
    p.add_argument("--clips", type=Path, required=True,
                   help="folder of motionlib clips (searched recursively) or a clip store (motionlib store pack)")
    p.add_argument("--out", type=Path, default=Path("runs/tokenizer"))
    p.add_argument("--preset", default="lfq2d-14", choices=["lfq2d-14", "lfq1d-14", "vq1d-512"],
                   help="architecture preset (motionlib.tokenizer.presets); the flags below override it")
    p.add_argument("--kind", choices=["lfq2d", "lfq1d", "vq1d"], default=None)
    p.add_argument("--bits", type=int, default=None, help="LFQ code bits d (codebook 2^d)")
    p.add_argument("--codebook", type=int, default=None, help="VQ codebook size (vq1d)")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="AdamW decoupled weight decay (the shipped tokenizer trained with 0.1)")
    p.add_argument("--ema-decay", type=float, default=0.0,
                   help="> 0: validate and save an exponential moving average of the weights (e.g. 0.999)")
    p.add_argument("--warmup", type=int, default=1000, help="warm-up steps")
    p.add_argument("--window", type=int, default=None, help="training window, frames")
    p.add_argument("--width", type=int, default=None, help="conv channels")
    p.add_argument("--depth", type=int, default=None, help="residual blocks per stage")
    p.add_argument("--fk-weight", type=float, default=None, help="weight of the FK joint position loss")
    p.add_argument("--global-weight", type=float, default=None,
                   help="weight of the loss on global joint positions within the window (root path integrated "
                        "from the decoded root velocity; 0: off)")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start from this tokenizer checkpoint's weights and statistics (fine-tuning; its config may "
                        "differ in the loss weights only); ignored when OUT/last.pt is resumed")
    p.add_argument("--entropy-weight", type=float, default=None, help="LFQ entropy loss weight")
    p.add_argument("--commit-weight", type=float, default=None, help="commitment loss weight")
    p.add_argument("--time-limit", type=float, default=0.0,
                   help="wall-clock budget in seconds (0: none); the LR schedule follows it, the run stops when spent")
    p.add_argument("--eval-every", type=int, default=1000, help="steps between validation + checkpoint")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    p.add_argument("--no-tensorboard", action="store_true")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from motionlib.tokenizer.config import TokenizerTrainConfig
    from motionlib.tokenizer.presets import preset
    from motionlib.tokenizer.train import train_tokenizer

    overrides = {"kind": args.kind, "bits": args.bits, "vq_codebook_size": args.codebook, "window": args.window,
                 "width": args.width, "depth": args.depth, "w_fk": args.fk_weight, "w_global": args.global_weight,
                 "w_entropy": args.entropy_weight,
                 "w_commit": args.commit_weight}
    cfg = preset(args.preset, **{k: v for k, v in overrides.items() if v is not None})
    tcfg = TokenizerTrainConfig(out=str(args.out), steps=args.steps, batch=args.batch, lr=args.lr,
                       weight_decay=args.weight_decay, ema_decay=args.ema_decay,
                       warmup_steps=min(args.warmup, args.steps - 1), seed=args.seed,
                       eval_every=min(args.eval_every, args.steps), log_every=min(50, args.steps),
                       val_fraction=args.val_fraction, tensorboard=not args.no_tensorboard, progress=not args.json,
                       num_threads=args.threads, device=args.device, time_limit_s=args.time_limit,
                       init_from=str(args.init_from or ""))
    res = train_tokenizer(args.clips, cfg, tcfg, resume=not args.no_resume)
    result = {"checkpoint": str(res.checkpoint), "tokenizer_id": res.tokenizer_id, "kind": cfg.kind,
              "codebook_size": cfg.codebook_size, "step": res.step, "resumed_from": res.resumed_from,
              "train_clips": res.train_clips, "val_clips": res.val_clips, "losses": res.last_losses,
              "val": {k: v for k, v in res.val.items() if k != "per_part_mpjpe_mm"}}
    if args.json:
        print_json(result)
    else:
        v = res.val
        print(f"trained {cfg.kind} ({cfg.codebook_size} codes) to step {res.step} on {res.train_clips} clip(s): "
              f"{res.checkpoint}")
        if v:
            print(f"{v['split']} MPJPE {v['mpjpe_mm']:.1f} mm (root-aligned {v['mpjpe_root_aligned_mm']:.1f} mm), "
                  f"utilisation {v['utilization']:.3f}, perplexity {v['perplexity']:.1f}")
    return 0
