"""Training loop of the MotionBook tokenizer and its baselines.

All kinds are trained the same way on the same windows, so their numbers are
comparable: AdamW (betas 0.9/0.99 as in T2M-GPT), linear warm-up then cosine
decay to 10 % of the learning rate, gradient clipping, random windows drawn
uniformly over the train clips, validation on sequential windows of the
held-out clips every ``eval_every`` steps.

Outputs in ``TokenizerTrainConfig.out``: ``last.pt`` (atomic, written at every
evaluation and at the end; resuming continues from it), ``best.pt`` (lowest
validation MPJPE), ``tb/`` TensorBoard logs (losses, learning rate, codebook
utilisation and perplexity over the last ``log_every`` steps, validation
metrics). Resuming with a different :class:`TokenizerConfig` is an error; the
data statistics of a resumed run are the checkpoint's, not recomputed.

``TokenizerTrainConfig.time_limit_s`` gives a run a wall-clock budget instead of (or
as well as) a step count: the cosine schedule then advances with whichever of
steps and time runs out first, and the run checkpoints and ends when its
budget is spent, so a fixed amount of compute still gets a complete schedule
(the number of steps reached is recorded in the checkpoint).

``TokenizerTrainConfig.ema_decay`` > 0 keeps an exponential moving average of the
weights (Polyak averaging, as image tokenizers such as MAGVIT-v2 and
diffusion models are trained): validation, ``best.pt`` and the tokenizing
weights of ``last.pt`` are the average; ``last.pt`` also keeps the raw weights
to resume from.

``TokenizerTrainConfig.init_from`` starts a new run from another checkpoint's
weights and statistics (fine-tuning, e.g. the shipped model with another loss
weight); the optimizer and the schedule start afresh.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from motionlib.motion.errors import MotionError
from motionlib.motion.feature_stats import FeatureStats

from .checkpoint import load_checkpoint, load_state_into, save_checkpoint
from .config import LOSS_FIELDS, TokenizerConfig, TokenizerTrainConfig
from .data import ClipFeatures, WindowDataset, load_split, mix_parts
from .losses import TokenizerLoss
from .metrics import code_counts, evaluate_windows, perplexity, utilization
from .model import build_tokenizer


@dataclass
class TrainResult:
    step: int
    checkpoint: Path
    tokenizer_id: str
    train_clips: int
    val_clips: int
    last_losses: dict[str, float] = field(default_factory=dict)
    val: dict[str, Any] = field(default_factory=dict)
    resumed_from: int = 0
    stopped_early: bool = False  # TokenizerTrainConfig.time_limit_s ran out before TokenizerTrainConfig.steps


class WeightAverage:
    """Exponential moving average of a model's parameters; its buffers (VQ
    codebooks, LFQ constants) are copied, not averaged. The decay ramps in as
    ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so early averages
    do not remember the initialisation."""

    def __init__(self, model: torch.nn.Module, decay: float, updates: int = 0):
        self.model = copy.deepcopy(model).eval()
        self.model.requires_grad_(False)
        self.decay, self.updates = decay, updates

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        torch._foreach_lerp_(list(self.model.parameters()), list(model.parameters()), 1.0 - d)
        for b_avg, b in zip(self.model.buffers(), model.buffers()):
            b_avg.copy_(b)


def init_weights(model: torch.nn.Module, cfg: TokenizerConfig, path: str | os.PathLike) -> FeatureStats:
    """Load the tokenizing weights of checkpoint ``path`` into ``model`` (built from ``cfg``) and return its
    normalisation statistics; the checkpoint's config may differ from ``cfg`` in the loss weights only."""
    ck = load_checkpoint(path)
    diff = {k: v for k, v in cfg.diff(ck.config).items() if k not in LOSS_FIELDS}
    if diff:
        what = ", ".join(f"{k}: run has {a!r}, checkpoint has {b!r}" for k, (a, b) in diff.items())
        raise MotionError(f"cannot start from this checkpoint: its architecture differs ({what})", str(path))
    load_state_into(model, ck)
    return ck.stats


def schedule_progress(step: int, elapsed_s: float, tcfg: TokenizerTrainConfig) -> float:
    """Fraction of the run done after warm-up: by steps, or by wall-clock time
    when ``time_limit_s`` is set and runs out first (so a time-limited run
    still ends its cosine schedule at the end of its budget)."""
    span = max(tcfg.steps - tcfg.warmup_steps, 1)
    prog = (step - tcfg.warmup_steps) / span
    if tcfg.time_limit_s > 0:
        prog = max(prog, elapsed_s / tcfg.time_limit_s)
    return min(max(prog, 0.0), 1.0)


def lr_at(step: int, tcfg: TokenizerTrainConfig, elapsed_s: float = 0.0) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine decay to 10 %."""
    if tcfg.warmup_steps > 0 and step < tcfg.warmup_steps:
        return tcfg.lr * (step + 1) / tcfg.warmup_steps
    prog = schedule_progress(step, elapsed_s, tcfg)
    return tcfg.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * prog)))


def _writer(tcfg: TokenizerTrainConfig):
    if not tcfg.tensorboard:
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(tcfg.out_dir / "tb"))


def train_tokenizer(clips_dir: str | os.PathLike, cfg: TokenizerConfig, tcfg: TokenizerTrainConfig,
                    resume: bool = True) -> TrainResult:
    """Train (or resume) a tokenizer on the clips under ``clips_dir`` (a folder or a clip store)."""
    train_clips, val_clips, stats = load_split(clips_dir, cfg.fps, cfg.window, tcfg.val_fraction)
    return train_on_clips(train_clips, val_clips, stats, cfg, tcfg, resume)


def train_on_clips(train_clips: list[ClipFeatures], val_clips: list[ClipFeatures], stats: FeatureStats,
                   cfg: TokenizerConfig, tcfg: TokenizerTrainConfig, resume: bool = True) -> TrainResult:
    """Train (or resume) on already loaded clips; ``stats`` normalise them (a
    resumed run uses its checkpoint's statistics instead)."""
    from tqdm import tqdm

    if tcfg.num_threads > 0:
        torch.set_num_threads(tcfg.num_threads)
    out = tcfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    last_path, best_path = out / "last.pt", out / "best.pt"
    t_start = time.monotonic()

    torch.manual_seed(tcfg.seed)
    model = build_tokenizer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, betas=(0.9, 0.99), weight_decay=tcfg.weight_decay,
                            foreach=True)
    start, best, extra, seconds_before = 0, float("inf"), {}, 0.0
    if resume and last_path.exists():
        try:
            ck = load_checkpoint(last_path, expected=cfg)
        except MotionError as e:
            raise MotionError(f"{e.problem}; to start a new run use another output folder or resume=False "
                              f"(--no-resume)", e.source) from None
        load_state_into(model, ck, raw=True)
        if ck.optimizer_state is not None:
            opt.load_state_dict(ck.optimizer_state)
        start, stats = ck.step, ck.stats
        best = float(ck.extra.get("best_val_mpjpe_mm", best))
        seconds_before = float(ck.extra.get("train_seconds", 0.0))
    elif tcfg.init_from:
        stats = init_weights(model, cfg, tcfg.init_from)
    dev = torch.device(tcfg.device)
    model.to(dev)
    avg = None
    if tcfg.ema_decay > 0:
        avg = WeightAverage(model, tcfg.ema_decay, updates=start)
        if start and last_path.exists():  # resumed: the average goes on from the checkpoint's
            load_state_into(avg.model, ck)
    shown = model if avg is None else avg.model  # what is validated and tokenizes
    loss_fn = TokenizerLoss(cfg, stats).to(dev)
    data = WindowDataset(train_clips, stats, cfg.window)
    val_data = WindowDataset(val_clips, stats, cfg.window) if val_clips else None
    gen = torch.Generator().manual_seed(tcfg.seed * 1_000_003 + start)
    torch.manual_seed(tcfg.seed + start)  # LFQ's entropy subsampling / VQ resets draw from the global RNG

    writer = _writer(tcfg)
    counts = torch.zeros(model.codebook_size, dtype=torch.long)
    result = TrainResult(start, last_path, "", len(train_clips), len(val_clips), resumed_from=start)
    parts: dict[str, float] = {}
    end = start if 0 < tcfg.time_limit_s <= seconds_before else tcfg.steps  # a spent time budget: nothing to do
    pbar = tqdm(range(start, end), initial=start, total=tcfg.steps, desc=f"train {cfg.kind}",
                unit="step", disable=not tcfg.progress)
    try:
        for step in pbar:
            model.train()
            elapsed = seconds_before + time.monotonic() - t_start
            lr = lr_at(step, tcfg, elapsed)
            for g in opt.param_groups:
                g["lr"] = lr
            x = mix_parts(data.sample(tcfg.batch, gen), tcfg.part_mix, generator=gen).to(dev)
            recon, aux, idx = model(x)
            loss, parts = loss_fn(recon, x, aux)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"tokenizer loss is {float(loss)} at step {step} ({parts})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if tcfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
            opt.step()
            if avg is not None:
                avg.update(model)
            counts += code_counts(idx, counts.numel())
            done = step + 1
            elapsed = seconds_before + time.monotonic() - t_start
            out_of_time = 0 < tcfg.time_limit_s <= elapsed
            if done % tcfg.log_every == 0 or done == tcfg.steps:
                use, ppl = utilization(counts), perplexity(counts)
                pbar.set_postfix(loss=f"{parts['total']:.4f}", fk=f"{parts.get('fk', 0.0):.4f}", use=f"{use:.3f}")
                if writer is not None:
                    for k, v in parts.items():
                        writer.add_scalar(f"loss/{k}", v, done)
                    writer.add_scalar("lr", lr, done)
                    writer.add_scalar("codebook/utilization", use, done)
                    writer.add_scalar("codebook/perplexity", ppl, done)
                counts.zero_()
            if done % tcfg.eval_every == 0 or done == tcfg.steps or out_of_time:
                val = evaluate_windows(shown, val_data or data, loss_fn.denorm, batch=tcfg.batch)
                val["split"] = "val" if val_data is not None else "train"
                if writer is not None:
                    for k in ("mpjpe_mm", "mpjpe_root_aligned_mm", "feature_l1", "utilization", "perplexity"):
                        writer.add_scalar(f"val/{k}", val[k], done)
                is_best = val["mpjpe_mm"] < best
                best = min(best, val["mpjpe_mm"])
                extra = {"best_val_mpjpe_mm": best, "val_mpjpe_mm": val["mpjpe_mm"],
                         "val_mpjpe_root_aligned_mm": val["mpjpe_root_aligned_mm"],
                         "val_utilization": val["utilization"], "train_seconds": elapsed,
                         "finished": done >= tcfg.steps or out_of_time}
                tid = save_checkpoint(last_path, shown, cfg, stats, tcfg, opt, done, extra,
                                      train_model=None if avg is None else model)
                if is_best:
                    save_checkpoint(best_path, shown, cfg, stats, tcfg, None, done, extra)
                result.tokenizer_id, result.val = tid, val
            result.step = done
            if out_of_time:  # time budget spent: the schedule has ended too (see schedule_progress)
                result.stopped_early = done < tcfg.steps
                break
    finally:
        pbar.close()
        if writer is not None:
            writer.close()
    if not result.tokenizer_id and last_path.exists():  # nothing left to train: report the checkpoint
        result.tokenizer_id = load_checkpoint(last_path).tokenizer_id
    result.last_losses = parts
    return result
