"""``motionlib export-tokenizer RUN_DIR --out FILE [--checkpoint best|last]``: the shippable copy of a trained
tokenizer."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("export-tokenizer", help="write the shippable copy of a trained tokenizer",
                       description="Copy a train-tokenizer run's checkpoint without its optimizer state or raw "
                                   "training weights: the weights it tokenizes with, its config and feature "
                                   "statistics, step and tokenizer id (unchanged, so token files made with the run "
                                   "decode with the copy). Use it with --tokenizer FILE or $MOTIONLIB_TOKENIZER.")
    p.add_argument("run_dir", type=Path, help="train-tokenizer output folder (best.pt, last.pt)")
    p.add_argument("--out", type=Path, required=True, help="the tokenizer file to write (.pt)")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best",
                   help="best: the run's best validation (best.pt, else last.pt; default); last: its last step")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from motionlib.tokenizer.checkpoint import export_run

    src, tid = export_run(args.run_dir, args.out, args.checkpoint)
    result = {"out": str(args.out), "source": str(src), "tokenizer_id": tid,
              "bytes": args.out.stat().st_size}
    if args.json:
        print_json(result)
    else:
        print(f"{args.out}: {tid} from {src} ({result['bytes'] / 1e6:.1f} MB)")
    return 0
