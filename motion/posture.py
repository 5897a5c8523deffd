"""Posture augmentation: a clip with its upper body held in a different posture.

Styles of the same action differ mostly in how the spine, head and arms are
held (a sad walk slumps, a proud one leans back with the arms wide). Offsetting
those joints' local rotations by a random rotation that stays constant over
the clip gives the same movement in a posture the data may not have, so a
model trained on it meets postures of unseen styles less often for the first
time. Used by the tokenizer's training data (``benchmarks/tokenizer_sweep.py
--posture-copies``).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from . import rotations as R
from .clip import Motion
from .skeleton import SMPL_JOINT_NAMES

UPPER_BODY = ("spine1", "spine2", "spine3", "neck", "head", "left_collar", "right_collar", "left_shoulder",
              "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")


def posture_offsets(rng: np.random.Generator, n: int, max_deg: float) -> np.ndarray:
    """(n, 4) rotations about uniformly random axes by angles uniform in [0, max_deg]."""
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.radians(rng.uniform(0.0, max_deg, size=(n, 1)))
    return R.axis_angle_to_quat(axis * angle)


def offset_posture(clip: Motion, seed: int, max_deg: float = 25.0, joints: tuple[str, ...] = UPPER_BODY) -> Motion:
    """``clip`` with each of ``joints``' local rotations followed by its own constant random offset
    (``posture_offsets``), drawn from ``seed`` and the clip's source name (so every clip of a dataset
    gets different offsets and a rebuild gets the same ones). Root path and other joints are kept."""
    if max_deg < 0:
        raise ValueError(f"max_deg must be >= 0, got {max_deg}")
    rng = np.random.default_rng([seed, zlib.crc32(Path(str(clip.meta.get("source", ""))).name.encode())])
    idx = [SMPL_JOINT_NAMES.index(j) for j in joints]
    rots = clip.rotations.copy()
    rots[:, idx] = R.quat_mul(rots[:, idx], posture_offsets(rng, len(idx), max_deg)[None])
    meta = clip.derived_meta(posture_offset={"seed": int(seed), "max_deg": float(max_deg), "joints": list(joints)})
    return clip.copy(rotations=rots, meta=meta)
