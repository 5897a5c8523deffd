"""Conversions between Motion clips (SMPL rotations) and the humanoid's MuJoCo state.

* Root: free joint, ``qpos[0:3]`` = pelvis position (world, z-up), ``qpos[3:7]``
  = orientation of the pelvis body (wxyz). Sim bodies use the reference frame
  (x fwd, y left, z up), related to SMPL's body frame by ``C = SMPL_TO_ZUP``:
  ``R_sim_root = R_root @ C.T``.
* Joints: three hinges x, y, z per joint, applied in that order, so the local
  rotation is ``Rx(a) @ Ry(b) @ Rz(c)`` = ``C @ R_smpl_local @ C.T``.
* ``qvel``: root linear velocity (world), root angular velocity (body frame,
  MuJoCo's free-joint convention), hinge rates.
"""

from __future__ import annotations

import numpy as np

from motionlib.motion import rotations as R
from motionlib.motion.clip import Motion
from motionlib.motion.skeleton import NUM_JOINTS, SMPL_TO_ZUP

C = SMPL_TO_ZUP


def _dfs_order() -> tuple[int, ...]:
    """SMPL joint index of each MuJoCo body in model order (depth-first preorder
    of the tree, children by index), which is also the hinge order in qpos."""
    from motionlib.motion.skeleton import SMPL_PARENTS

    children = {j: [c for c in range(NUM_JOINTS) if SMPL_PARENTS[c] == j] for j in range(NUM_JOINTS)}
    order: list[int] = []
    stack = [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(children[j]))
    return tuple(order)


# SIM_ORDER[k] = SMPL index of the k-th body (k = 0 is the pelvis);
# SMPL_TO_SIM[j] = model body position k of SMPL joint j.
SIM_ORDER = _dfs_order()
SMPL_TO_SIM = tuple(int(i) for i in np.argsort(SIM_ORDER))
# Hinge triplets in qpos[7:] / qvel[6:] follow SIM_ORDER[1:].
HINGE_SMPL = SIM_ORDER[1:]
NQ = 7 + 3 * (NUM_JOINTS - 1)
NV = 6 + 3 * (NUM_JOINTS - 1)


def matrix_to_euler_xyz(m: np.ndarray) -> np.ndarray:
    """Angles (a, b, c) with ``m = Rx(a) Ry(b) Rz(c)``; b in [-pi/2, pi/2]."""
    b = np.arcsin(np.clip(m[..., 0, 2], -1.0, 1.0))
    a = np.arctan2(-m[..., 1, 2], m[..., 2, 2])
    c = np.arctan2(-m[..., 0, 1], m[..., 0, 0])
    return np.stack([a, b, c], axis=-1)


def euler_xyz_to_matrix(e: np.ndarray) -> np.ndarray:
    a, b, c = np.moveaxis(np.asarray(e, dtype=np.float64), -1, 0)
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    m = np.stack([
        cb * cc, -cb * sc, sb,
        ca * sc + sa * sb * cc, ca * cc - sa * sb * sc, -sa * cb,
        sa * sc - ca * sb * cc, sa * cc + ca * sb * sc, ca * cb,
    ], axis=-1)
    return m.reshape(a.shape + (3, 3))


# SMPL_TO_ZUP as a quaternion (the cyclic permutation x -> y -> z -> x, 120 degrees about (1, 1, 1)).
Q_C = R.matrix_to_quat(C)
# C is a permutation matrix, so conjugating a rotation by it (C R C^T: SMPL local -> sim local) permutes its
# quaternion's vector part as C permutes vectors; C^T R C undoes it. Equal to the matrix products to
# rounding and far cheaper per frame than building, multiplying and converting back 3x3 matrices.
assert np.array_equal(np.abs(C), C) and np.array_equal(C.sum(0), np.ones(3)) and np.array_equal(C.sum(1), np.ones(3))
_TO_SIM = [0] + [1 + int(np.argmax(r)) for r in C]
_FROM_SIM = [0] + [1 + int(np.argmax(r)) for r in C.T]


def quat_to_euler_xyz(q: np.ndarray) -> np.ndarray:
    """Angles (a, b, c) with ``R(q) = Rx(a) Ry(b) Rz(c)`` for quaternions wxyz: :func:`matrix_to_euler_xyz`
    of the entries of the quaternion's matrix that it reads."""
    (m00, _, _), (m01, _, _), (m02, m12, m22) = R.quat_matrix_columns(np.moveaxis(q, -1, 0))
    return np.stack([np.arctan2(-m12, m22), np.arcsin(np.clip(m02, -1.0, 1.0)), np.arctan2(-m01, m00)], axis=-1)


def euler_xyz_to_quat(e: np.ndarray) -> np.ndarray:
    """Unit quaternions (wxyz) of ``Rx(a) Ry(b) Rz(c)``."""
    h = 0.5 * np.asarray(e, dtype=np.float64)
    (ca, cb, cc), (sa, sb, sc) = np.moveaxis(np.cos(h), -1, 0), np.moveaxis(np.sin(h), -1, 0)
    q = R.quat_mul_parts(R.quat_mul_parts((ca, sa, 0.0, 0.0), (cb, 0.0, sb, 0.0)), (cc, 0.0, 0.0, sc))
    return np.stack(q, axis=-1)


def motion_to_qpos(motion: Motion) -> np.ndarray:
    """(T, 76) MuJoCo qpos for every frame of ``motion``."""
    q = motion.rotations  # unit quaternions (Motion normalises them)
    t = motion.num_frames
    qpos = np.zeros((t, NQ))
    qpos[:, 0:3] = motion.trans
    qpos[:, 3:7] = R.quat_fix_continuity(R.quat_canonical(R.quat_mul(q[:, 0], R.quat_conj(Q_C))))  # R_root C^T
    eul = quat_to_euler_xyz(q[:, 1:, _TO_SIM])  # (T, 23, 3) in SMPL order 1..23, each angle in [-pi, pi]
    qpos[:, 7:] = eul[:, [j - 1 for j in HINGE_SMPL]].reshape(t, -1)
    return qpos


def qpos_to_rotations(qpos: np.ndarray) -> np.ndarray:
    """(..., 76) qpos -> (..., 24, 4) SMPL-convention quaternions (w >= 0)."""
    qpos = np.asarray(qpos, dtype=np.float64)
    root = R.quat_mul(R.quat_normalize(qpos[..., 3:7]), Q_C)  # R_sim_root C
    eul_sim = qpos[..., 7:].reshape(qpos.shape[:-1] + (NUM_JOINTS - 1, 3))
    eul = eul_sim[..., [SMPL_TO_SIM[j] - 1 for j in range(1, NUM_JOINTS)], :]
    local = euler_xyz_to_quat(eul)[..., _FROM_SIM]
    return R.quat_canonical(np.concatenate([root[..., None, :], local], axis=-2))


def qpos_to_motion(qpos: np.ndarray, fps: float, like: Motion | None = None, meta: dict | None = None) -> Motion:
    """Turn a simulated trajectory back into a Motion (body and betas from ``like``)."""
    rots = R.quat_fix_continuity(qpos_to_rotations(qpos))
    kw = {}
    if like is not None:
        kw = dict(betas=like.betas.copy(), gender=like.gender,
                  offsets=None if like.offsets is None else like.offsets.copy(), body_scale=like.body_scale)
    return Motion(fps=fps, trans=np.asarray(qpos)[:, 0:3].copy(), rotations=rots, meta=dict(meta or {}), **kw)


def qvel_from_qpos(qpos: np.ndarray, fps: float) -> np.ndarray:
    """Finite-difference velocities (central inside, one-sided at the ends)."""
    qpos = np.asarray(qpos, dtype=np.float64)
    t = qpos.shape[0]
    qvel = np.zeros((t, NV))
    dt = 1.0 / fps
    lin = np.gradient(qpos[:, 0:3], dt, axis=0)
    q = R.quat_fix_continuity(qpos[:, 3:7])
    # body-frame angular velocity: omega = 2 * q^-1 * dq/dt (vector part)
    dq = np.gradient(q, dt, axis=0)
    omega = 2.0 * R.quat_mul(R.quat_conj(q), dq)[:, 1:]
    hinge = np.gradient(np.unwrap(qpos[:, 7:], axis=0), dt, axis=0)
    qvel[:, 0:3], qvel[:, 3:6], qvel[:, 6:] = lin, omega, hinge
    return qvel
