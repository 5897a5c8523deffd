"""Body-part split of the SMPL-D135 feature axis for the 2D tokenizer.

MotionBook (Wang et al., "Scaling Large Motion Models with Million-Level Human
Motions", ICML 2025, arXiv:2410.03311) treats a clip as a single-channel image whose
rows are frames and whose columns are features, and encodes body parts
separately so that every (time step, part) cell becomes one token. We use
P = 6 parts over D135 (layout in :mod:`motionlib.motion.features`)::

    part        features                   SMPL joints (index: name)
    ----------  -------------------------  -----------------------------------------
    root        [0:9]   (9)                0: pelvis -- 6D rotation [0:6], ground
                                           velocity [6:8], height [8:9]
    left_leg    4 x 6 = 24                 1: left_hip, 4: left_knee,
                                           7: left_ankle, 10: left_foot
    right_leg   4 x 6 = 24                 2: right_hip, 5: right_knee,
                                           8: right_ankle, 11: right_foot
    spine_head  5 x 6 = 30                 3: spine1, 6: spine2, 9: spine3,
                                           12: neck, 15: head
    left_arm    4 x 6 = 24                 13: left_collar, 16: left_shoulder,
                                           18: left_elbow, 20: left_wrist
    right_arm   4 x 6 = 24                 14: right_collar, 17: right_shoulder,
                                           19: right_elbow, 21: right_wrist

The 6D local rotation of joint j (1..21) lives at ``[9 + 6 (j - 1), 9 + 6 j)``.
SMPL hand joints 22/23 are not in D135. The part order (root, legs, spine,
arms) is the column order of the token grid; neighbouring columns share a
3-wide convolution kernel, so the legs sit next to the root and each other.
"""

from __future__ import annotations

from functools import lru_cache

from motionlib.motion.features import DIM, joint_slice

PART_NAMES: tuple[str, ...] = ("root", "left_leg", "right_leg", "spine_head", "left_arm", "right_arm")

# SMPL joints of each part (joint 0, the pelvis, is carried by the root features).
PART_JOINTS: dict[str, tuple[int, ...]] = {
    "root": (0,),
    "left_leg": (1, 4, 7, 10),
    "right_leg": (2, 5, 8, 11),
    "spine_head": (3, 6, 9, 12, 15),
    "left_arm": (13, 16, 18, 20),
    "right_arm": (14, 17, 19, 21),
}

NUM_PARTS = len(PART_NAMES)


def _feature_indices(part: str) -> list[int]:
    if part == "root":
        return list(range(0, 9))
    idx: list[int] = []
    for j in PART_JOINTS[part]:
        s = joint_slice(j)
        idx += list(range(s.start, s.stop))
    return idx


@lru_cache(maxsize=1)
def _cached() -> tuple[tuple[int, ...], ...]:
    parts = tuple(tuple(_feature_indices(p)) for p in PART_NAMES)
    check_partition(parts)
    return parts


def part_indices() -> list[list[int]]:
    """Feature indices (into the 135 D135 numbers) of each part, in
    :data:`PART_NAMES` order; together they partition ``0..134``."""
    return [list(p) for p in _cached()]


def part_sizes() -> list[int]:
    """Number of features per part: ``[9, 24, 24, 30, 24, 24]``."""
    return [len(p) for p in _cached()]


def check_partition(parts, dim: int = DIM) -> None:
    """Raise ``ValueError`` unless ``parts`` cover ``0..dim-1`` exactly once."""
    flat = [i for p in parts for i in p]
    if sorted(flat) != list(range(dim)):
        dup = sorted({i for i in flat if flat.count(i) > 1})
        missing = sorted(set(range(dim)) - set(flat))
        raise ValueError(f"body parts do not partition 0..{dim - 1}: duplicated {dup}, missing {missing}")


def part_of_joint(joint: int) -> str:
    """Name of the part holding SMPL joint ``joint`` (0..21)."""
    for name, joints in PART_JOINTS.items():
        if joint in joints:
            return name
    raise ValueError(f"SMPL joint {joint} is not in any D135 part (joints 0..21)")
