"""The SMPL kinematic tree and the default (mean-shape) body.

Frames
------
motionlib keeps joint rotations in SMPL's own convention so that clips are
drop-in SMPL pose parameters: *local* rotations (joints 1..23) act in the SMPL
body frame, which is y-up, x toward the body's left, z forward. Joint offsets
(`Skeleton.offsets`) are therefore stored in that body frame too.

The *world* is z-up (AMASS convention): the root rotation maps the SMPL body
frame into the z-up world, so an upright body facing world +x has root
rotation ``SMPL_TO_ZUP`` (a cyclic axis permutation, see below).

The default body is the mean-shape SMPL humanoid shipped in
``data/smpl_neutral_humanoid.json`` (offsets in a z-up, x-forward, y-left
frame; converted to the SMPL body frame on load: smpl_xyz = (y, z, x)).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

NUM_JOINTS = 24

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)

SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)

# Index of each joint's mirror image (left <-> right).
SMPL_MIRROR: tuple[int, ...] = (
    0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22,
)

# Maps SMPL body-frame coordinates (x left, y up, z forward) to the z-up world
# with the body facing +x: world = SMPL_TO_ZUP @ smpl, i.e. (x, y, z)_world =
# (z, x, y)_smpl. An upright body facing +x has this as its root rotation.
SMPL_TO_ZUP = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

# Forward axis of the body in its own (SMPL) frame.
BODY_FORWARD = np.array([0.0, 0.0, 1.0])

FOOT_JOINTS = (7, 8, 10, 11)  # ankles and toes
LEFT_FOOT_JOINTS = (7, 10)
RIGHT_FOOT_JOINTS = (8, 11)


@lru_cache(maxsize=1)
def _reference() -> dict:
    text = resources.files("motionlib.motion").joinpath("data/smpl_neutral_humanoid.json").read_text()
    return json.loads(text)


def reference_humanoid() -> dict:
    """The shipped mean-shape humanoid description (joint tree, geoms, PD gains)."""
    return json.loads(json.dumps(_reference()))  # defensive copy


def zup_to_smpl_frame(v: np.ndarray) -> np.ndarray:
    """(x fwd, y left, z up) -> SMPL body frame (x left, y up, z fwd)."""
    v = np.asarray(v, dtype=np.float64)
    return v[..., [1, 2, 0]]


@dataclass(frozen=True)
class Skeleton:
    """A 24-joint SMPL tree with bone offsets in the SMPL body frame (metres)."""

    offsets: np.ndarray  # (24, 3), offsets[0] is zero (root)
    parents: tuple[int, ...] = SMPL_PARENTS
    names: tuple[str, ...] = SMPL_JOINT_NAMES
    pelvis_rest: np.ndarray = field(default_factory=lambda: np.zeros(3))  # SMPL J0, body frame

    def __post_init__(self) -> None:
        off = np.asarray(self.offsets, dtype=np.float64)
        if off.shape != (NUM_JOINTS, 3) or not np.all(np.isfinite(off)):
            raise ValueError(f"skeleton offsets must be finite with shape (24, 3), got {off.shape}")
        object.__setattr__(self, "offsets", off)
        object.__setattr__(self, "pelvis_rest", np.asarray(self.pelvis_rest, dtype=np.float64))

    @staticmethod
    def default() -> "Skeleton":
        return _default_skeleton()

    def scaled(self, scale: float) -> "Skeleton":
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError(f"body scale must be positive, got {scale}")
        return Skeleton(self.offsets * scale, self.parents, self.names, self.pelvis_rest * scale)

    def rest_positions(self) -> np.ndarray:
        """Joint positions of the zero pose in the body frame, pelvis at the origin."""
        pos = np.zeros((NUM_JOINTS, 3))
        for j in range(1, NUM_JOINTS):
            pos[j] = pos[self.parents[j]] + self.offsets[j]
        return pos

    def height(self) -> float:
        """Standing joint height: head joint to the lowest foot joint, plus a
        nominal sole/crown allowance, in metres (used to scale bodies)."""
        rest = self.rest_positions()
        return float(rest[15, 1] - min(rest[10, 1], rest[11, 1]))

    def mirrored(self) -> "Skeleton":
        """Left/right swapped skeleton (reflection x -> -x in the body frame)."""
        off = self.offsets[list(SMPL_MIRROR)] * np.array([-1.0, 1.0, 1.0])
        return Skeleton(off, self.parents, self.names, self.pelvis_rest * np.array([-1.0, 1.0, 1.0]))


@lru_cache(maxsize=1)
def _default_skeleton() -> Skeleton:
    ref = _reference()
    joints = sorted(ref["joints"], key=lambda j: j["smpl_index"])
    if [j["smpl_index"] for j in joints] != list(range(NUM_JOINTS)):
        raise ValueError("reference humanoid must list the 24 SMPL joints")
    offsets = zup_to_smpl_frame(np.array([j["offset"] for j in joints]))
    return Skeleton(offsets=offsets, pelvis_rest=np.array(ref["pelvis_rest_position_smpl_frame"]))
