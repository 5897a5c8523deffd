"""MotionBook tokenizer benchmark: 2D-LFQ vs 1D-LFQ vs VQ-512, and a codebook-size sweep.

    python benchmarks/tokenizer_sweep.py train  [--device cuda] [--workers 6] [--only GLOB] [--budget-scale 1]
    python benchmarks/tokenizer_sweep.py eval   [--only GLOB] [--checkpoint best|last]
    python benchmarks/tokenizer_sweep.py report            # docs/tokenizer_sweep.{csv,md,png}
    python benchmarks/tokenizer_sweep.py plan              # the runs, their budgets and their state

A run's shippable copy: ``motionlib export-tokenizer RUNS_DIR/NAME --out FILE``. The harness is
:mod:`motionlib.tokenizer.sweep` (data split, runs, training, evaluation; see it for the options
below) and :mod:`motionlib.tokenizer.sweep_report` (tables and plot).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    from motionlib.tokenizer.sweep import HELD_OUT_STYLES

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["plan", "train", "train-one", "eval", "report"],
                   help="plan: list the runs and their state; train: train the unfinished runs (--workers at "
                        "once); train-one NAME: one run in this process; eval: evaluate the trained runs; report: "
                        "write the tables and the plot of the evaluated runs")
    p.add_argument("name", nargs="?", help="run name (train-one)")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best",
                   help="eval: the run's best validation (best.pt) or its last step (last.pt)")
    p.add_argument("--only", help="glob over run names, e.g. 'main_*'")
    p.add_argument("--clips", type=Path, default=ROOT / "out/bandai/clips")
    p.add_argument("--cache-dir", type=Path, default=ROOT / "out/tokenizer_cache")
    p.add_argument("--train-cache", type=Path, help="ready feature cache of the training clips")
    p.add_argument("--eval-cache", type=Path, help="ready feature cache of the evaluation clips")
    p.add_argument("--eval-note", default="", help="note on the evaluation data, kept in the results")
    p.add_argument("--split", choices=["d2", "styles"], default="d2",
                   help="d2: train on dataset-2, evaluate on dataset-1; styles: dataset-1 too, but for the clips of "
                        "--held-out-styles, which are evaluated on")
    p.add_argument("--held-out-styles", default=HELD_OUT_STYLES, help="--split styles: dataset-1 styles to evaluate on")
    p.add_argument("--d1-repeat", type=int, default=4, help="--split styles: times each dataset-1 train clip counts")
    p.add_argument("--mirror", action="store_true",
                   help="augment training with the left-right mirror image of every training clip")
    p.add_argument("--posture-copies", type=int, default=0,
                   help="augment training with N copies of every training clip in other upper-body postures")
    p.add_argument("--speeds", default="",
                   help="augment training with a copy of every training clip at each of these speeds, e.g. 0.8,1.25")
    p.add_argument("--runs-dir", type=Path, default=ROOT / "runs/tokenizer_sweep")
    p.add_argument("--docs", type=Path, default=ROOT / "docs", help="report: where the tables and the plot go")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=1, help="runs trained at once")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--budget-scale", type=float, default=1.0, help="multiply every run's time budget")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay of every run trained")
    p.add_argument("--part-mix", type=float, default=0.0,
                   help="probability that a training window's arms come from another window of its batch")
    p.add_argument("--ema-decay", type=float, default=0.0,
                   help="> 0: validate and save an exponential moving average of the weights (e.g. 0.999)")
    p.add_argument("--init-from", help="start every run from this tokenizer checkpoint's weights and statistics "
                                       "(fine-tuning; the run's config may differ in its loss weights only)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: the run's own)")
    p.add_argument("--batch", type=int, help="windows per training batch (default: the run's own)")
    p.add_argument("--warmup-steps", type=int, help="learning-rate warm-up steps (default: the run's own)")
    p.add_argument("--eval-every", type=int, help="steps between validations and checkpoints (default 2000)")
    p.add_argument("--force", action="store_true", help="retrain / re-evaluate finished runs")
    return p


def main(argv: list[str] | None = None) -> int:
    from motionlib.tokenizer import sweep

    p = build_parser()
    args = p.parse_args(argv)
    try:
        if args.command == "train-one":
            sweep.train_one(args, sweep.spec_named(args.name))
        elif args.command == "train":
            sweep.train_all(args, worker=[sys.executable, str(Path(__file__).resolve())])
        elif args.command == "eval":
            sweep.eval_all(args)
        elif args.command == "plan":
            sweep.show_plan(args)
        else:
            from motionlib.tokenizer.sweep_report import write_report

            write_report([r.name for r in sweep.PLAN], args.runs_dir, args.docs)
    except (ValueError, OSError, RuntimeError) as e:  # MotionError is a ValueError naming the file
        print(f"tokenizer_sweep {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
