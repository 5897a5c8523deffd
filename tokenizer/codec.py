"""Clip <-> tokens with a trained tokenizer (what ``motionlib tokenize`` /
``detokenize`` do per file).

A whole clip is tokenized in one pass (the networks are convolutional, so
any length works): it is resampled to the tokenizer's fps, encoded as D135,
normalised with the checkpoint's statistics, padded to a multiple of alpha by
repeating its last frame, and mapped to a (ceil(T/alpha), P) token grid.
Detokenizing decodes the grid, crops to the stored frame count,
de-normalises and rebuilds the clip with the stored body and D135 origin.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from motionlib.motion.clip import Motion
from motionlib.motion.errors import MotionError
from motionlib.motion.features import decode as decode_features

from .checkpoint import Checkpoint
from .data import load_clip_features
from .metrics import reconstruct_clip
from .model import MotionTokenizer
from .tokens import TokenFile


def tokenize_clip(model: MotionTokenizer, ckpt: Checkpoint, clip_path: str | os.PathLike,
                  augment: str = "") -> TokenFile:
    """The token grid of the clip at ``clip_path`` (``augment``: of the clip under that augmentation,
    :mod:`motionlib.motion.augment`)."""
    cfg = ckpt.config
    c = load_clip_features(clip_path, cfg.fps, min_frames=cfg.alpha, augment=augment)
    x = torch.from_numpy(ckpt.stats.normalize(c.feats).astype(np.float32))
    dev = next(model.parameters()).device
    idx, _ = reconstruct_clip(model, x.to(dev))
    return TokenFile(indices=idx.cpu().numpy().astype(np.int32), tokenizer_id=ckpt.tokenizer_id,
                     config_hash=ckpt.config_hash, num_frames=c.num_frames, fps=c.fps, config=cfg.to_dict(),
                     origin=c.origin, body_scale=c.body_scale, offsets=c.offsets if c.has_offsets else None,
                     source=Path(clip_path).name, augment=augment)


@torch.no_grad()
def decode_tokens(model: MotionTokenizer, ckpt: Checkpoint, tf: TokenFile) -> np.ndarray:
    """Token grid -> de-normalised D135 features (num_frames, 135)."""
    p = model.num_parts
    if tf.indices.shape[1] != p:
        raise MotionError(f"token grid has {tf.indices.shape[1]} part column(s); the {ckpt.config.kind} tokenizer "
                          f"uses {p}", tf.source or None)
    dev = next(model.parameters()).device
    idx = torch.as_tensor(tf.indices, dtype=torch.long, device=dev)[None]
    try:
        z = model.decode_indices(idx)[0, :tf.num_frames].cpu().numpy()
    except ValueError as e:
        raise MotionError(str(e), tf.source or None) from None
    return ckpt.stats.denormalize(z.astype(np.float64))


def detokenize(model: MotionTokenizer, ckpt: Checkpoint, tf: TokenFile, source: str | None = None) -> Motion:
    """Token file -> clip with the stored fps, body and global placement."""
    meta = {"source": source or tf.source, "detokenized": {"tokenizer_id": tf.tokenizer_id, "from": tf.source}}
    return decode_features(decode_tokens(model, ckpt, tf), tf.fps, tf.origin, tf.offsets, tf.body_scale, meta)
