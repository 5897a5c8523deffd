"""Foot locking: the leg IK reaches what it can, planted feet stop wandering, a clean
walk barely moves and feet that never touch the floor are left alone."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SAMPLES


@pytest.fixture(scope="module")
def walk():
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion

    return bvh_to_motion(SAMPLES / "dataset-1_walk_normal_001.bvh")[:120]


@pytest.fixture(scope="module")
def wave():
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion

    return bvh_to_motion(SAMPLES / "dataset-2_wave-right-hand_normal_001.bvh")


def test_two_bone_ik_reaches_a_reachable_target_and_keeps_bone_lengths():
    from motionlib.motion.footlock import two_bone_ik

    hip = np.array([[0.0, 0.0, 1.0]])
    knee = np.array([[0.0, 0.05, 0.55]])  # a slightly bent leg
    ankle = np.array([[0.0, 0.0, 0.1]])
    for target in ([0.1, 0.1, 0.2], [0.0, -0.05, 0.3], [0.2, 0.0, 0.25]):
        t = np.array([target])
        swing, bend = two_bone_ik(hip, knee, ankle, t, np.array([[1.0, 0.0, 0.0]]))
        new_knee = hip + np.einsum("tij,tj->ti", swing, knee - hip)
        new_ankle = new_knee + np.einsum("tij,tj->ti", swing @ bend, ankle - knee)
        np.testing.assert_allclose(new_ankle, t, atol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(new_knee - hip), np.linalg.norm(knee - hip), atol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(new_ankle - new_knee), np.linalg.norm(ankle - knee), atol=1e-12)
    # out of reach: the leg stretches toward it, never past its length
    far = np.array([[0.0, 0.0, -0.5]])
    swing, bend = two_bone_ik(hip, knee, ankle, far, np.array([[1.0, 0.0, 0.0]]))
    new_ankle = hip + np.einsum("tij,tj->ti", swing, knee - hip) + np.einsum("tij,tj->ti", swing @ bend, ankle - knee)
    length = np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee)
    assert length - 1e-3 < np.linalg.norm(new_ankle - hip) <= length and new_ankle[0, 2] < 0.1


def test_within_reach_takes_the_largest_part_of_a_move_inside_the_sphere():
    from motionlib.motion.footlock import within_reach

    c = np.zeros((3, 3))
    start = np.array([[0.5, 0.0, 0.0], [0.5, 0.0, 0.0], [1.2, 0.0, 0.0]])
    delta = np.array([[0.2, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.3, 0.0]])
    out = within_reach(c, start, delta, np.ones(3))
    np.testing.assert_allclose(out[0], [0.2, 0.0, 0.0])  # all of it fits
    np.testing.assert_allclose(out[1], [0.5, 0.0, 0.0])  # up to the radius
    # already outside: its own distance is the limit, a sideways move grows it, so nothing is taken
    np.testing.assert_allclose(out[2], [0.0, 0.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("name, kept", [("wave", 0.1), ("walk", 0.9)])
def test_lock_feet_stills_planted_feet_of_a_jittered_clip(walk, wave, name, kept):
    """A clip that stands (the wave) loses most of its feet's jitter; a walk, whose stance legs are
    almost straight (out of reach for much of the lock), some."""
    from motionlib.motion import metrics as M
    from motionlib.motion.cleanup import CleanupConfig, clean_for_tracking
    from motionlib.motion.corrupt import CorruptConfig, corrupt
    from motionlib.motion.footlock import lock_feet

    clip = {"walk": walk, "wave": wave}[name]
    noisy = corrupt(clip, CorruptConfig(drift_m_per_s=0, height_offset_m=0, height_sway_m=0, depth_noise_m=0), seed=3)
    ref = clean_for_tracking(noisy, CleanupConfig())
    locked = lock_feet(ref)
    before, after = M.plausibility(ref), M.plausibility(locked)
    assert after["skate_mm"] < kept * before["skate_mm"], (before, after)
    assert after["penetration_mm"] <= before["penetration_mm"] + 0.5
    assert after["float_mm"] <= before["float_mm"] + 2.5
    # only the legs moved, and the root stayed where it was
    np.testing.assert_array_equal(locked.trans, ref.trans)
    legs = [1, 2, 4, 5, 7, 8]
    others = [j for j in range(24) if j not in legs]
    np.testing.assert_allclose(np.abs(locked.rotations[:, others]), np.abs(ref.rotations[:, others]), atol=1e-9)
    # a clean walk stays close to itself
    assert M.mpjpe(lock_feet(clip).positions(), clip.positions()) < 10.0
    # through the clean-up's switch
    via_cfg = clean_for_tracking(noisy, CleanupConfig(footlock=True))
    np.testing.assert_allclose(via_cfg.positions(), locked.positions(), atol=1e-9)


def test_lock_feet_leaves_a_clip_in_the_air_alone(walk):
    from motionlib.motion.footlock import lock_feet

    high = walk.copy(trans=walk.trans + np.array([0.0, 0.0, 0.5]))
    out = lock_feet(high)
    np.testing.assert_allclose(out.positions(), high.positions(), atol=1e-9)
