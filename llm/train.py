"""Training the motion-language model (``motionlib train-lm``).

Two stages, one loop: ``align`` learns motion -> text and text -> motion on the plain pairs of the training
clips; ``instruct`` tunes on every instruction task (:mod:`.dataset`), usually starting from an align run
(``init``). The loss covers every token of the sequence (prompt and answer) by default, as Being-M0 does;
``loss="target"`` counts the answer only. AdamW with a linear warm-up, gradient clipping, TensorBoard
scalars in ``<out>/tb``, a checkpoint in ``<out>/last`` every ``save_every`` steps and at the end
(:mod:`.checkpoint`), resumed from when the run is started again with the same config, and a wall-clock
``time_limit`` after which the run saves and stops.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from motionlib.motion.errors import MotionError

from .checkpoint import load_lm, load_trainer_state, read_meta, save_lm
from .config import LMTrainConfig
from .grouped import grouped_batch, grouped_loss
from .model import MotionLM, build_lm, trainable_parameters
from .sequence import Example, Formatter


class FixedExamples:
    """A data source that hands out the same examples in turn (small runs, tests)."""

    def __init__(self, examples: list[Example]):
        if not examples:
            raise ValueError("FixedExamples needs at least one example")
        self.examples, self.i = list(examples), 0

    def sample(self, rng: np.random.Generator) -> Example:
        ex = self.examples[self.i % len(self.examples)]
        self.i += 1
        return ex


@dataclass
class TrainResult:
    step: int
    checkpoint: Path
    resumed_from: int = 0
    first_loss: float = float("nan")
    last_loss: float = float("nan")
    val_loss: float | None = None
    best_val_loss: float | None = None  # the lowest validation loss of the run (``RUN/best``)
    best_step: int | None = None
    stopped: str = "steps"  # "steps" or "time_limit"
    seconds: float = 0.0
    trainable: int = 0
    losses: list[float] = field(default_factory=list)


def batch_tensors(fmt: Formatter, examples: list[Example], max_len: int, target_only: bool):
    """(input_ids, attention_mask, labels) of right-padded sequences; padding (and with ``target_only`` the
    prompt) is -100 in the labels."""
    seqs = []
    for ex in examples:
        ids, n = fmt.example_ids(ex)
        ids = ids[:max_len]
        lab = list(ids)
        if target_only:
            lab[:n] = [-100] * min(n, len(lab))
        seqs.append((ids, lab))
    width = max(len(s[0]) for s in seqs)
    pad = fmt.tok.pad_token_id
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    att = torch.zeros((len(seqs), width), dtype=torch.long)
    lab = torch.full((len(seqs), width), -100, dtype=torch.long)
    for i, (s, l) in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        att[i, :len(s)] = 1
        lab[i, :len(l)] = torch.tensor(l)
    return ids, att, lab


def draw(data, fmt: Formatter, rng: np.random.Generator, n: int, max_len: int, tries: int = 10) -> list[Example]:
    """``n`` examples that fit ``max_len`` (the last of ``tries`` draws is cropped when none did)."""
    out = []
    for _ in range(n):
        for _t in range(tries):
            ex = data.sample(rng)
            if len(fmt.example_ids(ex)[0]) <= max_len:
                break
        out.append(ex)
    return out


def _device(name: str) -> str:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MotionError(f"--device {name}: no CUDA device is available")
    return name


def batch_loss(lm: MotionLM, examples: list[Example], cfg: LMTrainConfig) -> tuple[torch.Tensor, int]:
    """(loss of a batch in ``lm``'s layout, positions in it)."""
    target_only = cfg.loss == "target"
    if lm.layout == "grouped":
        seqs = []
        for ex in examples:
            items, n = lm.formatter.example_ids(ex)
            seqs.append((items[:cfg.max_len], n))
        b = grouped_batch(lm.formatter, seqs, target_only).to(lm.device)
        return grouped_loss(lm.base_model, lm.steps, b), int(b.attention_mask.sum())
    ids, att, lab = batch_tensors(lm.formatter, examples, cfg.max_len, target_only)
    out = lm.model(input_ids=ids.to(lm.device), attention_mask=att.to(lm.device), labels=lab.to(lm.device))
    return out.loss, int(att.sum())


@torch.no_grad()
def mean_loss(lm: MotionLM, examples: list[Example], cfg: LMTrainConfig) -> float:
    was = lm.model.training
    lm.train(False)
    losses = [float(batch_loss(lm, examples[i:i + cfg.batch_size], cfg)[0])
              for i in range(0, len(examples), cfg.batch_size)]
    lm.train(was)
    return float(np.mean(losses))


def _start(cfg: LMTrainConfig, out: Path, device: str) -> tuple[MotionLM, dict | None, dict, int]:
    """(model, optimizer state, sampler state, step): resumed from ``out/last``, started from ``cfg.init``,
    or new."""
    last = out / "last"
    if (last / "lm.json").is_file():
        meta = read_meta(last)
        saved = LMTrainConfig.from_dict(meta["config"])
        diff = cfg.diff(saved)
        if diff:
            what = ", ".join(f"{k}: {a!r} now, {b!r} in the checkpoint" for k, (a, b) in diff.items())
            raise MotionError(f"cannot resume: the run was started with another config ({what}); use another "
                              "--out or --no-resume", str(last))
        lm, _ = load_lm(last, device, trainable=True)
        opt, state = load_trainer_state(last)
        return lm, opt, state, int(meta["step"])
    if cfg.init:
        meta = read_meta(cfg.init)
        init = LMTrainConfig.from_dict(meta["config"])
        shape = ("lora", "vocab", "layout", "group_dim", "code_bits")
        if any(getattr(init, k) != getattr(cfg, k) for k in shape):
            raise MotionError("--init checkpoint differs in LoRA/full fine-tuning, vocabulary, layout or code table",
                              cfg.init)
        lm, _ = load_lm(cfg.init, device, trainable=True, backbone=cfg.backbone)
        return lm, None, {}, 0
    return build_lm(cfg.backbone, cfg.vocab, cfg.lora, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, device,
                    layout=cfg.layout, group_dim=cfg.group_dim, code_bits=cfg.code_bits), None, {}, 0


def train_lm(cfg: LMTrainConfig, data, out: str | Path, tokenizer_id: str, val_data=None,
             resume: bool = True, log=print) -> TrainResult:
    """Train on examples drawn from ``data`` (anything with ``sample(rng) -> Example``) into ``out``."""
    from torch.utils.tensorboard import SummaryWriter

    t0 = time.monotonic()
    out = Path(out)
    if not resume:
        import shutil

        for sub in ("last", "best"):
            if (out / sub).exists():
                shutil.rmtree(out / sub)
    device = _device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    lm, opt_state, state, step = _start(cfg, out, device)
    start_step = step
    lm.train()
    params = [p for p in lm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    rng = np.random.default_rng(cfg.seed)
    if state.get("rng"):
        rng.bit_generator.state = state["rng"]
    if state.get("fixed_index") is not None and isinstance(data, FixedExamples):
        data.i = int(state["fixed_index"])
    val = draw(val_data, lm.formatter, np.random.default_rng(cfg.seed + 1), cfg.val_examples, cfg.max_len) \
        if val_data is not None and cfg.val_examples > 0 else []
    writer = SummaryWriter(str(out / "tb"))
    res = TrainResult(step, out / "last", resumed_from=start_step, trainable=trainable_parameters(lm))
    if (out / "best" / "lm.json").is_file():  # a resumed run keeps its best so far
        kept = read_meta(out / "best")
        res.best_val_loss, res.best_step = kept.get("val_loss"), kept.get("step")
    log(f"train-lm: stage {cfg.stage}, layout {cfg.layout}, {res.trainable / 1e6:.2f} M trainable parameters "
        f"({'LoRA r=%d' % cfg.lora_r if cfg.lora else 'full fine-tuning'}), step {step} -> {cfg.steps}, "
        f"device {device}")

    def save() -> None:
        extra = {"trainable_parameters": res.trainable}
        if val:
            res.val_loss = mean_loss(lm, val, cfg)
            writer.add_scalar("val/loss", res.val_loss, step)
            extra["val_loss"] = res.val_loss
        sampler = {"rng": rng.bit_generator.state, "fixed_index": getattr(data, "i", None)}
        save_lm(out / "last", lm, cfg, step, tokenizer_id, opt, json.loads(json.dumps(sampler)), extra)
        if res.val_loss is not None and (res.best_val_loss is None or res.val_loss < res.best_val_loss):
            save_lm(out / "best", lm, cfg, step, tokenizer_id, extra=extra)  # no optimizer: not resumed from
            res.best_val_loss, res.best_step = res.val_loss, step

    tokens, t_log = 0, time.monotonic()
    while step < cfg.steps:
        if cfg.time_limit is not None and time.monotonic() - t0 >= cfg.time_limit:
            res.stopped = "time_limit"
            break
        lr = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup))
        for g in opt.param_groups:
            g["lr"] = lr
        exs = draw(data, lm.formatter, rng, cfg.batch_size, cfg.max_len)
        loss, n_pos = batch_loss(lm, exs, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        step += 1
        tokens += n_pos
        lv = float(loss.detach())
        res.losses.append(lv)
        writer.add_scalar("train/loss", lv, step)
        writer.add_scalar("train/lr", lr, step)
        if step % cfg.log_every == 0:
            dt = time.monotonic() - t_log
            writer.add_scalar("train/tokens_per_s", tokens / max(dt, 1e-9), step)
            log(f"step {step}: loss {lv:.4f}, {tokens / max(dt, 1e-9):.0f} tokens/s")
            tokens, t_log = 0, time.monotonic()
        if step % cfg.save_every == 0 and step < cfg.steps:
            save()
    save()
    writer.close()
    res.step = step
    if res.losses:
        res.first_loss, res.last_loss = res.losses[0], res.losses[-1]
    res.seconds = time.monotonic() - t0
    return res
