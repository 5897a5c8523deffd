"""The text-motion evaluator: a text encoder and a motion encoder into one embedding space (TMR style).

* **Motion encoder**: D135 features (:mod:`motionlib.motion.features`) at ``fps``, normalised with statistics
  of the training split, two strided 1-D convolutions (4x shorter), a small transformer encoder, the mean over
  the valid steps, a linear map to ``dim`` and unit length.
* **Text encoder**: the backbone's tokenizer (SmolLM2's by default; a tiny one in tests), a learned token
  table (optionally initialised from the backbone's input embeddings, reduced to ``token_dim`` by PCA), a
  small transformer encoder, the masked mean, a linear map to ``dim`` and unit length.

Embeddings have unit length, so distances lie in [0, 2] and FID / MM-Dist are not on the scale of Guo et
al.'s evaluator (whose embeddings are not normalised); the ranking metrics are comparable in kind.

A checkpoint is one folder (``evaluator.json``, ``weights.pt``, ``stats.npz``, ``tokenizer/``), written under
a temporary name and swapped in, so a crash leaves the old one or the new one.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from motionlib.motion.atomic import atomic_dir
from motionlib.motion.errors import MotionError
from motionlib.motion.feature_stats import FeatureStats
from motionlib.motion.features import DIM
from motionlib.motion.weights import load_weights

from .checkpoint_meta import read_checkpoint_meta

FORMAT = "motionlib.lm_evaluator"
VERSION = 1
META = "evaluator.json"


@dataclass(frozen=True)
class EvaluatorConfig:
    fps: float = 15.0  # motion frame rate the encoder reads
    max_seconds: float = 8.0  # longest motion window (the language model's longest segment)
    dim: int = 256  # embedding size
    width: int = 128  # transformer width (both encoders)
    layers: int = 2
    heads: int = 4
    token_dim: int = 128  # text token table width
    max_words: int = 48  # longest caption in tokens
    dropout: float = 0.1

    @property
    def max_frames(self) -> int:
        return max(4, int(round(self.max_seconds * self.fps)))

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "EvaluatorConfig":
        known = {f.name for f in fields(EvaluatorConfig)}
        return EvaluatorConfig(**{k: v for k, v in d.items() if k in known})


def _positions(n: int, width: int) -> torch.Tensor:
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    pe = torch.zeros(n, width)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


class _Pool(nn.Module):
    """Sinusoidal positions, a transformer encoder, the masked mean, a linear map, unit length."""

    def __init__(self, cfg: EvaluatorConfig, max_len: int):
        super().__init__()
        layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, 2 * cfg.width, cfg.dropout, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.register_buffer("pe", _positions(max_len, cfg.width), persistent=False)
        self.out = nn.Linear(cfg.width, cfg.dim)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        x = x + self.pe[: x.shape[1]]
        h = self.encoder(x, src_key_padding_mask=~valid)
        w = valid.unsqueeze(-1).to(h.dtype)
        h = (h * w).sum(1) / w.sum(1).clamp_min(1.0)
        return nn.functional.normalize(self.out(h), dim=-1)


class MotionEncoder(nn.Module):
    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(DIM, cfg.width, 4, 2, 1), nn.GELU(),
                                  nn.Conv1d(cfg.width, cfg.width, 4, 2, 1), nn.GELU())
        self.pool = _Pool(cfg, cfg.max_frames // 4 + 2)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, 135) normalised features, (B,) valid lengths -> (B, dim) unit embeddings."""
        h = self.conv(feats.transpose(1, 2)).transpose(1, 2)
        steps = torch.clamp((lengths + 3) // 4, min=1)
        valid = torch.arange(h.shape[1], device=h.device)[None, :] < steps[:, None]
        return self.pool(h, valid)


class TextEncoder(nn.Module):
    def __init__(self, cfg: EvaluatorConfig, vocab_size: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, cfg.token_dim)
        self.proj = nn.Linear(cfg.token_dim, cfg.width)
        self.pool = _Pool(cfg, cfg.max_words)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.pool(self.proj(self.embed(ids)), mask.bool())


class Evaluator(nn.Module):
    """Both encoders, the feature statistics and the tokenizer: embeds texts and D135 feature windows."""

    def __init__(self, cfg: EvaluatorConfig, tokenizer, stats: FeatureStats):
        super().__init__()
        self.cfg, self.tokenizer, self.stats = cfg, tokenizer, stats
        self.motion = MotionEncoder(cfg)
        self.text = TextEncoder(cfg, len(tokenizer))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def text_batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.tokenizer([" ".join(t.split()) for t in texts], padding=True, truncation=True,
                             max_length=self.cfg.max_words, return_tensors="pt")
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    def motion_batch(self, windows: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw (T_i, 135) feature windows -> normalised, zero-padded (B, T, 135) and lengths."""
        width = max(4, max(len(w) for w in windows))
        out = np.zeros((len(windows), width, DIM), dtype=np.float32)
        for i, w in enumerate(windows):
            out[i, :len(w)] = self.stats.normalize(np.asarray(w, dtype=np.float32))
        lengths = torch.tensor([len(w) for w in windows])
        return torch.from_numpy(out).to(self.device), lengths.to(self.device)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        return self.text(*self.text_batch(texts))

    def encode_motion(self, windows: list[np.ndarray]) -> torch.Tensor:
        return self.motion(*self.motion_batch(windows))

    @torch.no_grad()
    def embed_texts(self, texts: list[str], batch: int = 256) -> np.ndarray:
        was = self.training
        self.eval()
        out = [self.encode_text(texts[i:i + batch]).cpu().numpy() for i in range(0, len(texts), batch)]
        self.train(was)
        return np.concatenate(out) if out else np.zeros((0, self.cfg.dim), np.float32)

    @torch.no_grad()
    def embed_motions(self, windows: list[np.ndarray], batch: int = 128) -> np.ndarray:
        was = self.training
        self.eval()
        out = [self.encode_motion(windows[i:i + batch]).cpu().numpy() for i in range(0, len(windows), batch)]
        self.train(was)
        return np.concatenate(out) if out else np.zeros((0, self.cfg.dim), np.float32)


@torch.no_grad()
def init_token_table(ev: Evaluator, embeddings: torch.Tensor) -> None:
    """Set the text token table from a backbone's input embeddings (V, H): the first ``token_dim`` principal
    components, scaled to unit variance per component. Rows beyond the backbone's vocabulary stay as they are."""
    e = embeddings.detach().float()
    n = min(len(e), ev.text.embed.num_embeddings)
    e = e[:n] - e[:n].mean(0)
    k = ev.cfg.token_dim
    if e.shape[1] < k:
        raise ValueError(f"backbone embeddings have {e.shape[1]} columns, fewer than token_dim {k}")
    _, _, v = torch.pca_lowrank(e, q=k, center=False)
    z = e @ v[:, :k]
    ev.text.embed.weight[:n] = z / z.std(0).clamp_min(1e-6)


def save_evaluator(path: str | os.PathLike, ev: Evaluator, extra: dict | None = None,
                   optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Write the checkpoint folder ``path`` atomically (``optimizer``: its state too, for resuming)."""
    path = Path(path)
    with atomic_dir(path) as tmp:
        torch.save({k: v.detach().cpu() for k, v in ev.state_dict().items()}, tmp / "weights.pt")
        ev.stats.save(tmp / "stats.npz")
        ev.tokenizer.save_pretrained(str(tmp / "tokenizer"))
        meta = {"format": FORMAT, "version": VERSION, "config": ev.cfg.to_dict(), **(extra or {})}
        (tmp / META).write_text(json.dumps(meta, indent=1) + "\n")
        if optimizer is not None:
            torch.save({"optimizer": optimizer.state_dict()}, tmp / "trainer.pt")
    return path


def read_evaluator_meta(path: str | os.PathLike) -> dict:
    """``evaluator.json`` of a checkpoint (a run folder means its ``best``, else its ``last``)."""
    return read_checkpoint_meta(path, META, FORMAT, VERSION, "evaluator checkpoint", ("best", "last"))


def load_evaluator(path: str | os.PathLike, device: str = "cpu") -> tuple[Evaluator, dict]:
    """(evaluator in eval mode, metadata) of a checkpoint folder or run folder."""
    from transformers import AutoTokenizer

    meta = read_evaluator_meta(path)
    p = Path(meta["path"])
    try:
        tok = AutoTokenizer.from_pretrained(str(p / "tokenizer"), local_files_only=True)
    except (OSError, ValueError) as e:
        raise MotionError(f"cannot load the evaluator's tokenizer ({str(e).splitlines()[0]})",
                          str(p / "tokenizer")) from None
    ev = Evaluator(EvaluatorConfig.from_dict(meta["config"]), tok, FeatureStats.load(p / "stats.npz"))
    state = load_weights(p / "weights.pt", "evaluator weights")
    try:
        ev.load_state_dict(state)
    except RuntimeError as e:
        raise MotionError(f"evaluator weights do not fit its config ({str(e).splitlines()[0]})",
                          str(p / "weights.pt")) from None
    return ev.to(device).eval(), meta
