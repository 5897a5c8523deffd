"""motionlib.motion: the core data model (clips, SMPL skeleton, FK, features, metrics, ingest)."""

from .clip import Motion
from .errors import MotionError
from .io import load_motion, save_motion
from .skeleton import Skeleton

__all__ = ["Motion", "MotionError", "Skeleton", "load_motion", "save_motion"]
