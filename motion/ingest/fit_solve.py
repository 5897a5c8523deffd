"""SMPL pose from target joint positions: analytic bone alignment + a batched torch fit.

Used by :mod:`.bvh_fit`. Inputs are per-frame target positions for the 24
SMPL joints (T, 24, 3) in the z-up world and the body's offsets (24, 3) in the
SMPL body frame; outputs are local rotation matrices (T, 24, 3, 3) (joint 0 =
global root orientation) and the pelvis position (T, 3).
"""

from __future__ import annotations

import numpy as np
import torch

from .. import rotations as R
from ..fk import fk_t
from ..skeleton import NUM_JOINTS, SMPL_PARENTS

# joint -> its child that defines the bone direction (joints not listed and
# not solved by Kabsch are leaves: local identity)
BONE_CHILD = {1: 4, 2: 5, 3: 6, 4: 7, 5: 8, 6: 9, 7: 10, 8: 11, 12: 15, 13: 16, 14: 17,
              16: 18, 17: 19, 18: 20, 19: 21, 20: 22, 21: 23}
# Twist hints: joint -> ([(from, to, rest vector in the body frame, weight), ...], fraction).
# The bone is twisted about its axis so that each rest vector's perpendicular
# part points along that of target[to] - target[from] (``None`` as rest vector
# means the rest offset from ``from`` to ``to``); several hints are combined by
# a circular mean weighted by weight x confidence (the confidence grows with
# how far the vectors stand off the bone axis). Hips: the knee bend (a flexed
# knee sends the shin backward, -z) and the foot; knees: the foot; upper arms:
# the elbow bend (an SMPL elbow flexes the forearm forward, +z); spine1/spine2
# take a share (fraction) of the collar line's twist, spine3 the rest by Kabsch.
_BACK, _FWD = (0.0, 0.0, -1.0), (0.0, 0.0, 1.0)
TWIST_HINTS = {
    1: ([(4, 7, _BACK, 3.0), (7, 10, None, 1.0)], 1.0), 2: ([(5, 8, _BACK, 3.0), (8, 11, None, 1.0)], 1.0),
    4: ([(7, 10, None, 1.0)], 1.0), 5: ([(8, 11, None, 1.0)], 1.0),
    16: ([(18, 20, _FWD, 1.0)], 1.0), 17: ([(19, 21, _FWD, 1.0)], 1.0),
    3: ([(14, 13, None, 1.0)], 1.0 / 3.0), 6: ([(14, 13, None, 1.0)], 0.5),
}
_MIN_BEND = np.sin(np.deg2rad(25.0))  # twist confidence saturates at this bend


def kabsch(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) minimising sum_k w_k |R a_k - b_k|^2; a (K,3), b (T,K,3)."""
    h = np.einsum("k,ki,tkj->tij", w, a, b)
    u, _, vt = np.linalg.svd(h)
    v = np.swapaxes(vt, -1, -2)
    d = np.sign(np.linalg.det(v @ np.swapaxes(u, -1, -2)))
    d = np.where(d == 0, 1.0, d)
    fix = np.ones(u.shape[:-1])
    fix[:, 2] = d
    return (v * fix[:, None, :]) @ np.swapaxes(u, -1, -2)


def _twist(axis: np.ndarray, s: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Angle about ``axis`` taking s's perpendicular part onto v's, and a 0..1
    confidence (both must stand off the axis by at least ~25 degrees)."""
    s_p = s - np.sum(s * axis, -1, keepdims=True) * axis
    v_p = v - np.sum(v * axis, -1, keepdims=True) * axis
    ang = np.arctan2(np.sum(axis * np.cross(s_p, v_p), -1), np.sum(s_p * v_p, -1))
    conf = np.ones(ang.shape)
    for a, p in ((v, v_p), (s, s_p)):
        ratio = np.linalg.norm(p, axis=-1) / np.maximum(np.linalg.norm(a, axis=-1), 1e-9)
        conf = conf * np.clip(ratio / _MIN_BEND, 0.0, 1.0)
    return ang, conf


def analytic_pose(targets: np.ndarray, offsets: np.ndarray,
                  align: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame bone alignment walking down the SMPL tree.

    ``align`` (24, 3) are the rest bone vectors to align with the targets
    (default ``offsets``; a mapping's neutral pose replaces some, see
    ``Mapping.align_offsets``). Returns local rotations (T, 24, 3, 3) and the
    pelvis position (T, 3) (the pelvis target)."""
    t = targets.shape[0]
    offsets = np.asarray(offsets if align is None else align, dtype=np.float64)
    rest = np.zeros((NUM_JOINTS, 3))
    for j in range(1, NUM_JOINTS):
        rest[j] = rest[SMPL_PARENTS[j]] + offsets[j]
    g = np.empty((t, NUM_JOINTS, 3, 3))
    # root: hips and spine1 directions from the hip centre
    mid_r = 0.5 * (rest[1] + rest[2])
    mid_t = 0.5 * (targets[:, 1] + targets[:, 2])
    a = R.unit(np.stack([rest[1] - mid_r, rest[2] - mid_r, rest[3] - mid_r]))
    b = R.unit(np.stack([targets[:, 1] - mid_t, targets[:, 2] - mid_t, targets[:, 3] - mid_t], 1))
    g[:, 0] = kabsch(a, b, np.array([1.0, 1.0, 2.0]))
    for j in range(1, NUM_JOINTS):
        gp = g[:, SMPL_PARENTS[j]]
        if j == 9:  # spine3: neck and both collars
            a = R.unit(offsets[[12, 13, 14]])
            b = R.unit(targets[:, [12, 13, 14]] - targets[:, 9:10])
            g[:, 9] = kabsch(a, b, np.array([2.0, 1.0, 1.0]))
            continue
        c = BONE_CHILD.get(j)
        if c is None:
            g[:, j] = gp
            continue
        cur = np.einsum("tij,j->ti", gp, offsets[c])
        gj = R.min_rotation(cur, targets[:, c] - targets[:, j]) @ gp
        hint = TWIST_HINTS.get(j)
        if hint is not None:
            hints, frac = hint
            axis = R.unit(targets[:, c] - targets[:, j])
            sin_sum, cos_sum, conf_sum = 0.0, 0.0, 0.0
            for f, to, vec, wt in hints:
                rest_vec = rest[to] - rest[f] if vec is None else np.asarray(vec, dtype=np.float64)
                ang, conf = _twist(axis, np.einsum("tij,j->ti", gj, rest_vec), targets[:, to] - targets[:, f])
                sin_sum = sin_sum + wt * conf * np.sin(ang)
                cos_sum = cos_sum + wt * conf * np.cos(ang)
                conf_sum = np.maximum(conf_sum, conf)
            ang = np.arctan2(sin_sum, cos_sum)
            gj = R.axis_rotation(axis, ang * conf_sum * frac) @ gj
        g[:, j] = gj
    local = np.empty_like(g)
    local[:, 0] = g[:, 0]
    for j in range(1, NUM_JOINTS):
        local[:, j] = np.swapaxes(g[:, SMPL_PARENTS[j]], -1, -2) @ g[:, j]
    return local, targets[:, 0].copy()


def optimise_fit(local: np.ndarray, trans: np.ndarray, targets: np.ndarray, offsets: np.ndarray,
                 weights: np.ndarray, iters: int = 80, lr: float = 0.05, w_acc: float = 0.1,
                 w_reg: float = 1e-3, direction_joints: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adam over all frames at once on axis-angle corrections ``d`` (local
    rotation = init @ exp(d)) and the root translation.

    loss = sum_j w_j e_j / sum_j w_j (mean over frames, m^2)
           + w_acc * mean |p[t+1] - 2 p[t] + p[t-1]|^2 + w_reg * mean |d|^2 * 1e-2,
    e_j = |p_j - target_j|^2, except for ``direction_joints``, which are fitted
    by the direction of their bone alone: e_j = L_j^2 |u(p_j - p_parent) -
    u(target_j - target_parent)|^2 (u: unit vector, L_j: bone length). A
    position fit of a short end bone (the foot) on a body of other proportions
    turns it to wherever the source joint sits; its direction does not.
    Returns local rotations, root positions and joint positions (numpy).
    """
    dt = torch.float32
    base = torch.from_numpy(local).to(dt)
    tgt = torch.from_numpy(targets).to(dt)
    off = torch.from_numpy(offsets).to(dt)
    w = torch.from_numpy(weights / weights.sum()).to(dt)
    d = torch.zeros(local.shape[:2] + (3,), dtype=dt, requires_grad=True)
    tr = torch.from_numpy(trans).to(dt).clone().requires_grad_(True)
    dj = torch.as_tensor(direction_joints, dtype=torch.long)
    dp = torch.as_tensor([SMPL_PARENTS[j] for j in direction_joints], dtype=torch.long)
    dlen2 = (off[dj] ** 2).sum(-1)
    tdir = tgt[:, dj] - tgt[:, dp]
    tdir = tdir / tdir.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    opt = torch.optim.Adam([d, tr], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(iters, 1), eta_min=lr * 0.05)
    for _ in range(iters):
        opt.zero_grad(set_to_none=True)
        rot = base @ R.axis_angle_to_matrix_t(d)
        pos = fk_t(rot, tr, off)[0]
        err = ((pos - tgt) ** 2).sum(-1)
        if len(direction_joints):
            bone = pos[:, dj] - pos[:, dp]
            bone = bone / bone.norm(dim=-1, keepdim=True).clamp_min(1e-9)
            err = err.index_copy(1, dj, ((bone - tdir) ** 2).sum(-1) * dlen2)
        loss = (err * w).sum(-1).mean()
        if pos.shape[0] > 2 and w_acc > 0:
            acc = pos[2:] - 2 * pos[1:-1] + pos[:-2]
            loss = loss + w_acc * ((acc ** 2).sum(-1) * w).sum(-1).mean()
        loss = loss + w_reg * 1e-2 * (d ** 2).sum(-1).mean()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        rot = base @ R.axis_angle_to_matrix_t(d)
        pos = fk_t(rot, tr, off)[0]
    rot64 = rot.double().numpy()
    # re-orthonormalise float32 products before they become quaternions
    u, _, vt = np.linalg.svd(rot64)
    rot64 = u @ vt
    return rot64, tr.detach().double().numpy(), pos.double().numpy()


TOE_JOINTS = (10, 11)  # SMPL left_foot, right_foot: leaves, no child fixes their rotation


def flatten_toes(local: np.ndarray, pos: np.ndarray, glob: np.ndarray, sole_below_joint: float,
                 full: float = 0.01, none: float = 0.04) -> np.ndarray:
    """Level the toe segments of feet on or near the ground.

    A position-based fit leaves SMPL's toe joints (leaves of the tree) at
    the ankle's orientation, so when the heel lifts the whole foot turns as one
    block and the front of the toe segment sinks into the floor (in a humanoid
    with a toe box 5 cm long, ~2 cm at 20 degrees of heel lift). A real foot
    bends at the ball. Each toe's global rotation is turned (minimal rotation)
    so its up axis is vertical, fully when the toe's sole point (``sole_below_joint``
    m below the joint) is under ``full`` m, not at all above ``none`` m,
    blended between. z is up in the world; SMPL's body up axis is y.
    ``pos`` (T, 24, 3) / ``glob`` (T, 24, 3, 3): the pose's joint positions and
    global rotations (FK of ``local``). Returns new local rotations (T, 24, 3, 3);
    the root and other joints are unchanged.
    """
    out = np.array(local, dtype=np.float64, copy=True)
    up = np.array([0.0, 0.0, 1.0])
    for j in TOE_JOINTS:
        g = glob[:, j]
        u = g[:, :, 1]  # the toe's up axis in the world
        h = pos[:, j, 2] - sole_below_joint
        w = np.clip((none - h) / (none - full), 0.0, 1.0)
        axis = np.cross(u, up)
        s = np.linalg.norm(axis, axis=-1)
        ang = np.arctan2(s, (u * up).sum(-1)) * w
        axis = axis / np.maximum(s, 1e-12)[:, None]
        turn = R.axis_angle_to_matrix(axis * ang[:, None])
        g_new = turn @ g
        out[:, j] = np.swapaxes(glob[:, SMPL_PARENTS[j]], -1, -2) @ g_new
    return out
