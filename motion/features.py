"""SMPL-D135: the per-frame motion features the tokenizer and the language model see.

Layout of one frame (135 numbers, float32)::

    [0:6]     root rotation, 6D, relative to the clip's first heading
    [6:8]     root ground-plane velocity (world x, y; z is up) in the heading
              frame of this frame, metres/second
    [8:9]     root (pelvis) height above the ground, metres
    [9:135]   local rotations of SMPL joints 1..21 in 6D (21 x 6), in joint order

6D convention (Zhou et al., CVPR 2019): the first two *columns* of the
rotation matrix, ``[R00, R10, R20, R01, R11, R21]``; decoding re-orthonormalises
by Gram-Schmidt (:func:`motionlib.motion.rotations.rot6d_to_matrix`).

Frames: the world is z-up. The *heading* of a frame is the yaw of the body's
forward axis (SMPL body +z, mapped to the world by the root rotation and
projected onto the ground plane). Features are canonical: the first frame's
heading is removed from the root rotation and its ground position from the
path, so they do not depend on where the clip starts or which way it faces.
That first heading (radians) and ground position (x, y) are kept in the
clip's metadata as ``meta["d135_origin"]`` (``{"yaw": .., "xy": [..]}``) so
``decode`` restores the exact global placement; without an origin it returns
the canonical clip (starting at x = y = 0, facing +x).

Velocity of frame t is ``Rz(heading_t)^T (p_{t+1} - p_t) * fps`` (the last
frame repeats the previous one); decoding integrates
``p_{t+1} = p_t + Rz(heading_t) v_t / fps`` from the stored origin, so there is
no drift. The heading used on both sides is computed from the float32 6D
root rotation, which makes encode and decode agree to float precision.
SMPL hand joints 22-23 are not encoded and are set to identity on decode
(joint *positions* are unaffected: a joint's own rotation moves only its
children).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from . import rotations as R
from .clip import Motion
from .fk import fk, fk_t
from .skeleton import BODY_FORWARD, NUM_JOINTS

DIM = 135
ROOT_ROT = slice(0, 6)
ROOT_VEL = slice(6, 8)
ROOT_H = slice(8, 9)
JOINT_ROT = slice(9, 135)
BODY_JOINTS = tuple(range(1, 22))  # SMPL joints encoded as local rotations


def joint_slice(j: int) -> slice:
    """Feature slice of SMPL joint ``j`` (1..21)."""
    if j not in BODY_JOINTS:
        raise ValueError(f"SMPL joint {j} is not part of D135 (joints 1..21)")
    start = JOINT_ROT.start + 6 * (j - 1)
    return slice(start, start + 6)


def feature_names() -> list[str]:
    """Names of the 135 features, e.g. ``root_rot6d[0]``, ``root_vel_x``, ``left_foot_rot6d[2]``."""
    from .skeleton import SMPL_JOINT_NAMES

    names = [f"root_rot6d[{i}]" for i in range(6)] + ["root_vel_x", "root_vel_y", "root_height"]
    for j in BODY_JOINTS:
        names += [f"{SMPL_JOINT_NAMES[j]}_rot6d[{i}]" for i in range(6)]
    return names


def _yaw_of(root_mats: np.ndarray) -> np.ndarray:
    fwd = root_mats @ BODY_FORWARD
    return np.arctan2(fwd[..., 1], fwd[..., 0])


def encode(motion: Motion) -> tuple[np.ndarray, dict[str, Any]]:
    """(T, 135) float32 features and the origin ``{"yaw", "xy"}`` of the clip."""
    rm = motion.rotmats()
    yaw0 = float(_yaw_of(rm[0, 0]))
    xy0 = motion.trans[0, :2].copy()
    unyaw = R.rot_z(-yaw0)
    root_c = unyaw @ rm[:, 0]
    d6_root = R.matrix_to_6d(root_c).astype(np.float32)
    yaw_c = _yaw_of(R.rot6d_to_matrix(d6_root.astype(np.float64)))  # what decode will see
    p = (motion.trans - np.r_[xy0, 0.0]) @ unyaw.T
    step = np.diff(p[:, :2], axis=0) * motion.fps  # (T-1, 2)
    c, s = np.cos(yaw_c[:-1]), np.sin(yaw_c[:-1])
    vel = np.stack([c * step[:, 0] + s * step[:, 1], -s * step[:, 0] + c * step[:, 1]], -1)
    vel = np.concatenate([vel, vel[-1:]], axis=0)
    feats = np.empty((motion.num_frames, DIM), dtype=np.float32)
    feats[:, ROOT_ROT] = d6_root
    feats[:, ROOT_VEL] = vel
    feats[:, ROOT_H] = motion.trans[:, 2:3]
    feats[:, JOINT_ROT] = R.matrix_to_6d(rm[:, 1:22]).reshape(motion.num_frames, -1)
    return feats, {"yaw": yaw0, "xy": [float(xy0[0]), float(xy0[1])]}


def _integrate(root_mats: np.ndarray, vel: np.ndarray, height: np.ndarray, fps: float) -> np.ndarray:
    yaw = _yaw_of(root_mats)
    c, s = np.cos(yaw), np.sin(yaw)
    world = np.stack([c * vel[:, 0] - s * vel[:, 1], s * vel[:, 0] + c * vel[:, 1]], -1) / fps
    xy = np.concatenate([np.zeros((1, 2)), np.cumsum(world[:-1], axis=0)], axis=0)
    return np.concatenate([xy, height[:, None]], axis=1)


def decode(features: np.ndarray, fps: float, origin: dict[str, Any] | None = None,
           offsets: np.ndarray | None = None, body_scale: float = 1.0, meta: dict | None = None) -> Motion:
    """Features -> Motion. ``origin`` (from :func:`encode` / ``meta["d135_origin"]``)
    restores the global heading and position; ``offsets``/``body_scale`` pick the body."""
    f = np.asarray(features, dtype=np.float64)
    src = (meta or {}).get("source")
    if f.ndim != 2 or f.shape[1] != DIM:
        from .errors import MotionError

        raise MotionError(f"D135 features must have shape (T, 135), got {f.shape}", src)
    t = f.shape[0]
    root_c = R.rot6d_to_matrix(f[:, ROOT_ROT])
    trans = _integrate(root_c, f[:, ROOT_VEL], f[:, 8], fps)
    mats = np.broadcast_to(np.eye(3), (t, NUM_JOINTS, 3, 3)).copy()
    mats[:, 1:22] = R.rot6d_to_matrix(f[:, JOINT_ROT].reshape(t, 21, 6))
    if origin is not None:
        rz = R.rot_z(float(origin["yaw"]))
        root_c = rz @ root_c
        trans = trans @ rz.T + np.r_[np.asarray(origin["xy"], dtype=np.float64), 0.0]
    mats[:, 0] = root_c
    meta = dict(meta or {})
    if origin is not None:
        meta["d135_origin"] = {"yaw": float(origin["yaw"]), "xy": list(map(float, origin["xy"]))}
    return Motion(fps=fps, trans=trans, rotations=R.quat_fix_continuity(R.matrix_to_quat(mats)),
                  offsets=offsets, body_scale=body_scale, meta=meta)


def encode_clip(motion: Motion) -> np.ndarray:
    """Features, storing the origin in ``motion.meta["d135_origin"]``."""
    feats, origin = encode(motion)
    motion.meta["d135_origin"] = origin
    return feats


def decode_like(features: np.ndarray, like: Motion) -> Motion:
    """Decode with the body, fps and (if present) origin of ``like``."""
    return decode(features, like.fps, like.meta.get("d135_origin"), like.offsets, like.body_scale, like.meta)


def roundtrip_error(motion: Motion) -> dict[str, float]:
    """Max global joint position error (m) and rotation error (radians, joints
    0..21, global) of decode(encode(clip))."""
    feats, origin = encode(motion)
    back = decode(feats, motion.fps, origin, motion.offsets, motion.body_scale)
    p0, g0 = motion.joints()
    p1, g1 = back.joints()
    rel = np.einsum("tjik,tjil->tjkl", g0[:, :22], g1[:, :22])  # R0^T R1
    cos = np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    return {"max_joint_err_m": float(np.abs(p1 - p0).max()), "max_rot_err_rad": float(np.arccos(cos).max()),
            "frames": motion.num_frames}


def decode_positions_t(features: torch.Tensor, offsets: torch.Tensor, fps: float = 30.0) -> torch.Tensor:
    """Differentiable (B, T, 135) -> canonical global joint positions (B, T, 24, 3)."""
    b, t, _ = features.shape
    root = R.rot6d_to_matrix_t(features[..., ROOT_ROT])  # (B,T,3,3)
    fwd = root[..., :, 2]  # R @ [0,0,1]
    yaw = torch.atan2(fwd[..., 1], fwd[..., 0])
    c, s = torch.cos(yaw), torch.sin(yaw)
    v = features[..., ROOT_VEL]
    world = torch.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], -1) / fps
    xy = torch.cat([torch.zeros_like(world[:, :1]), torch.cumsum(world[:, :-1], dim=1)], dim=1)
    trans = torch.cat([xy, features[..., 8:9]], dim=-1)
    local = R.rot6d_to_matrix_t(features[..., JOINT_ROT].reshape(b, t, 21, 6))
    eye = torch.eye(3, dtype=features.dtype, device=features.device).expand(b, t, 2, 3, 3)
    mats = torch.cat([root[:, :, None], local, eye], dim=2)
    pos, _ = fk_t(mats, trans, offsets)
    return pos


def positions_numpy(features: np.ndarray, offsets: np.ndarray, fps: float = 30.0) -> np.ndarray:
    """numpy twin of :func:`decode_positions_t` (canonical placement)."""
    m = decode(features, fps, offsets=offsets)
    return fk(m.rotmats(), m.trans, offsets)[0]
