"""Token files: one clip's token grid, saved next to the clip.

``<clip>.npz`` -> ``<clip>.tokens.npz`` (versioned ``.npz``, no pickles,
atomic write). Keys (format version 1):

``format`` = "motionlib.tokens", ``version``, ``indices`` (T', P) int32 in
[0, codebook_size), ``tokenizer_id`` (config + statistics + weights hash of
the checkpoint, see :mod:`.checkpoint`), ``config_hash``, ``config_json``,
``num_frames`` (frames of the tokenized clip; the decoder's output is cropped
to it), ``fps``, ``origin_json`` (the clip's D135 origin, so detokenizing
restores its global placement), ``body_scale``, ``offsets`` (24, 3; absent
when the clip uses the default body), ``source`` (the clip file name).
``motionlib tokenize --augment NAME`` also writes the tokens of the clip under
an augmentation (mirrored, faster, slower) as ``<clip>.aug-<name>.tokens.npz``,
with ``augment`` = NAME (absent or "" in a plain token file).

Files of another tokenizer are detected by ``tokenizer_id``, which is what
makes ``motionlib tokenize`` resumable and safe to rerun after retraining.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from motionlib.motion.errors import MotionError
from motionlib.motion.io import read_versioned_npz, write_npz_atomic

from motionlib.motion.io import TOKEN_SUFFIX

FORMAT = "motionlib.tokens"
VERSION = 1


def token_path(clip_path: str | os.PathLike, augment: str = "") -> Path:
    """``dir/name.npz`` -> ``dir/name.tokens.npz``; with ``augment`` (a name of
    :mod:`motionlib.motion.augment`, e.g. "mirror+speed:0.9"), the tokens of the clip under that
    augmentation: ``dir/name.aug-mirror+speed0.9.tokens.npz`` (still a token file, never taken for a clip)."""
    p = Path(clip_path)
    stem = p.name[:-4] if p.name.endswith(".npz") else p.name
    return p.with_name(stem + (f".aug-{augment_slug(augment)}" if augment else "") + TOKEN_SUFFIX)


def augment_slug(augment: str) -> str:
    """The file-name form of an augmentation name: "mirror+speed:0.9" -> "mirror+speed0.9"."""
    return augment.replace(":", "")


@dataclass
class TokenFile:
    indices: np.ndarray  # (T', P) integer
    tokenizer_id: str
    config_hash: str
    num_frames: int
    fps: float
    config: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, Any] | None = None
    body_scale: float = 1.0
    offsets: np.ndarray | None = None
    source: str = ""
    augment: str = ""  # the augmentation (motion/augment.py) the clip was tokenized under; "" none


def save_tokens(path: str | os.PathLike, tf: TokenFile) -> Path:
    path = Path(path)
    idx = np.asarray(tf.indices)
    if idx.ndim != 2 or not np.issubdtype(idx.dtype, np.integer) or (idx.size and idx.min() < 0):
        raise MotionError(f"token indices must be a (T', P) array of non-negative integers, got "
                          f"{idx.dtype} {idx.shape}", str(path))
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT), "version": np.array(VERSION), "indices": idx.astype(np.int32),
        "tokenizer_id": np.array(tf.tokenizer_id), "config_hash": np.array(tf.config_hash),
        "config_json": np.array(json.dumps(tf.config, sort_keys=True)), "num_frames": np.array(int(tf.num_frames)),
        "fps": np.array(float(tf.fps)), "origin_json": np.array(json.dumps(tf.origin)),
        "body_scale": np.array(float(tf.body_scale)), "source": np.array(tf.source),
    }
    if tf.augment:
        arrays["augment"] = np.array(tf.augment)
    if tf.offsets is not None:
        arrays["offsets"] = np.asarray(tf.offsets, dtype=np.float64)
    return write_npz_atomic(path, arrays)


def load_tokens(path: str | os.PathLike, tokenizer_id: str | None = None) -> TokenFile:
    """Read a token file; ``tokenizer_id``: refuse tokens of another tokenizer."""
    src = str(path)
    data = read_versioned_npz(path, FORMAT, VERSION, "token file")
    try:
        tf = TokenFile(indices=data["indices"].astype(np.int64), tokenizer_id=str(data["tokenizer_id"]),
                       config_hash=str(data["config_hash"]), num_frames=int(data["num_frames"]),
                       fps=float(data["fps"]), config=json.loads(str(data["config_json"])),
                       origin=json.loads(str(data["origin_json"])), body_scale=float(data["body_scale"]),
                       offsets=data.get("offsets"), source=str(data.get("source", "")),
                       augment=str(data.get("augment", "")))
    except (KeyError, ValueError) as e:
        raise MotionError(f"token file is incomplete ({e})", src) from None
    return _checked(tf, tokenizer_id, src)


def _checked(tf: TokenFile, tokenizer_id: str | None, source) -> TokenFile:
    """``tf`` when its indices are a (T', P) grid of ``tokenizer_id`` (None: any), else a MotionError."""
    if tf.indices.ndim != 2:
        raise MotionError(f"token indices must be (T', P), got {tf.indices.shape}", source)
    if tokenizer_id is not None and tf.tokenizer_id != tokenizer_id:
        raise MotionError(f"tokens were made by tokenizer {tf.tokenizer_id}, not {tokenizer_id}", source)
    return tf


def read_tokenizer_id(path: str | os.PathLike) -> str | None:
    """The tokenizer id of a token file, or None when it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["format"]) != FORMAT:
                return None
            return str(z["tokenizer_id"])
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError):
        return None


# A clip's tokens inside its clip store record (motionlib.motion.store): the arrays ``tokens.indices``
# (and ``tokens.offsets`` when the token file has them) and the other fields under ``meta["tokens"]``.
RECORD_PREFIX = "tokens."
RECORD_META = "tokens"


def tokens_to_record(tf: TokenFile) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, meta entry) of a token file, to add to its clip's store record."""
    arrays = {RECORD_PREFIX + "indices": np.asarray(tf.indices).astype(np.int32)}
    if tf.offsets is not None:
        arrays[RECORD_PREFIX + "offsets"] = np.asarray(tf.offsets, dtype=np.float64)
    meta = {"tokenizer_id": tf.tokenizer_id, "config_hash": tf.config_hash, "config": tf.config,
            "num_frames": int(tf.num_frames), "fps": float(tf.fps), "origin": tf.origin,
            "body_scale": float(tf.body_scale), "source": tf.source}
    return arrays, meta


def has_record_tokens(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> bool:
    return RECORD_PREFIX + "indices" in arrays and isinstance(meta.get(RECORD_META), dict)


def tokens_from_record(arrays: dict[str, np.ndarray], meta: dict[str, Any], source: str,
                       tokenizer_id: str | None = None) -> TokenFile:
    """The token file held in a clip store record (:func:`tokens_to_record`); ``tokenizer_id``: refuse
    tokens of another tokenizer. Errors are :class:`MotionError` naming ``source``."""
    if not has_record_tokens(arrays, meta):
        raise MotionError("clip has no tokens in the store (pack its .tokens.npz with it)", source)
    t = meta[RECORD_META]
    try:
        tf = TokenFile(indices=np.asarray(arrays[RECORD_PREFIX + "indices"]).astype(np.int64),
                       tokenizer_id=str(t["tokenizer_id"]), config_hash=str(t["config_hash"]),
                       num_frames=int(t["num_frames"]), fps=float(t["fps"]), config=dict(t.get("config") or {}),
                       origin=t.get("origin"), body_scale=float(t.get("body_scale", 1.0)),
                       offsets=arrays.get(RECORD_PREFIX + "offsets"), source=str(t.get("source", "")))
    except (KeyError, TypeError, ValueError) as e:
        raise MotionError(f"stored tokens are incomplete ({e})", source) from None
    return _checked(tf, tokenizer_id, source)
