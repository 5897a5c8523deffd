"""Tokenizer checkpoints: one ``.pt`` file with everything needed to tokenize.

Contents (plain tensors, strings and numbers only, so that it loads with
``torch.load(weights_only=True)`` -- no pickled code is executed):
``format``/``version``, the :class:`TokenizerConfig` and :class:`TokenizerTrainConfig`
as dicts, the normalisation statistics (mean/std of the train split), the
model ``state_dict``, optionally the optimizer state and (for a run that
averages its weights, ``TokenizerTrainConfig.ema_decay``) the raw training weights
``train_model`` beside the averaged ``model`` it tokenizes with, the step, and the
``tokenizer_id``: a hash of config + statistics + weights that token files
record, so tokens are never decoded by a different tokenizer by mistake.

Writes are atomic (temporary file + rename, :mod:`motionlib.motion.atomic`).
A checkpoint whose config differs from the one expected (a resumed run with
other flags, a token file from another tokenizer) is a :class:`MotionError`
listing the differing fields.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionlib.motion.atomic import atomic_path
from motionlib.motion.errors import MotionError
from motionlib.motion.feature_stats import FeatureStats
from motionlib.motion.weights import load_weights

from .config import TokenizerConfig, TokenizerTrainConfig, config_hash

FORMAT = "motionlib.tokenizer"
VERSION = 1
ENV_TOKENIZER = "MOTIONLIB_TOKENIZER"
DEFAULT_TOKENIZER = "motionbook_lfq2d_14.pt"


@dataclass
class Checkpoint:
    config: TokenizerConfig
    stats: FeatureStats
    model_state: dict[str, torch.Tensor]
    step: int = 0
    tokenizer_id: str = ""
    train: TokenizerTrainConfig | None = None
    optimizer_state: dict | None = None
    train_state: dict[str, torch.Tensor] | None = None  # raw weights of a weight-averaged run (resume only)
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def config_hash(self) -> str:
        return config_hash(self.config)


def compute_tokenizer_id(cfg: TokenizerConfig, stats: FeatureStats, state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode())
    h.update(np.asarray(stats.mean, dtype=np.float64).tobytes())
    h.update(np.asarray(stats.std, dtype=np.float64).tobytes())
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().numpy().tobytes())
    return f"{cfg.kind}-{h.hexdigest()[:16]}"


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, cfg: TokenizerConfig, stats: FeatureStats,
                    train: TokenizerTrainConfig | None = None, optimizer: torch.optim.Optimizer | None = None,
                    step: int = 0, extra: dict[str, Any] | None = None,
                    train_model: torch.nn.Module | None = None) -> str:
    """Write a checkpoint atomically; returns its tokenizer id. ``model`` is
    what tokenizes; ``train_model`` (optional) the raw weights an averaged
    ``model`` was made from, kept so that training can resume."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tid = compute_tokenizer_id(cfg, stats, state)
    obj = {
        "format": FORMAT, "version": VERSION, "config": cfg.to_dict(),
        "train": None if train is None else train.to_dict(),
        "stats": {"mean": torch.as_tensor(np.asarray(stats.mean, dtype=np.float64)),
                  "std": torch.as_tensor(np.asarray(stats.std, dtype=np.float64)),
                  "frames": int(stats.frames), "clips": int(stats.clips), "std_floor": float(stats.std_floor)},
        "model": state, "optimizer": None if optimizer is None else optimizer.state_dict(),
        "train_model": None if train_model is None else {k: v.detach().cpu()
                                                         for k, v in train_model.state_dict().items()},
        "step": int(step), "tokenizer_id": tid, "extra": dict(extra or {}),
    }
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return tid


def load_checkpoint(path: str | os.PathLike, expected: TokenizerConfig | None = None) -> Checkpoint:
    """Read a checkpoint (weights only); ``expected``: refuse another config."""
    path = Path(path)
    src = str(path)
    obj = load_weights(path, "tokenizer checkpoint")
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise MotionError("not a motionlib tokenizer checkpoint", src)
    if obj.get("version") != VERSION:
        raise MotionError(f"unsupported tokenizer checkpoint version {obj.get('version')} (this motionlib reads "
                          f"{VERSION})", src)
    try:
        cfg = TokenizerConfig.from_dict(obj["config"])
        s = obj["stats"]
        stats = FeatureStats(s["mean"].numpy(), s["std"].numpy(), int(s["frames"]), int(s["clips"]),
                             float(s["std_floor"]))
        train = None if obj.get("train") is None else TokenizerTrainConfig.from_dict(obj["train"])
    except (KeyError, TypeError, ValueError) as e:
        raise MotionError(f"tokenizer checkpoint has an invalid config or statistics ({e})", src) from None
    if expected is not None:
        diff = expected.diff(cfg)
        if diff:
            what = ", ".join(f"{k}: expected {a!r}, checkpoint has {b!r}" for k, (a, b) in diff.items())
            raise MotionError(f"checkpoint was made with another tokenizer config ({what})", src)
    return Checkpoint(cfg, stats, obj["model"], int(obj.get("step", 0)), str(obj.get("tokenizer_id", "")), train,
                      obj.get("optimizer"), obj.get("train_model"), dict(obj.get("extra") or {}), path)


def load_state_into(model: torch.nn.Module, ckpt: Checkpoint, raw: bool = False) -> None:
    """Load the checkpoint's tokenizing weights, or with ``raw`` its raw
    training weights (the same ones unless the run averaged its weights)."""
    state = ckpt.train_state if raw and ckpt.train_state is not None else ckpt.model_state
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise MotionError(f"checkpoint weights do not fit the {ckpt.config.kind} tokenizer ({first})",
                          str(ckpt.path)) from None


def load_tokenizer(path: str | os.PathLike, device: str = "cpu"):
    """(model in eval mode, checkpoint) from a checkpoint file."""
    from .model import build_tokenizer

    ckpt = load_checkpoint(path)
    model = build_tokenizer(ckpt.config)
    load_state_into(model, ckpt)
    return model.to(device).eval(), ckpt


def export_tokenizer(src: str | os.PathLike, dst: str | os.PathLike) -> str:
    """Write ``src``'s tokenizing weights, config and statistics to ``dst``
    (atomically) without its optimizer state or raw training weights: the
    shippable form of a run's ``last.pt`` (``best.pt`` is already written so).
    Returns the tokenizer id, the same as ``src``'s."""
    model, ck = load_tokenizer(src)
    return save_checkpoint(dst, model, ck.config, ck.stats, ck.train, step=ck.step, extra=ck.extra)


def run_checkpoint(run_dir: str | os.PathLike, which: str = "best") -> Path | None:
    """A training run's checkpoint: ``best`` (its best validation, ``best.pt``, else ``last.pt``) or
    ``last`` (``last.pt``); None when the run has none."""
    if which not in ("best", "last"):
        raise ValueError(f"checkpoint must be 'best' or 'last', got {which!r}")
    d = Path(run_dir)
    order = ["best.pt", "last.pt"] if which == "best" else ["last.pt"]
    return next((d / n for n in order if (d / n).exists()), None)


def export_run(run_dir: str | os.PathLike, dst: str | os.PathLike, which: str = "best") -> tuple[Path, str]:
    """Write the shippable copy (:func:`export_tokenizer`) of a training run's ``which`` checkpoint
    (:func:`run_checkpoint`) to ``dst``; returns (the source checkpoint, the tokenizer id)."""
    d = Path(run_dir)
    if not d.is_dir():
        raise MotionError("no such tokenizer run folder", str(d))
    src = run_checkpoint(d, which)
    if src is None:
        raise MotionError("no tokenizer checkpoint (" + ("best.pt or last.pt" if which == "best" else "last.pt")
                          + ") in this run folder", str(d))
    return src, export_tokenizer(src, dst)


def default_tokenizer_path() -> Path:
    """The shipped default tokenizer (``tokenizer/data/``, see its README)."""
    from importlib import resources

    path = Path(str(resources.files("motionlib.tokenizer").joinpath("data", DEFAULT_TOKENIZER)))
    if not path.is_file():
        raise MotionError("the default tokenizer is not installed; pass --tokenizer CKPT", str(path))
    return path


def resolve_tokenizer(arg: str | os.PathLike | None) -> Path:
    """``--tokenizer`` value, else ``$MOTIONLIB_TOKENIZER``, else the shipped
    default tokenizer; a folder means its ``last.pt``."""
    value = arg if arg is not None else os.environ.get(ENV_TOKENIZER)
    if not value:
        return default_tokenizer_path()
    p = Path(value)
    return p / "last.pt" if p.is_dir() else p
