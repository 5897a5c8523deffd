"""The shipped default tracking policy."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from motionlib.motion.errors import MotionError

DEFAULT_POLICY = "default_tracker.pt"


def default_policy_path() -> Path:
    path = Path(str(resources.files("motionlib.policies").joinpath("data", DEFAULT_POLICY)))
    if not path.is_file():
        raise MotionError("the default tracking policy is not installed; pass --policy", str(path))
    return path
