"""Plausibility and error metrics on hand-made cases with known answers."""

import numpy as np
import pytest

from motionlib.motion import metrics as M


def _standing(T=60, fps=30.0, lift=0.0):
    """(T, 24) lowest points of a body standing with its soles on the ground (+ lift), and its
    (T, 24, 3) joints, feet still."""
    low = np.full((T, 24), 0.5)
    low[:, list(M.FOOT_JOINTS)] = lift
    pos = np.zeros((T, 24, 3))
    pos[:, :, 2] = 1.0
    pos[:, :, 0] = np.arange(24) * 0.01
    return low, pos


def test_floating_and_penetration():
    assert M.float_mm(_standing()[0]) == pytest.approx(0.0)
    assert M.penetration_mm(_standing()[0]) == pytest.approx(0.0)
    assert M.float_mm(_standing(lift=0.10)[0]) == pytest.approx(100.0 - 5.0)  # 10 cm minus 5 mm tolerance
    assert M.penetration_mm(_standing(lift=-0.03)[0]) == pytest.approx(30.0 - 5.0)
    assert M.float_mm(_standing(lift=0.004)[0]) == 0.0  # inside the tolerance
    low = _standing(lift=0.10)[0]
    low[:, 20] = 0.0  # a hand on the floor: the body touches the ground
    assert M.float_mm(low) == 0.0


def test_skating_counts_sliding_planted_feet_only():
    pos = _standing()[1]
    pos[:, list(M.FOOT_JOINTS), 2] = M.SOLE_OFFSET_M  # level soles on the floor
    pos[:, 7, 0] += np.arange(60) * 0.002  # left ankle slides 2 mm per frame while planted
    assert M.skate_mm(pos) == pytest.approx(2.0)
    lifted = pos.copy()
    lifted[:, 7, 2] += 0.2  # the same slide in the air is not skating
    assert M.skate_mm(lifted) == pytest.approx(0.0)


def _upright(pose: np.ndarray | None = None):
    """Global joints and rotations of the mean body standing upright (rest pose or ``pose``,
    (24, 3) axis-angle), its level soles on the ground."""
    from motionlib.motion import Motion
    from motionlib.motion import rotations as R
    from motionlib.motion.skeleton import SMPL_TO_ZUP

    aa = np.zeros((2, 24, 3)) if pose is None else np.repeat(pose[None], 2, axis=0)
    q = R.axis_angle_to_quat(aa)
    q[:, 0] = R.matrix_to_quat(SMPL_TO_ZUP)
    m = Motion(fps=30.0, trans=np.zeros((2, 3)), rotations=q)
    pos, glob = m.joints()
    shift = -M.sole_heights(pos).min()
    return pos + [0.0, 0.0, shift], glob


def test_lowest_points_of_the_posed_shape():
    pos, glob = _upright()
    low = M.ground_heights(pos, glob)
    # level feet: the foot boxes' bottoms are the level-sole proxy's points
    np.testing.assert_allclose(low[:, list(M.FOOT_JOINTS)], M.sole_heights(pos), atol=1e-9)
    assert low.min() == pytest.approx(0.0, abs=1e-9) and np.delete(low[0], M.FOOT_JOINTS).min() > 0.05  # shins end ~9 cm up
    # twice the body: the offsets and the shapes scale alike
    np.testing.assert_allclose(M.ground_heights(2 * pos, glob, 2.0), 2 * low, atol=1e-9)
    # the left foot pitched 30 degrees toes-down about its ankle: its toe box reaches lower than the
    # level-sole proxy says (the front edge goes down)
    pose = np.zeros((24, 3))
    pose[7] = [np.radians(30.0), 0.0, 0.0]  # SMPL x = left: a positive pitch turns the toes down
    pos_t, glob_t = _upright(pose)
    pos_t = pos_t - [0.0, 0.0, M.sole_heights(pos_t).min() - M.sole_heights(pos).min()]
    lo = M.ground_heights(pos_t, glob_t)
    assert lo[0, 10] < M.sole_heights(pos_t)[0, 2] - 0.01


def test_jitter_is_zero_for_constant_acceleration():
    t = np.arange(50)[:, None, None] / 30.0
    pos = np.zeros((50, 24, 3)) + 0.5 * 9.81 * t**2
    assert M.jitter(pos, 30.0) == pytest.approx(0.0, abs=1e-6)
    noisy = pos + np.random.default_rng(0).normal(scale=0.01, size=pos.shape)
    assert M.jitter(noisy, 30.0) > 100


def test_mpjpe_pa_mpjpe_accel(rng):
    gt = rng.normal(size=(20, 24, 3))
    assert M.mpjpe(gt + [0.01, 0, 0], gt) == pytest.approx(10.0)
    th = 0.7
    rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    moved = 1.3 * gt @ rot.T + [1.0, 2.0, 3.0]
    assert M.mpjpe(moved, gt) > 100
    assert M.pa_mpjpe(moved, gt) == pytest.approx(0.0, abs=1e-6)
    shifted = gt + np.arange(20)[:, None, None] * 0.001  # constant velocity offset: no accel error
    assert M.accel_error(shifted, gt) == pytest.approx(0.0, abs=1e-9)
    assert M.vel_error(shifted, gt) == pytest.approx(np.sqrt(3) * 1.0)
    te = M.tracking_errors(gt + [0.02, 0, 0], gt)
    assert te["g_mpjpe_mm"] == pytest.approx(20.0) and te["l_mpjpe_mm"] == pytest.approx(0.0, abs=1e-9)


def test_motion_wrappers(random_clip):
    p = M.plausibility(random_clip)
    assert set(p) == {"penetration_mm", "float_mm", "skate_mm", "jitter"}
    c = M.compare(random_clip, random_clip)
    assert c["mpjpe_mm"] == 0.0 and c["pa_mpjpe_mm"] < 1e-6
    with pytest.raises(ValueError, match="differ in length"):
        M.compare(random_clip, random_clip[:50])
