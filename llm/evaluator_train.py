"""Training the text-motion evaluator (``motionlib train-evaluator``) contrastively, as TMR does.

Each step draws ``batch_size`` training clips, one caption and one random window of each, embeds both and
takes the symmetric InfoNCE loss (cross-entropy of the text-to-motion and motion-to-text similarity rows at
``temperature``), with pairs of the same label key left out of each other's negatives. AdamW, gradient
clipping, TensorBoard scalars in ``<out>/tb``.

**Checkpoint rule** (fixed before any training): every ``eval_every`` steps and at the end, the validation
split's R-precision top-3 (batches of 32, 20 repeats, :func:`~.eval_scores.retrieval`) is measured; the
checkpoint with the highest mean is ``<out>/best`` (ties keep the earlier one), and that is the evaluator
used. ``<out>/last`` is the latest, with the optimizer state; a rerun with the same options resumes from it.
The test split is never read.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from motionlib.motion.errors import MotionError
from motionlib.tokenizer.data import compute_train_stats

from .evaluator import Evaluator, EvaluatorConfig, init_token_table, load_evaluator, save_evaluator
from .evaluator_data import load_items, same_key_mask, train_windows
from .eval_scores import embed_set, retrieval
from .splits import Manifest


@dataclass(frozen=True)
class EvaluatorTrainConfig:
    model: EvaluatorConfig = EvaluatorConfig()
    steps: int = 3000
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 0.01
    temperature: float = 0.1
    eval_every: int = 250
    seed: int = 0
    backbone: str | None = None  # tokenizer (and token table init) source; None: the default SmolLM2
    init_embeddings: bool = True  # token table from the backbone's input embeddings (PCA)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d


@dataclass
class EvaluatorTrainResult:
    step: int
    best_step: int
    best_val_r3: float
    best: Path
    last: Path
    first_loss: float
    last_loss: float
    seconds: float
    stopped: str  # "steps" or "time_limit"
    train_clips: int
    val_clips: int
    val: dict  # retrieval figures of the best checkpoint on the val split

    def to_dict(self) -> dict:
        d = asdict(self)
        d["best"], d["last"] = str(self.best), str(self.last)
        return d


def info_nce(text: torch.Tensor, motion: torch.Tensor, same: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE over unit embeddings; ``same`` (B, B) marks negatives to leave out."""
    logits = text @ motion.T / temperature
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(text), device=text.device)
    return 0.5 * (torch.nn.functional.cross_entropy(logits, target)
                  + torch.nn.functional.cross_entropy(logits.T, target))


def _resumable(d: dict) -> dict:
    """The options a rerun must share with the run it resumes (more steps may be asked for)."""
    return {k: v for k, v in json.loads(json.dumps(d)).items() if k != "steps"}


def _new_evaluator(cfg: EvaluatorTrainConfig, stats) -> Evaluator:
    from .backbone import load_backbone, load_tokenizer, resolve_backbone

    source = resolve_backbone(cfg.backbone)
    tok = load_tokenizer(source)
    torch.manual_seed(cfg.seed)
    ev = Evaluator(cfg.model, tok, stats)
    if cfg.init_embeddings:
        model, _ = load_backbone(cfg.backbone)
        init_token_table(ev, model.get_input_embeddings().weight)
        del model
    return ev


def train_evaluator(manifest: Manifest, out: str | Path, cfg: EvaluatorTrainConfig, device: str = "cpu",
                    time_limit: float | None = None, progress: bool = False) -> EvaluatorTrainResult:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fps, mf = cfg.model.fps, cfg.model.max_frames
    train, errs = load_items(manifest.split("train"), fps, progress)
    val, verrs = load_items(manifest.split("val"), fps, progress)
    if len(train) < 2:
        raise MotionError(f"the evaluator needs at least 2 readable training clips, got {len(train)}"
                          + (f"; first error: {errs[0]}" if errs else ""), str(manifest.path or out))
    last, best = out / "last", out / "best"
    step, best_step, best_r3, history = 0, -1, -1.0, []
    opt_state = None
    if (last / "evaluator.json").is_file():
        meta = json.loads((last / "evaluator.json").read_text())
        if _resumable(meta.get("train_config") or {}) != _resumable(cfg.to_dict()):
            raise MotionError("a run with other options is in this folder: use another --out (or delete it)",
                              str(last))
        ev, meta = load_evaluator(last, device)
        step, best_step, best_r3 = int(meta["step"]), int(meta["best_step"]), float(meta["best_val_r3"])
        history = list(meta.get("history", []))
        if (last / "trainer.pt").is_file():
            from motionlib.motion.weights import load_weights

            opt_state = load_weights(last / "trainer.pt", "evaluator trainer state")["optimizer"]
    else:
        ev = _new_evaluator(cfg, compute_train_stats(train)).to(device)
    ev.train()
    opt = torch.optim.AdamW(ev.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    from torch.utils.tensorboard import SummaryWriter

    tb = SummaryWriter(str(out / "tb"))
    rng = np.random.default_rng(cfg.seed + step)
    bs = min(cfg.batch_size, len(train))
    first_loss = last_loss = float("nan")
    best_val: dict = {}
    stopped = "steps"

    def checkpoint() -> None:
        nonlocal best_step, best_r3, best_val
        ev.eval()
        figs = retrieval(embed_set(ev, val), seed=cfg.seed) if len(val) >= 2 else {}
        ev.train()
        r3 = figs["r_precision"]["top3"]["mean"] if figs else -step  # no val split: the latest wins
        history.append({"step": step, "loss": last_loss, "val": figs})
        if figs:
            for k, v in figs["r_precision"].items():
                tb.add_scalar(f"val/r_precision_{k}", v["mean"], step)
            tb.add_scalar("val/mm_dist", figs["mm_dist"]["mean"], step)
        extra = {"train_config": cfg.to_dict(), "step": step, "manifest": str(manifest.path or ""),
                 "train_clips": len(train), "val_clips": len(val)}
        if r3 > best_r3:
            best_step, best_r3, best_val = step, r3, figs
            save_evaluator(best, ev, {**extra, "best_step": step, "best_val_r3": r3, "val": figs})
        save_evaluator(last, ev, {**extra, "best_step": best_step, "best_val_r3": best_r3, "history": history},
                       optimizer=opt)

    while step < cfg.steps:
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            stopped = "time_limit"
            break
        idx = rng.choice(len(train), bs, replace=False)
        caps, wins, keys = train_windows(train, idx, mf, rng)
        same = torch.from_numpy(same_key_mask(keys)).to(ev.device)
        loss = info_nce(ev.encode_text(caps), ev.encode_motion(wins), same, cfg.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ev.parameters(), 1.0)
        opt.step()
        step += 1
        last_loss = float(loss.detach())
        first_loss = last_loss if np.isnan(first_loss) else first_loss
        tb.add_scalar("train/loss", last_loss, step)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            checkpoint()
    if not history or history[-1]["step"] != step:
        checkpoint()
    tb.close()
    if not best_val and (best / "evaluator.json").is_file():
        best_val = json.loads((best / "evaluator.json").read_text()).get("val", {})
    return EvaluatorTrainResult(step, best_step, best_r3, best, last, first_loss, last_loss,
                                time.perf_counter() - t0, stopped, len(train), len(val), best_val)
