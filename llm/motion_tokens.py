"""MotionBook token grids of clips, and grids back into clips, for the language model.

A clip's grid comes from its ``<clip>.tokens.npz`` (written by ``motionlib tokenize``), checked against the
tokenizer in use. A grid the model generated has no stored placement or body: it is decoded at the
tokenizer's fps, starting at the origin facing +x, on the default body, with ``steps * alpha`` frames, and
put on its estimated floor (:func:`motionlib.motion.floor.put_on_floor`): the decoded height comes from the
tokenizer, not from a floor, and the language model's clips decoded so came out 8 to 10 cm into the ground.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from motionlib.motion.clip import Motion
from motionlib.motion.floor import put_on_floor
from motionlib.tokenizer.codec import detokenize
from motionlib.tokenizer.tokens import TokenFile, load_tokens, token_path


def clip_grid(clip_path: str | os.PathLike, tokenizer_id: str | None = None) -> np.ndarray:
    """The (T', P) token grid stored beside ``clip_path`` (or in it, for a ``.tokens.npz`` path)."""
    p = Path(clip_path)
    tp = p if p.name.endswith(".tokens.npz") else token_path(p)
    return load_tokens(tp, tokenizer_id=tokenizer_id).indices


def grid_to_motion(grid: np.ndarray, model, ckpt, meta: dict | None = None, source: str = "generated",
                   ground: bool = True) -> Motion:
    """A (T', P) grid -> a Motion clip decoded by the tokenizer ``(model, ckpt)``; ``ground``: put on its
    estimated floor (the shift in ``meta["floor"]``), False keeps the decoded height."""
    grid = np.asarray(grid, dtype=np.int64)
    cfg = ckpt.config
    tf = TokenFile(indices=grid, tokenizer_id=ckpt.tokenizer_id, config_hash=ckpt.config_hash,
                   num_frames=int(grid.shape[0]) * cfg.alpha, fps=float(cfg.fps), config=cfg.to_dict(),
                   origin=None, source=source)
    clip = detokenize(model, ckpt, tf, source=source)
    clip.meta.update(meta or {})
    return put_on_floor(clip) if ground else clip
