"""``motionlib detokenize TOKENS... [--tokenizer CKPT] --out DIR``: token files back to clips."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import Failures, add_json_flag, add_tokenizer_flag, load_cli_tokenizer, print_json


def register(sub) -> None:
    p = sub.add_parser("detokenize", help="decode MotionBook token files back into motionlib clips",
                       description="Decode <clip>.tokens.npz files with the tokenizer that made them (checked by "
                                   "tokenizer id) into motionlib clip files with the original fps, body and global "
                                   "placement. --out is a folder, or a .npz path when decoding one file.")
    p.add_argument("tokens", type=Path, nargs="+", help="token files or folders holding them")
    add_tokenizer_flag(p)
    p.add_argument("--out", type=Path, required=True, help="output folder (or .npz for a single token file)")
    add_json_flag(p)
    p.set_defaults(func=run)


def _token_files(inputs: list[Path]) -> list[Path]:
    from motionlib.motion.io import TOKEN_SUFFIX

    files: list[Path] = []
    for p in inputs:
        files += sorted(p.rglob(f"*{TOKEN_SUFFIX}")) if p.is_dir() else [p]
    return files


def run(args) -> int:
    from tqdm import tqdm

    from motionlib.motion.io import save_motion
    from motionlib.tokenizer.codec import detokenize
    from motionlib.motion.io import TOKEN_SUFFIX
    from motionlib.tokenizer.tokens import load_tokens

    model, ckpt = load_cli_tokenizer(args)
    files = _token_files(args.tokens)
    if not files:
        raise FileNotFoundError(f"no token files in {[str(t) for t in args.tokens]}")
    single = len(files) == 1 and args.out.suffix == ".npz"
    written = []
    failures = Failures()  # an unreadable token file is reported and the others are decoded
    for f in tqdm(files, desc="detokenize", unit="clip", disable=args.json or len(files) < 2):
        with failures.one_input():
            tf = load_tokens(f, tokenizer_id=ckpt.tokenizer_id)
            clip = detokenize(model, ckpt, tf, source=str(f))
            name = f.name[:-len(TOKEN_SUFFIX)] + ".npz" if f.name.endswith(TOKEN_SUFFIX) else f.stem + ".npz"
            out = args.out if single else args.out / name
            save_motion(clip, out)
            written.append(str(out))
    failures.require_some(len(written), "decoded")
    result = {"decoded": len(written), "clips": written, "tokenizer_id": ckpt.tokenizer_id}
    rc = failures.finish(result)
    if args.json:
        print_json(result)
    else:
        print(f"detokenize: {len(written)} clip(s) written" + (f" to {args.out}" if written else ""))
        failures.print()
    return rc
