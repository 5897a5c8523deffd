"""``motionlib tokenize DATASET [--tokenizer CKPT]``: token arrays next to each clip (resumable)."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import Failures, add_json_flag, add_tokenizer_flag, load_cli_tokenizer, print_json


def register(sub) -> None:
    p = sub.add_parser("tokenize", help="write MotionBook token files next to the clips of a dataset",
                       description="Tokenize every clip under DATASET with a trained tokenizer, writing "
                                   "<clip>.tokens.npz beside each clip (atomic). Clips whose token file was made by "
                                   "the same tokenizer are skipped, so an interrupted run can simply be rerun.")
    p.add_argument("dataset", type=Path, help="dataset folder (or clip files)", nargs="+")
    add_tokenizer_flag(p)
    p.add_argument("--force", action="store_true", help="re-tokenize clips that already have tokens")
    p.add_argument("--augment", action="append", default=[], metavar="NAME",
                   help="also tokenize each clip under this augmentation (repeatable): 'mirror', 'speed:F', "
                        "'reverse', chained with '+' (e.g. mirror+speed:0.9); written as "
                        "<clip>.aug-NAME.tokens.npz, which `train-lm --augment NAME` reads")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from motionlib.motion.augment import check_augment
    from motionlib.motion.io import find_clips
    from motionlib.tokenizer.codec import tokenize_clip
    from motionlib.tokenizer.tokens import read_tokenizer_id, save_tokens, token_path

    augments = [""] + list(dict.fromkeys(a for a in args.augment if a))
    for a in augments:
        try:
            check_augment(a)
        except ValueError as e:
            raise SystemExit(f"motionlib tokenize: --augment: {e}") from None
    model, ckpt = load_cli_tokenizer(args)
    files = find_clips(args.dataset, required=True)
    done, skipped, tokens = 0, 0, 0
    failures = Failures()  # an unreadable clip is reported and the others are tokenized
    for f in tqdm(files, desc="tokenize", unit="clip", disable=args.json or len(files) < 2):
        for a in augments:
            out = token_path(f, a)
            if not args.force and out.exists() and read_tokenizer_id(out) == ckpt.tokenizer_id:
                skipped += 1
                continue
            with failures.one_input():
                tf = tokenize_clip(model, ckpt, f, augment=a)
                save_tokens(out, tf)
                done += 1
                tokens += int(tf.indices.size)
    result = {"clips": len(files), "augments": augments[1:], "tokenized": done, "skipped": skipped,
              "tokens": tokens, "tokenizer_id": ckpt.tokenizer_id}
    rc = failures.finish(result)
    if args.json:
        print_json(result)
    else:
        aug = f" x {len(augments)} (plain, {', '.join(augments[1:])})" if len(augments) > 1 else ""
        print(f"tokenize: {len(files)} clip(s){aug}: {done} tokenized ({tokens} tokens), {skipped} already done, "
              f"{result['failed']} failed; tokenizer {ckpt.tokenizer_id}")
        failures.print()
    return rc
