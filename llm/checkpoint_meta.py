"""The JSON file that names a checkpoint folder's format (language models, evaluators)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from motionlib.motion.errors import MotionError


def read_checkpoint_meta(path: str | os.PathLike, meta_name: str, fmt: str, version: int, what: str,
                         run_subdirs: tuple[str, ...] = ("last",)) -> dict:
    """``meta_name`` of the checkpoint folder ``path`` (a run folder means the first of ``run_subdirs`` it
    holds), checked to be ``fmt`` at ``version``; its folder in ``meta["path"]``. MotionError naming the
    file when it is missing, not JSON or another format (``what``: e.g. "language-model checkpoint")."""
    p = Path(path)
    for sub in run_subdirs:
        if (p / sub / meta_name).is_file():
            p = p / sub
            break
    f = p / meta_name
    if not f.is_file():
        raise MotionError(f"not a motionlib {what} (no {meta_name})", str(p))
    try:
        meta = json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MotionError(f"{what} metadata is not valid JSON ({e})", str(f)) from None
    if meta.get("format") != fmt or meta.get("version") != version:
        raise MotionError(f"not a motionlib {what} of version {version}", str(f))
    meta["path"] = str(p)
    return meta
