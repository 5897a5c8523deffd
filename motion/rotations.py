"""Rotation conversions in numpy and torch.

Conventions used throughout motionlib:

* Quaternions are ``(w, x, y, z)`` (scalar first), unit norm, Hamilton product.
* Rotation matrices act on column vectors: ``v_world = R @ v_local``.
* Axis-angle is a 3-vector ``axis * angle`` (radians), as in SMPL pose parameters.
* The 6D representation (Zhou et al., "On the Continuity of Rotation
  Representations in Neural Networks", CVPR 2019) is the first two *columns*
  of the rotation matrix, stored as ``(R[:,0], R[:,1])`` -> 6 numbers
  ``[R00, R10, R20, R01, R11, R21]``. Decoding uses Gram-Schmidt.

Every function accepts arbitrary leading batch dimensions. numpy functions end
in nothing; torch twins carry a ``_t`` suffix and are differentiable.
"""

from __future__ import annotations

import numpy as np
import torch

_EPS = 1e-12


# ----------------------------------------------------------------------------
# numpy
# ----------------------------------------------------------------------------
def quat_normalize(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), _EPS)


def quat_identity(shape: tuple[int, ...] = ()) -> np.ndarray:
    q = np.zeros(tuple(shape) + (4,))
    q[..., 0] = 1.0
    return q


def quat_conj(q: np.ndarray) -> np.ndarray:
    return np.asarray(q) * np.array([1.0, -1.0, -1.0, -1.0])


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v`` (...,3) by quaternions ``q`` (...,4)."""
    return np.einsum("...ij,...j->...i", quat_to_matrix(q), v)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    cols = quat_matrix_columns(np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0))
    return np.stack([np.stack(c, -1) for c in cols], -1)


def quat_canonical(q: np.ndarray) -> np.ndarray:
    """The sign of each quaternion with w >= 0 (q and -q are the same rotation)."""
    return np.where(q[..., :1] < 0, -q, q)


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Robust matrix -> quaternion (Shepperd's method), w >= 0."""
    m = np.asarray(m, dtype=np.float64)
    batch = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    cand = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=-1)
    best = np.argmax(cand, axis=-1)
    q = np.empty((m.shape[0], 4))
    for k in range(4):
        sel = best == k
        if not np.any(sel):
            continue
        r = m[sel]
        if k == 0:
            s = np.sqrt(np.maximum(1.0 + r[:, 0, 0] + r[:, 1, 1] + r[:, 2, 2], 0.0)) * 2
            q[sel] = np.stack([0.25 * s, (r[:, 2, 1] - r[:, 1, 2]) / s,
                               (r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 1, 0] - r[:, 0, 1]) / s], -1)
        elif k == 1:
            s = np.sqrt(np.maximum(1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2], 0.0)) * 2
            q[sel] = np.stack([(r[:, 2, 1] - r[:, 1, 2]) / s, 0.25 * s,
                               (r[:, 0, 1] + r[:, 1, 0]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s], -1)
        elif k == 2:
            s = np.sqrt(np.maximum(1.0 + r[:, 1, 1] - r[:, 0, 0] - r[:, 2, 2], 0.0)) * 2
            q[sel] = np.stack([(r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 0, 1] + r[:, 1, 0]) / s,
                               0.25 * s, (r[:, 1, 2] + r[:, 2, 1]) / s], -1)
        else:
            s = np.sqrt(np.maximum(1.0 + r[:, 2, 2] - r[:, 0, 0] - r[:, 1, 1], 0.0)) * 2
            q[sel] = np.stack([(r[:, 1, 0] - r[:, 0, 1]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s,
                               (r[:, 1, 2] + r[:, 2, 1]) / s, 0.25 * s], -1)
    return quat_canonical(quat_normalize(q)).reshape(batch + (4,))


def axis_angle_to_quat(aa: np.ndarray) -> np.ndarray:
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(half)/angle, with the small-angle series to stay finite at 0
    small = angle < 1e-8
    k = np.where(small, 0.5 - angle**2 / 48.0, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([np.cos(half), aa * k], axis=-1)


def quat_to_axis_angle(q: np.ndarray) -> np.ndarray:
    q = quat_canonical(quat_normalize(q))
    sin_half = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, q[..., :1])
    small = sin_half < 1e-8
    k = np.where(small, 2.0 / np.maximum(q[..., :1], _EPS), angle / np.where(small, 1.0, sin_half))
    return q[..., 1:] * k


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    return quat_to_matrix(axis_angle_to_quat(aa))


def matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    return quat_to_axis_angle(matrix_to_quat(m))


def matrix_to_6d(m: np.ndarray) -> np.ndarray:
    """First two columns of R, column-major: (..., 3, 3) -> (..., 6)."""
    m = np.asarray(m)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def rot6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """Gram-Schmidt on the two stored columns; returns a proper rotation."""
    d6 = np.asarray(d6, dtype=np.float64)
    a1, a2 = d6[..., :3], d6[..., 3:6]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), _EPS)
    a2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = a2 / np.maximum(np.linalg.norm(a2, axis=-1, keepdims=True), _EPS)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


def quat_slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Shortest-path spherical interpolation; ``t`` broadcasts against q[..., 0]."""
    q0 = quat_normalize(q0)
    q1 = quat_normalize(q1)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_t = np.sin(theta)
    near = sin_t < 1e-6
    w0 = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / np.where(near, 1.0, sin_t))
    w1 = np.where(near, t, np.sin(t * theta) / np.where(near, 1.0, sin_t))
    return quat_normalize(w0 * q0 + w1 * q1)


def quat_fix_continuity(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along ``axis`` (time) so consecutive quaternions agree (q ~ -q).

    Same result as walking the frames and flipping q[t] whenever its dot with the
    (already flipped) q[t-1] is negative, without the Python loop: with d[t] the dot
    of the unflipped neighbours, q[t] ends flipped iff the count of negative d since
    the last frame whose d was 0 or NaN (never flipped, so it restarts the chain) is odd."""
    q = np.moveaxis(np.array(q, dtype=np.float64, copy=True), axis, 0)
    if q.shape[0] < 2:
        return np.moveaxis(q, 0, axis)
    d = np.sum(q[1:] * q[:-1], axis=-1)
    neg = np.concatenate([np.zeros((1,) + d.shape[1:], dtype=np.int64), (d < 0).astype(np.int64)])
    restart = np.concatenate([np.ones((1,) + d.shape[1:], dtype=bool), ~((d < 0) | (d > 0))])
    count = np.cumsum(neg, axis=0)
    idx = np.arange(q.shape[0]).reshape((-1,) + (1,) * (d.ndim - 1))
    last = np.maximum.accumulate(np.where(restart, idx, 0), axis=0)
    flips = (count - np.take_along_axis(count, last, axis=0)) % 2 == 1
    q[flips] *= -1
    return np.moveaxis(q, 0, axis)


def rot_z(angle: np.ndarray | float) -> np.ndarray:
    """Rotation matrices about the world z (up) axis."""
    angle = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    z, o = np.zeros_like(c), np.ones_like(c)
    return np.stack([c, -s, z, s, c, z, z, z, o], axis=-1).reshape(angle.shape + (3, 3))


def unit(v: np.ndarray) -> np.ndarray:
    """Vectors (..., 3) scaled to length 1 (zero vectors stay zero)."""
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _skew(v: np.ndarray) -> np.ndarray:
    z = np.zeros(v.shape[:-1])
    x, y, w = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([z, -w, y, w, z, -x, -y, x, z], -1).reshape(v.shape[:-1] + (3, 3))


def min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3, 3) smallest rotations taking directions ``a`` onto ``b``."""
    a, b = unit(a), unit(b)
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)
    k = _skew(v)
    out = np.eye(3) + k + (k @ k) / np.maximum(1.0 + c, 1e-9)[..., None, None]
    opposite = c < -1.0 + 1e-6
    if np.any(opposite):  # 180 degrees about any axis perpendicular to a
        ao = a[opposite]
        ref = np.where(np.abs(ao[:, :1]) < 0.9, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
        axis = unit(np.cross(ao, ref))
        out[opposite] = 2 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
    return out


def axis_rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations by ``angle`` (...) about ``axis`` (..., 3), which need not be unit length."""
    return axis_angle_to_matrix(unit(axis) * angle[..., None])


def orthonormal_error(m: np.ndarray) -> float:
    """max |R^T R - I| and |det R - 1| over a batch of matrices."""
    m = np.asarray(m, dtype=np.float64)
    eye = np.eye(3)
    e1 = np.abs(np.einsum("...ji,...jk->...ik", m, m) - eye).max(initial=0.0)
    e2 = np.abs(np.linalg.det(m) - 1.0).max(initial=0.0)
    return float(max(e1, e2))


# ----------------------------------------------------------------------------
# torch (differentiable twins)
# ----------------------------------------------------------------------------
def quat_matrix_columns(q: tuple, ncols: int = 3) -> tuple:
    """The first ``ncols`` columns of the rotation matrix of (not necessarily unit) quaternions given
    as components ``(w, x, y, z)`` (numpy arrays or torch tensors of one shape; the zero quaternion
    gives I). Each column is a tuple of 3 components. The one quaternion-to-matrix formula: behind
    :func:`quat_to_matrix`, :func:`quat_to_matrix_t`, the tracking code's component planes
    (``sim.body_planes``) and the simulator's Euler angles (``sim.smpl_state``)."""
    w, x, y, z = q
    n = w * w + x * x + y * y + z * z
    s = 2.0 / (n.clamp_min(_EPS * _EPS) if isinstance(n, torch.Tensor) else np.maximum(n, _EPS * _EPS))
    xx, yy, zz = s * x * x, s * y * y, s * z * z
    xy, xz, yz = s * x * y, s * x * z, s * y * z
    wx, wy, wz = s * w * x, s * w * y, s * w * z
    cols = ((1.0 - (yy + zz), xy + wz, xz - wy), (xy - wz, 1.0 - (xx + zz), yz + wx),
            (xz + wy, yz - wx, 1.0 - (xx + yy)))
    return cols[:ncols]


def quat_to_matrix_t(q: torch.Tensor) -> torch.Tensor:
    cols = quat_matrix_columns(q.unbind(-1))
    return torch.stack([torch.stack(c, -1) for c in cols], -1)


def axis_angle_to_matrix_t(aa: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula, finite gradient at zero."""
    angle2 = (aa * aa).sum(-1, keepdim=True)
    angle = torch.sqrt(angle2.clamp_min(1e-16))
    small = angle2 < 1e-10
    # sin(a)/a and (1-cos a)/a^2 with Taylor fall-backs
    s = torch.where(small, 1.0 - angle2 / 6.0, torch.sin(angle) / angle)
    c = torch.where(small, 0.5 - angle2 / 24.0, (1.0 - torch.cos(angle)) / angle2.clamp_min(1e-16))
    x, y, z = aa.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(aa.shape[:-1] + (3, 3))
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand(k.shape)
    return eye + s[..., None] * k + c[..., None] * (k @ k)


def matrix_to_6d_t(m: torch.Tensor) -> torch.Tensor:
    return torch.cat([m[..., :, 0], m[..., :, 1]], dim=-1)


def rot6d_to_matrix_t(d6: torch.Tensor) -> torch.Tensor:
    a1, a2 = d6[..., :3], d6[..., 3:6]
    b1 = a1 / a1.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    a2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = a2 / a2.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def quat_mul_parts(a: tuple, b: tuple) -> tuple:
    """Hamilton product of quaternions given as components ``(w, x, y, z)`` (arrays, tensors or
    numbers; see quat_matrix_columns)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw)


def quat_mul_t(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.stack(quat_mul_parts(a.unbind(-1), b.unbind(-1)), dim=-1)


def quat_conj_t(q: torch.Tensor) -> torch.Tensor:
    return torch.cat([q[..., :1], -q[..., 1:]], dim=-1)


def quat_rotate_t(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate v (...,3) by unit quaternions q (...,4)."""
    w, u = q[..., :1], q[..., 1:]
    t = 2.0 * torch.cross(u, v, dim=-1)
    return v + w * t + torch.cross(u, t, dim=-1)


def quat_angle_t(q: torch.Tensor) -> torch.Tensor:
    """Rotation angle (radians, in [0, pi]) of unit quaternions."""
    return 2.0 * torch.atan2(q[..., 1:].norm(dim=-1), q[..., 0].abs())


def yaw_quat_t(yaw: torch.Tensor) -> torch.Tensor:
    """Quaternions of rotations by ``yaw`` about world z."""
    h = 0.5 * yaw
    z = torch.zeros_like(h)
    return torch.stack([torch.cos(h), z, z, torch.sin(h)], dim=-1)
