"""Tokenizer encode/decode throughput on one CPU core.

    python benchmarks/bench_tokenizer.py [--seconds 60] [--repeat 5]

For each benchmark model (the presets of :mod:`motionlib.tokenizer.presets`:
2D-LFQ 2^14 -- the shipped tokenizer --, 1D-LFQ 2^14, 1D VQ-512) prints
frames of motion per second encoded to tokens (normalised D135 features ->
token indices, the encoder plus the quantizer) and decoded back (tokens ->
features), with ``torch.set_num_threads(1)``, on a batch of 8 clips of
``--seconds`` s at 30 fps; best of ``--repeat`` runs. Weights are random:
the cost does not depend on them. The issue's target: >= 20k frames/s per
core for encoding.
"""

from __future__ import annotations

import argparse

import torch
from _timing import best_rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each clip")
    ap.add_argument("--batch", type=int, default=8, help="clips encoded together")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)

    from motionlib.tokenizer.model import build_tokenizer
    from motionlib.tokenizer.presets import PRESETS

    frames_per_clip = int(args.seconds * 30) // 4 * 4
    x = torch.randn(args.batch, frames_per_clip, 135, generator=torch.Generator().manual_seed(0))
    frames = x.shape[0] * x.shape[1]
    print(f"tokenizer throughput, 1 thread, {args.batch} clips x {frames_per_clip} frames, best of {args.repeat}")
    print(f"{'preset':10s} {'params':>8s} {'codes':>7s} {'tokens/s':>9s} {'encode frames/s':>16s} "
          f"{'decode frames/s':>16s}")
    for name, cfg in PRESETS.items():
        torch.manual_seed(0)
        model = build_tokenizer(cfg).eval()
        with torch.inference_mode():
            idx = model.encode(x)
            enc = best_rate(lambda: model.encode(x), frames, args.repeat)
            dec = best_rate(lambda: model.decode_indices(idx), frames, args.repeat)
        params = sum(p.numel() for p in model.parameters())
        print(f"{name:10s} {params / 1e6:7.2f}M {cfg.codebook_size:7d} {cfg.tokens_per_second():9g} "
              f"{enc:16,.0f} {dec:16,.0f}")


if __name__ == "__main__":
    main()
