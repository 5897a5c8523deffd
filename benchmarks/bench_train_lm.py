"""One AdamW step of ``motionlib train-lm --stage align`` on the default model: flat against grouped layout.

    python benchmarks/bench_train_lm.py                       # 8 examples, 3 interleaved rounds, 1 thread
    python benchmarks/bench_train_lm.py --steps 46 --rounds 5 --threads 2

Builds the default model (SmolLM2-135M-Instruct, LoRA r=16) in each layout and times one training step
(forward, backward, gradient clipping, AdamW) on a batch of ``--batch`` stage-align examples: half text ->
motion, half motion -> text, with real Bandai captions and motion grids of ``--steps`` steps (default 46, the
mean length of the 174 dataset-1 clips: 8,047 steps). Codes are random: the cost does not depend on them.
Layouts are interleaved over ``--rounds`` so that the load of other jobs falls on both alike; the first step
of each is a warm-up and not counted. The size of each layout's shipped checkpoint is printed too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def examples(n: int, steps: int, seed: int):
    import numpy as np

    from motionlib.llm.sequence import Example, fill
    from motionlib.llm.templates import M2T_PLAIN, T2M_PLAIN
    from motionlib.motion.ingest.captions import bandai_texts

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        labels = {"dataset": "dataset-1", "content": ["walk", "bow", "punch", "run"][i % 4], "style": "tired",
                  "take": 1}
        cap = bandai_texts(labels)["captions"][0]
        grid = rng.integers(0, 2**14, (steps, 6))
        if i % 2 == 0:
            out.append(Example("t2m", fill(T2M_PLAIN.prompt, {"caption": cap}), [grid]))
        else:
            out.append(Example("m2t", fill(M2T_PLAIN.prompt, {"motion": grid}), [cap]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=46, help="motion steps per example (7.5 per second)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--backbone", default=None)
    ap.add_argument("--layouts", nargs="+", default=["flat", "grouped"])
    args = ap.parse_args()

    import torch

    from motionlib.llm.config import LMTrainConfig
    from motionlib.llm.model import build_lm, trainable_parameters
    from motionlib.llm.train import batch_loss

    torch.set_num_threads(args.threads)
    exs = examples(args.batch, args.steps, 0)
    setups = {}
    for layout in args.layouts:
        spec = LMTrainConfig().vocab  # train-lm's default with the shipped LFQ tokenizer: code rows from the bits
        bits = spec.codebook_size.bit_length() - 1 if layout == "grouped" else 0
        cfg = LMTrainConfig(backbone=args.backbone, layout=layout, batch_size=args.batch, max_len=4096, code_bits=bits)
        torch.manual_seed(0)
        lm = build_lm(args.backbone, cfg.vocab, True, cfg.lora_r, cfg.lora_alpha, layout=layout, code_bits=bits)
        lm.train()
        params = [p for p in lm.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=cfg.lr)
        setups[layout] = (lm, cfg, params, opt)
        from bench_generate import checkpoint_mb

        sizes = checkpoint_mb(lm)
        print(f"{layout}: {trainable_parameters(lm) / 1e6:.2f} M trainable parameters; checkpoint "
              + ", ".join(f"{k} {v:.1f} MB" for k, v in sorted(sizes.items())) + f"; {sum(sizes.values()):.1f} MB",
              flush=True)

    def step(layout: str) -> tuple[float, int, float]:
        lm, cfg, params, opt = setups[layout]
        t0 = time.perf_counter()
        loss, n = batch_loss(lm, exs, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        return time.perf_counter() - t0, n, float(loss.detach())

    for layout in args.layouts:
        step(layout)  # warm-up
    times = {k: [] for k in args.layouts}
    positions, loads = {}, {k: [] for k in args.layouts}
    for r in range(args.rounds):
        for layout in args.layouts:
            dt, n, _ = step(layout)
            times[layout].append(dt)
            positions[layout] = n
            loads[layout].append(os.getloadavg()[0])
        print(f"round {r + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    print(f"\none AdamW step, {args.batch} align examples of {args.steps} motion steps, {args.threads} thread(s); "
          f"median and best of {args.rounds}")
    print(f"{'layout':<8} {'positions':>9} {'s/step':>7} {'best':>7} {'load':>5}")
    for layout in args.layouts:
        print(f"{layout:<8} {positions[layout]:>9} {statistics.median(times[layout]):7.2f} {min(times[layout]):7.2f} "
              f"{statistics.mean(loads[layout]):5.2f}")


if __name__ == "__main__":
    main()
