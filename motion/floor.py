"""Where the floor is under a clip, and the clip put on it.

A clip whose placement is not measured against a floor comes out at any height: WHAM's world origin is the
first frame's pelvis (real outputs land about a metre below the floor), and a clip decoded from MotionBook
tokens has its height from the tokenizer, not from a floor. :func:`floor_height` estimates the floor from
the clip itself: the median height of the feet's lowest points over the frames where a foot is planted (low
and slow), or, for a clip whose feet are never planted (all flight), the low end of its lowest points.
:func:`put_on_floor` shifts the clip vertically onto it and records the shift in meta (``FLOOR_META``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .clip import Motion
from .skeleton import FOOT_JOINTS

FLOOR_META = "floor"  # meta key: {"shift_m", "from", "frames"}: how the clip was put on the estimated floor

# a foot is planted (a floor contact) when it is slow and low: its speed (the slower of its ankle and toe
# joints, positions low-passed over sigma 1 frame against the estimate's jitter) under this, m/s ...
PLANTED_SPEED_M_S = 0.5
# ... and its lowest point within this of the clip's low feet (``LOW_PERCENTILE`` of the lower foot's
# lowest point over the frames: a clip may spend most of its frames in the air, a few frames far below)
PLANTED_BAND_M = 0.05
LOW_PERCENTILE = 10.0
MIN_PLANTED = 3  # fewer planted foot-frames than this: the clip never touches the ground


def floor_height(motion: Motion) -> dict[str, Any]:
    """Where the floor is under ``motion`` (z-up): ``{"height_m", "from", "frames"}``.

    Per frame and foot: the lowest point of the foot's collision shapes (ankle and toe boxes,
    ``metrics.ground_heights``) and the foot's speed. The floor is the median lowest point over the
    planted foot-frames (``PLANTED_SPEED_M_S``, ``PLANTED_BAND_M``): robust to a few frames far off, and
    to flight, whose slow apex frames are not low. A clip whose feet are never planted (fewer than
    ``MIN_PLANTED`` foot-frames) puts the 5th percentile of its body's lowest point on the floor:
    ``from`` says which (``"planted feet"`` or ``"lowest points"``), ``frames`` how many frames it used."""
    from scipy.ndimage import gaussian_filter1d

    from .metrics import body_scale_of, ground_heights

    pos, glob = motion.joints()
    low = ground_heights(pos, glob, body_scale_of(motion))  # (T, 24)
    lf, rf, lt, rt = FOOT_JOINTS  # left/right ankle, left/right toe
    feet = np.stack([np.minimum(low[:, lf], low[:, lt]), np.minimum(low[:, rf], low[:, rt])], 1)  # (T, 2)
    smooth = gaussian_filter1d(pos[:, list(FOOT_JOINTS)], 1.0, axis=0, mode="nearest")
    speed = np.linalg.norm(np.gradient(smooth, axis=0), axis=-1) * motion.fps  # (T, 4) m/s
    foot_speed = np.stack([np.minimum(speed[:, 0], speed[:, 2]), np.minimum(speed[:, 1], speed[:, 3])], 1)
    ref = np.percentile(feet.min(1), LOW_PERCENTILE)
    planted = (foot_speed < PLANTED_SPEED_M_S) & (feet < ref + PLANTED_BAND_M)
    if int(planted.sum()) >= MIN_PLANTED:
        return {"height_m": float(np.median(feet[planted])), "from": "planted feet",
                "frames": int(planted.any(1).sum())}
    return {"height_m": float(np.percentile(low.min(1), 5)), "from": "lowest points", "frames": len(low)}


def put_on_floor(motion: Motion) -> Motion:
    """``motion`` moved vertically onto its :func:`floor_height`, the shift in ``meta[FLOOR_META]``."""
    floor = floor_height(motion)
    trans = motion.trans.copy()
    trans[:, 2] -= floor["height_m"]
    meta = {**motion.meta, FLOOR_META: {"shift_m": -floor["height_m"], "from": floor["from"],
                                        "frames": floor["frames"]}}
    return motion.copy(trans=trans, meta=meta)
