"""How well can the test clips' contents be told from what the language model reads? A linear probe.

    python benchmarks/lm_content_probe.py --manifest RUN/manifest.json [--augment mirror ...] [--json]

``motionlib caption`` is asked to name the content of each held-out clip (``eval-lm``'s caption accuracy). This
probe asks the same question of the simplest reader: a multinomial logistic regression on a clip's MotionBook
tokens as the grouped layout's bit rows see them (each step's six codes as their 6 x d LFQ signs, averaged over
the clip, with their standard deviation and the clip's length: 2 * 6 * d + 1 numbers), trained on the
manifest's training split, scored on its test split (never read in training). The contents it tells apart
are the ones the tokens carry in a form a linear map can read; a caption model that names fewer has not yet
learned what is in its input. A mirrored training clip (``--augment mirror``, from ``motionlib tokenize
--augment mirror``) is added with its content mirrored (walk-left <-> walk-right), as ``train-lm --augment``
does. Contents count as ``eval-lm`` counts them: synonyms (dance-long / dance-short) are one class.

Also printed: the same probe on D135 features (what the evaluator's motion encoder reads: per-feature mean and
standard deviation over the clip at 30 fps), and nearest-centroid accuracy of each.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

def token_features(grid: np.ndarray, bits: int) -> np.ndarray:
    from motionlib.llm.grouped import code_signs

    signs = code_signs(bits).numpy()[grid]  # (T', P, bits)
    flat = signs.reshape(len(grid), -1)
    return np.concatenate([flat.mean(0), flat.std(0), [np.log(len(grid))]])


def d135_features(clip_path: str) -> np.ndarray:
    from motionlib.motion.features import encode_clip
    from motionlib.motion.io import load_motion

    clip = load_motion(clip_path)
    if abs(clip.fps - 30.0) > 1e-6:
        clip = clip.resample(30.0)
    f = encode_clip(clip)
    return np.concatenate([f.mean(0), f.std(0), [np.log(len(f))]])


def canonical(content: str) -> str:
    from motionlib.llm.caption_accuracy import content_synonyms

    return min(content_synonyms().get(content, frozenset({content})))


def fit_logistic(x: np.ndarray, y: np.ndarray, classes: int, weight_decay: float, seed: int, iters: int = 400):
    """Multinomial logistic regression (full-batch L-BFGS, L2 penalty); returns a predict function."""
    import torch

    torch.manual_seed(seed)
    xt, yt = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y)
    lin = torch.nn.Linear(x.shape[1], classes).double()
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(xt), yt) + weight_decay * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return lambda z: lin(torch.as_tensor(z, dtype=torch.float64)).argmax(1).numpy()


def probe(train_x, train_y, test_x, test_y, classes, weight_decay, seed):
    mu, sd = train_x.mean(0), train_x.std(0) + 1e-6
    a, b = (train_x - mu) / sd, (test_x - mu) / sd
    pred = fit_logistic(a, train_y, classes, weight_decay, seed)(b)
    cents = np.stack([a[train_y == k].mean(0) if (train_y == k).any() else np.full(a.shape[1], np.inf)
                      for k in range(classes)])
    near = np.argmin(((b[:, None] - cents[None]) ** 2).sum(-1), 1)
    return float((pred == test_y).mean()), float((near == test_y).mean()), pred


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", required=True, help="a train-lm run's manifest.json")
    p.add_argument("--tokenizer", default=None, help="MotionBook checkpoint of the token files (default: shipped)")
    p.add_argument("--augment", action="append", default=[], help="add the training clips under this "
                   "augmentation too (token files of `motionlib tokenize --augment`; tokens only)")
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    from motionlib.llm.augment import is_mirrored, mirror_text  # mirror_text("walk-left") == "walk-right"
    from motionlib.llm.splits import load_manifest
    from motionlib.tokenizer.checkpoint import load_checkpoint, resolve_tokenizer
    from motionlib.tokenizer.tokens import load_tokens, token_path

    ck = load_checkpoint(resolve_tokenizer(args.tokenizer))
    bits = int(ck.config.bits)
    m = load_manifest(args.manifest)
    train, test = m.split("train"), m.split("test")
    names = sorted({canonical(e.content) for e in train + test} | {canonical(mirror_text(e.content)) for e in train})
    idx = {n: i for i, n in enumerate(names)}

    def tok(e, augment=""):
        return token_features(load_tokens(token_path(e.clip, augment), ck.tokenizer_id).indices, bits)

    rows, ys = [], []
    for e in train:
        rows.append(tok(e))
        ys.append(idx[canonical(e.content)])
        for a in args.augment:
            rows.append(tok(e, a))
            c = mirror_text(e.content) if is_mirrored(a) else e.content
            ys.append(idx[canonical(c)])
    tx, ty = np.stack(rows), np.array(ys)
    sx, sy = np.stack([tok(e) for e in test]), np.array([idx[canonical(e.content)] for e in test])
    lin_t, cen_t, pred = probe(tx, ty, sx, sy, len(names), args.weight_decay, args.seed)
    dx = np.stack([d135_features(e.clip) for e in train])
    dy = np.array([idx[canonical(e.content)] for e in train])
    ex = np.stack([d135_features(e.clip) for e in test])
    lin_d, cen_d, _ = probe(dx, dy, ex, sy, len(names), args.weight_decay, args.seed)
    per = {}
    for e, k in zip(test, pred):
        c = canonical(e.content)
        hit, n = per.get(c, (0, 0))
        per[c] = (hit + int(names[k] == c), n + 1)
    res = {"train_rows": int(len(tx)), "test_clips": len(test), "augments": args.augment,
           "tokens_logistic": round(lin_t, 4), "tokens_centroid": round(cen_t, 4),
           "d135_logistic": round(lin_d, 4), "d135_centroid": round(cen_d, 4),
           "tokens_logistic_per_content": {c: f"{h}/{n}" for c, (h, n) in sorted(per.items())}}
    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
