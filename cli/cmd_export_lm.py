"""``motionlib export-lm RUN --out DIR``: the shippable copy of a trained language model."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("export-lm", help="write the shippable copy of a trained language model",
                       description="Copy a train-lm checkpoint without its optimizer and sampler state. A fully "
                                   "fine-tuned model (a backbone trained from scratch, --full-finetune) also gets its "
                                   "tokenizer, so the copy loads with nothing beside it; a LoRA model still reads "
                                   "its backbone from where it was trained (or --backbone). Use it with --model DIR.")
    p.add_argument("run", type=Path, help="train-lm run folder (its best checkpoint, else its last) or a checkpoint folder")
    p.add_argument("--out", type=Path, required=True, help="the folder to write (replaced atomically)")
    p.add_argument("--backbone", default=None, help="where the backbone is, when not where it was trained")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from motionlib.llm.checkpoint import export_lm, read_meta

    export_lm(args.run, args.out, args.backbone)
    meta = read_meta(args.out)
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    result = {"out": str(args.out), "source": meta["exported_from"]["run"], "step": meta["step"], "kind": meta["kind"],
              "tokenizer_id": meta["tokenizer_id"], "bytes": size}
    if args.json:
        print_json(result)
    else:
        print(f"{args.out}: step {meta['step']} ({meta['kind']}) of {result['source']}, tokenizer "
              f"{meta['tokenizer_id']} ({size / 1e6:.1f} MB)")
    return 0
