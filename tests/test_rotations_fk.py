import numpy as np
import pytest
import torch

from motionlib.motion import Skeleton
from motionlib.motion import rotations as R
from motionlib.motion.fk import fk, fk_t
from motionlib.motion.skeleton import SMPL_TO_ZUP


def test_conversions_round_trip(rng):
    q = R.quat_normalize(rng.normal(size=(200, 4)))
    m = R.quat_to_matrix(q)
    assert R.orthonormal_error(m) < 1e-12
    q2 = R.matrix_to_quat(m)
    assert np.allclose(np.abs(np.sum(q * q2, -1)), 1.0, atol=1e-12)
    aa = R.quat_to_axis_angle(q)
    assert np.allclose(R.axis_angle_to_matrix(aa), m, atol=1e-12)
    assert np.allclose(R.rot6d_to_matrix(R.matrix_to_6d(m)), m, atol=1e-12)
    mt = R.axis_angle_to_matrix_t(torch.tensor(aa))
    assert np.allclose(mt.numpy(), m, atol=1e-12)
    assert np.allclose(R.rot6d_to_matrix_t(R.matrix_to_6d_t(mt)).numpy(), m, atol=1e-12)
    assert np.allclose(R.quat_to_matrix_t(torch.tensor(q)).numpy(), m, atol=1e-12)


def test_known_rotation_and_small_angles():
    aa = np.array([0.0, 0.0, np.pi / 2])
    assert np.allclose(R.axis_angle_to_matrix(aa) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    tiny = np.array([1e-10, 0, 0])
    assert np.allclose(R.axis_angle_to_quat(tiny), [1, 5e-11, 0, 0])
    assert np.allclose(R.quat_to_axis_angle(R.axis_angle_to_quat(tiny)), tiny)
    # gradient of Rodrigues at zero is finite
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    R.axis_angle_to_matrix_t(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_slerp_midpoint_and_hemisphere():
    q0 = R.axis_angle_to_quat(np.array([0, 0, 0.0]))
    q1 = R.axis_angle_to_quat(np.array([0, 0, 1.0]))
    mid = R.quat_slerp(q0, -q1, 0.5)  # sign flip must still take the short path
    assert np.allclose(R.quat_to_axis_angle(mid), [0, 0, 0.5], atol=1e-12)


def test_fk_numpy_matches_torch(rng):
    q = R.quat_normalize(rng.normal(size=(7, 30, 24, 4)))
    trans = rng.normal(size=(7, 30, 3))
    off = Skeleton.default().offsets
    p, g = fk(R.quat_to_matrix(q), trans, off)
    pt, gt = fk_t(torch.tensor(R.quat_to_matrix(q)), torch.tensor(trans), torch.tensor(off))
    assert np.abs(pt.numpy() - p).max() < 1e-12
    assert np.abs(gt.numpy() - g).max() < 1e-12


def test_default_body_is_upright_human():
    sk = Skeleton.default()
    rest = sk.rest_positions()
    # SMPL frame: y up, x left. Head above pelvis above toes; left hip at +x.
    assert rest[15, 1] > 0.5 and rest[10, 1] < -0.85
    assert rest[1, 0] > 0.05 and rest[2, 0] < -0.05
    assert 1.4 < sk.height() < 1.6
    # In the z-up world, an upright body facing +x puts the head up and the left hip at +y.
    p, _ = fk(np.broadcast_to(np.eye(3), (24, 3, 3)).copy() @ np.eye(3), np.zeros(3), sk.offsets)
    rots = np.broadcast_to(np.eye(3), (24, 3, 3)).copy()
    rots[0] = SMPL_TO_ZUP
    p, _ = fk(rots, np.array([0, 0, 0.93]), sk.offsets)
    assert p[15, 2] > 1.4 and p[1, 1] > 0.05 and abs(p[10, 2]) < 0.05
    assert p[10, 0] > p[7, 0]  # toes in front of the ankle (facing +x)
    assert np.allclose(sk.scaled(2.0).height(), 2 * sk.height())


def _fix_continuity_by_loop(q, axis=0):
    """The definition: walk the frames, flip q[t] when its dot with the flipped q[t-1] is negative."""
    q = np.moveaxis(np.array(q, dtype=np.float64, copy=True), axis, 0)
    for t in range(1, q.shape[0]):
        q[t][np.sum(q[t] * q[t - 1], axis=-1) < 0] *= -1
    return np.moveaxis(q, 0, axis)


@pytest.mark.parametrize("shape,axis", [((120, 24, 4), 0), ((40, 4), 0), ((1, 4), 0), ((0, 4), 0), ((3, 60, 4), 1)])
def test_quat_fix_continuity_matches_the_frame_loop(shape, axis):
    rng = np.random.default_rng(1)
    q = rng.normal(size=shape)
    qm = np.moveaxis(q, axis, 0)
    if qm.shape[0] > 8:
        qm[4] = 0.0  # a zero dot product restarts the chain
        qm[7, ..., 0] = np.nan  # so does a NaN one
    out = R.quat_fix_continuity(q, axis)
    assert np.array_equal(out, _fix_continuity_by_loop(q, axis), equal_nan=True)
    om = np.moveaxis(out, axis, 0)
    if om.shape[0] > 8:  # away from the restarts, neighbours agree
        assert (np.sum(om[9:] * om[8:-1], axis=-1) >= 0).all()
