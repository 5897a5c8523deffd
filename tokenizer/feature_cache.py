"""Feature cache: the D135 features of a list of clips, encoded once, in one ``.npz``.

Loading and encoding the 2793 Bandai clips takes ~30 s; a sweep of 20
tokenizer trainings would pay it 20 times. The cache holds, per clip, what
:class:`motionlib.tokenizer.data.ClipFeatures` holds (features, fps, skeleton
offsets, body scale, D135 origin) plus a signature of the source files (name,
size, mtime) so a stale cache is rebuilt rather than silently reused.

Features are stored as float32, or as float16 when a compact copy is wanted
(e.g. to move the training set to another machine: float16 keeps 6D rotation
entries to ~5e-4, i.e. hundredths of a degree, and the root height to ~0.5 mm).
Files are versioned ``.npz`` without pickles, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from motionlib.motion.errors import MotionError
from motionlib.motion.io import read_versioned_npz, write_npz_atomic

from .data import ClipFeatures, check_features, load_clip_features

FORMAT = "motionlib.d135_cache"
VERSION = 1


def source_signature(paths: Sequence[Path], fps: float) -> str:
    """Hash of the clip names, sizes and modification times (and the target fps)."""
    h = hashlib.sha256(f"fps={fps:.6f}".encode())
    for p in paths:
        st = Path(p).stat()
        h.update(f"{Path(p).name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def save_cache(path: str | os.PathLike, clips: Sequence[ClipFeatures], signature: str = "",
               dtype: str = "float32") -> Path:
    if not clips:
        raise MotionError("a feature cache needs at least one clip", str(path))
    arrays = {
        "format": np.array(FORMAT), "version": np.array(VERSION), "signature": np.array(signature),
        "names": np.array([c.path.name for c in clips]),
        "lengths": np.array([c.num_frames for c in clips], dtype=np.int64),
        "feats": np.concatenate([c.feats for c in clips]).astype(dtype),
        "fps": np.array([c.fps for c in clips]), "offsets": np.stack([c.offsets for c in clips]),
        "body_scale": np.array([c.body_scale for c in clips]),
        "has_offsets": np.array([c.has_offsets for c in clips]),
        "origin_json": np.array([json.dumps(c.origin) for c in clips]),
    }
    return write_npz_atomic(path, arrays)


def is_feature_cache(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a readable ``.npz`` whose format key says feature cache (any version:
    :func:`load_cache` reports a wrong one)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return "format" in z.files and str(z["format"]) == FORMAT
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return False


def load_cache(path: str | os.PathLike, root: str | os.PathLike | None = None) -> tuple[list[ClipFeatures], str]:
    """(clips, signature); clip paths are ``root / name`` (default: the cache's folder)."""
    data = read_versioned_npz(path, FORMAT, VERSION, "feature cache")
    root = Path(root) if root is not None else Path(path).parent
    feats = data["feats"].astype(np.float32)
    ends = np.cumsum(data["lengths"])
    clips = []
    for i, name in enumerate(data["names"]):
        f = feats[ends[i] - data["lengths"][i]:ends[i]]
        check_features(f, str(root / str(name)))
        clips.append(ClipFeatures(root / str(name), f, float(data["fps"][i]), data["offsets"][i],
                                  float(data["body_scale"][i]), bool(data["has_offsets"][i]),
                                  json.loads(str(data["origin_json"][i]))))
    return clips, str(data["signature"])


def cached_clip_features(paths: Sequence[Path], fps: float, cache: str | os.PathLike,
                         progress: bool = True, augment: str = "") -> list[ClipFeatures]:
    """Features of ``paths`` (in that order) from ``cache``, (re)building it when
    missing or stale. Clips are validated (finite features, >= 1 frame).
    ``augment``: features of the clips under that augmentation
    (:func:`~motionlib.motion.augment.augmented`; a cache of its own: the
    augmentation is part of the signature)."""
    paths = [Path(p) for p in paths]
    sig = source_signature(paths, fps) + (f"-{augment}" if augment else "")
    if Path(cache).exists():
        clips, old = load_cache(cache, paths[0].parent if paths else None)
        if old == sig and [c.path.name for c in clips] == [p.name for p in paths]:
            return [ClipFeatures(p, c.feats, c.fps, c.offsets, c.body_scale, c.has_offsets, c.origin)
                    for p, c in zip(paths, clips)]
    from tqdm import tqdm

    clips = [load_clip_features(p, fps, augment=augment)
             for p in tqdm(paths, desc="encode D135" + (f" ({augment})" if augment else ""), unit="clip",
                           disable=not progress)]
    save_cache(cache, clips, sig)
    return clips
