"""Format detection and single-file reading: one place that knows every input format.

Formats: ``bvh`` (any skeleton, SMPL fitted to it by joint positions),
``amass`` (AMASS / SMPL ``.npz``), ``wham`` (WHAM demo joblib pickle, one clip
per track; needs ``fps``), ``motionlib`` (our own ``.npz`` clip).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..clip import Motion
from ..errors import MotionError
from ..io import require_zip

CLIP_EXTENSIONS = (".bvh", ".npz", ".pkl", ".pickle", ".joblib", ".pt")
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")


def is_archive(path: str | Path) -> bool:
    name = str(path).lower()
    return any(name.endswith(s) for s in ARCHIVE_SUFFIXES)


def is_clip_candidate(path: str | Path) -> bool:
    return str(path).lower().endswith(CLIP_EXTENSIONS)


def detect_format(path: str | Path) -> str:
    """Return 'bvh', 'amass', 'wham' or 'motionlib' by extension and content."""
    path = Path(path)
    src = str(path)
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        with open(path, "rb") as f:
            head = f.read(64).lstrip()
        if not head.upper().startswith(b"HIERARCHY"):
            raise MotionError("has a .bvh name but does not start with HIERARCHY", src)
        return "bvh"
    if suffix == ".npz":
        require_zip(path, "file")
        try:
            with np.load(path, allow_pickle=False) as z:
                keys = set(z.files)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise MotionError(f"not a readable .npz file ({e})", src) from None
        if "format" in keys and "rotations" in keys:
            return "motionlib"
        if "poses" in keys:
            return "amass"
        raise MotionError(f"unknown .npz content (keys: {sorted(keys)[:8]}); expected a motionlib clip or AMASS poses/trans", src)
    if suffix in (".pkl", ".pickle", ".joblib", ".pt"):
        return "wham"
    raise MotionError(f"unknown motion file type {suffix!r} (expected .bvh, .npz or a WHAM .pkl)", src)


@dataclass
class ReadOptions:
    fps: float | None = None  # WHAM: required; others: resample to this fps when given
    mapping: str = "auto"  # BVH joint mapping ("auto" detects from joint names)
    fit_iters: int | None = None  # BVH -> SMPL fit optimisation steps (None: the fit's default)
    threads: int | None = None  # torch threads inside a worker
    smpl_model: str | None = None  # optional SMPL model file for per-subject skeletons
    body: str = "scaled"  # BVH: "scaled" mean SMPL body, or "fitted" per-bone lengths of the source


def read_clips(path: str | Path, fmt: str | None = None, opts: ReadOptions | None = None) -> list[Motion]:
    """Read one file into one or more clips (WHAM: one per track)."""
    opts = opts or ReadOptions()
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt == "bvh":
        from .bvh_fit import bvh_to_motion

        kw = {} if opts.fit_iters is None else {"iters": opts.fit_iters}
        clips = [bvh_to_motion(path, mapping=opts.mapping, threads=opts.threads, body=opts.body, **kw)]
    elif fmt == "amass":
        from .amass import load_amass

        clips = [load_amass(path, smpl_model=opts.smpl_model)]
    elif fmt == "wham":
        from .wham import load_wham

        if opts.fps is None:
            raise MotionError("WHAM output does not store its frame rate: pass --fps", str(path))
        return list(load_wham(path, fps=opts.fps, smpl_model=opts.smpl_model))
    elif fmt == "motionlib":
        from ..io import load_motion

        clips = [load_motion(path)]
    else:
        raise MotionError(f"unknown format {fmt!r}", str(path))
    if opts.fps is not None:
        clips = [c if abs(c.fps - opts.fps) < 1e-9 else c.resample(opts.fps) for c in clips]
    return clips
