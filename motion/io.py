"""The motionlib clip file: a versioned ``.npz`` (no pickles, loads with
``allow_pickle=False``).

Keys (format version 1):
``format`` = "motionlib.motion", ``version`` = 1, ``fps`` (scalar),
``trans`` (T,3) float32/64, ``rotations`` (T,24,4) wxyz, ``betas`` (B,),
``gender`` (str), ``body_scale`` (scalar), ``offsets`` (24,3; absent when the
default body is used), ``meta_json`` (str: JSON of ``Motion.meta``).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .clip import Motion
from .errors import MotionError

FORMAT = "motionlib.motion"
VERSION = 1


def save_motion(motion: Motion, path: str | os.PathLike) -> Path:
    """Write ``motion`` to ``path`` atomically (a crash leaves no partial file)."""
    path = Path(path)
    arrays = {
        "format": np.array(FORMAT),
        "version": np.array(VERSION),
        "fps": np.array(motion.fps),
        "trans": motion.trans.astype(np.float64),
        "rotations": motion.rotations.astype(np.float64),
        "betas": motion.betas.astype(np.float64),
        "gender": np.array(motion.gender),
        "body_scale": np.array(motion.body_scale),
        "meta_json": np.array(json.dumps(motion.meta, default=_json_default)),
    }
    if motion.offsets is not None:
        arrays["offsets"] = motion.offsets.astype(np.float64)
    return write_npz_atomic(path, arrays)


def write_npz_atomic(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """``np.savez_compressed`` to ``path`` atomically (a crash leaves no partial file)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return path


def require_zip(path: str | os.PathLike, kind: str) -> None:
    """Raise a :class:`MotionError` naming ``path`` unless it is a zip archive, as every ``.npz`` is.
    ``np.load`` takes any other file for a pickle and answers with advice to unpickle it."""
    if not zipfile.is_zipfile(path):
        raise MotionError(f"not a readable .npz {kind} (not a zip archive)", str(path))


def read_versioned_npz(path: str | os.PathLike, fmt: str, version: int, kind: str) -> dict[str, np.ndarray]:
    """Read a motionlib ``.npz`` (no pickles) and check its ``format``/``version`` keys.

    ``kind`` names the file type in errors ("clip", "token file"); every error is
    a :class:`MotionError` naming the file."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise MotionError(f"no such {kind}", src)
    require_zip(path, kind)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise MotionError(f"not a readable .npz {kind} ({e})", src) from None
    if str(data.get("format", "")) != fmt:
        raise MotionError(f"not a motionlib {kind} (format key is {str(data.get('format'))!r})", src)
    got = int(data.get("version", -1))
    if got != version:
        raise MotionError(f"unsupported {kind} format version {got} (this motionlib reads {version})", src)
    return data


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"meta value of type {type(o).__name__} is not JSON-serialisable")


def load_motion(path: str | os.PathLike) -> Motion:
    """Load and validate a clip file; errors name the file and the problem."""
    src = str(path)
    data = read_versioned_npz(path, FORMAT, VERSION, "clip")
    missing = [k for k in ("fps", "trans", "rotations") if k not in data]
    if missing:
        raise MotionError(f"clip file lacks {missing}", src)
    try:
        meta = json.loads(str(data.get("meta_json", "{}")))
    except json.JSONDecodeError as e:
        raise MotionError(f"metadata is not valid JSON ({e})", src) from None
    meta.setdefault("source", src)
    try:
        return Motion(
            fps=float(data["fps"]),
            trans=data["trans"],
            rotations=data["rotations"],
            betas=data.get("betas", np.zeros(10)),
            gender=str(data.get("gender", "neutral")),
            offsets=data.get("offsets"),
            body_scale=float(data.get("body_scale", 1.0)),
            meta=meta,
        )
    except MotionError as e:
        raise MotionError(e.problem, src) from None


TOKEN_SUFFIX = ".tokens.npz"  # token files written beside clips by `motionlib tokenize`


def is_clip_file(f: Path) -> bool:
    """A motionlib clip in a dataset folder (not a hidden temp file, not a token file)."""
    return f.suffix == ".npz" and not f.name.startswith(".") and not f.name.endswith(TOKEN_SUFFIX)


def find_clips(inputs, required: bool = False) -> list[Path]:
    """Clip files given as files and/or folders (searched recursively), folders sorted.

    A path that does not exist raises :class:`MotionError` naming it; with
    ``required``, so does finding no clip at all."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = list(inputs)
    files: list[Path] = []
    for p in map(Path, inputs):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*.npz") if is_clip_file(f))
        elif p.is_file():
            files.append(p)
        else:
            raise MotionError("no such clip file or folder", str(p))
    if required and not files:
        raise MotionError("no motionlib clips found", ", ".join(map(str, inputs)))
    return files
