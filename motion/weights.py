"""Reading torch files (policies, tokenizer checkpoints, rl-games checkpoints) without running code.

``torch.load(weights_only=True)`` restores tensors and plain containers only. On a file
that is not a torch zip archive it falls back to the legacy pickle reader and fails with
a message of several paragraphs ("Unsupported operand 103 ... Check the documentation of
torch.load"); the error here names the file and the problem in one line instead.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from .errors import MotionError


def load_weights(path: str | os.PathLike, what: str, map_location: Any = "cpu") -> Any:
    """``torch.load(path, map_location, weights_only=True)``; a :class:`MotionError` naming the
    file when it is missing, not a torch zip archive, or unreadable. ``what`` names the file
    kind in the errors ("tracking policy")."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise MotionError(f"no such {what}", str(path))
    if not zipfile.is_zipfile(path):  # every file torch.save writes since torch 1.6
        raise MotionError(f"cannot read {what} (not a torch zip archive)", str(path))
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - unpickling errors come in many types
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise MotionError(f"cannot read {what} ({type(e).__name__}: {first})", str(path)) from None
