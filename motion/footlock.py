"""Foot locking: planted feet stay where they are planted (two-bone leg IK).

After smoothing, grounding and unsliding (:mod:`cleanup`), the feet of a
video estimate still wander while they stand: the rotation errors of root,
hip, knee and ankle add up along the leg, so a planted foot moves by about a
centimetre per frame (on the WHAM-artifact benchmark, the cleaned reference of
a clip that only stands and waves slides its feet by ~20 mm per frame, the
clean clip by ~1 mm). A tracking policy follows those targets and drags the
simulated feet over the floor.

Foot locking is the usual mocap clean-up step for it: each sole point (under
the ankle = heel, under the toe joint = ball of the foot, see
``metrics.sole_heights``) that is low and slow counts as planted; each run
of planted frames gets one anchor (its weighted mean position over the run,
at a low percentile of its heights, never under the floor); per frame, the
point's target is the original blended toward its anchor (fully inside the
run, fading out over ``blend_frames`` either side). The leg then reaches the
targets with the root fixed:

* the ankle joint goes to the heel target (raised by the sole offset), by
  analytic two-bone IK: the knee bends to the hip-ankle distance (law of
  cosines, in the leg's own bending plane), then the thigh swings the ankle
  onto the target. A target beyond the leg's reach is only approached (a
  straight leg would lift the whole foot off the floor): the ankle moves
  along the correction as far as ``reach`` x the leg's length;
* the foot turns by the smallest rotation that points its ankle -> toe bone
  from the heel target at the toe target, so a heel-strike or toe-off (one
  point planted) rolls about the planted point and a flat foot keeps its
  orientation.

Measured on the WHAM-artifact benchmark's 20 corrupted dataset-1 clips (docs/tracking.md):
the cleaned reference's skate falls from 23.8 to 14.1 mm per frame (clips
that stand: ~20 -> ~5 mm) at the same distance to the clean clip; clean mocap
moves by 3.8 mm.
"""

from __future__ import annotations

import numpy as np

from . import metrics as M
from . import rotations as R
from .clip import Motion

LEGS = ((1, 4, 7, 10), (2, 5, 8, 11))  # (hip, knee, ankle, toe) joints of the left and right leg


def point_contacts(pos: np.ndarray, scale: float, fps: float, height_m: tuple[float, float],
                   speed_m_s: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(T, 4) contact weights of the four sole points (``metrics.FOOT_JOINTS`` order) and their
    (T, 4, 3) positions. A point is planted when it is low and slow (central-difference speed)."""
    h = M.sole_heights(pos, scale)
    sole = pos[:, M.FOOT_JOINTS].copy()
    sole[..., 2] = h
    speed = np.linalg.norm(np.gradient(sole[..., :2], axis=0), axis=-1) * fps if len(pos) > 1 else np.zeros_like(h)
    return M.ramp_down(h, *height_m) * M.ramp_down(speed, *speed_m_s), sole


def lock_weights(w: np.ndarray, points: np.ndarray, blend_frames: int,
                 height_percentile: float = 25.0) -> tuple[np.ndarray, np.ndarray]:
    """For one sole point: contact weights (T,) and positions (T, 3) -> per frame the lock weight
    (T,) and the anchor (T, 3) of the run of planted frames it belongs to (weight >= 0.5). The
    anchor is the run's weighted mean position on the ground plane, at a low percentile of its
    heights (as ``cleanup.ground`` finds the floor; a mean would lift a foot that rocks), never
    below the floor."""
    t = len(w)
    alpha = np.zeros(t)
    anchor = points.copy()
    on = np.concatenate([[False], w >= 0.5, [False]])
    edges = np.flatnonzero(on[1:] != on[:-1])
    for s, e in zip(edges[::2], edges[1::2]):  # run s..e-1
        ws = w[s:e, None]
        a = (ws * points[s:e]).sum(0) / ws.sum()
        a[2] = max(0.0, float(np.percentile(points[s:e, 2], height_percentile)))
        lo, hi = max(0, s - blend_frames), min(t, e + blend_frames)
        frames = np.arange(lo, hi)
        dist = np.maximum(np.maximum(s - frames, frames - (e - 1)), 0)
        weight = 1.0 - dist / (blend_frames + 1.0)
        better = weight > alpha[lo:hi]
        alpha[lo:hi] = np.where(better, weight, alpha[lo:hi])
        anchor[lo:hi] = np.where(better[:, None], a, anchor[lo:hi])
    return alpha, anchor


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, target: np.ndarray,
                bend_axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotations (T, 3, 3) of the thigh (about the hip) and of the shin (about the knee, applied
    first) in the world frame that put the ankle on ``target`` (or as near as the leg reaches).
    ``bend_axis``: the knee's bending axis for a leg that is straight now."""
    l1 = np.linalg.norm(knee - hip, axis=-1)
    l2 = np.linalg.norm(ankle - knee, axis=-1)
    d = np.clip(np.linalg.norm(target - hip, axis=-1), np.abs(l1 - l2) + 1e-4, l1 + l2 - 1e-4)
    u, v = hip - knee, ankle - knee
    cos_now = (u * v).sum(-1) / np.maximum(l1 * l2, 1e-12)
    theta = np.arccos(np.clip(cos_now, -1.0, 1.0))
    theta_goal = np.arccos(np.clip((l1**2 + l2**2 - d**2) / np.maximum(2 * l1 * l2, 1e-12), -1.0, 1.0))
    n = np.cross(u, v)
    straight = np.linalg.norm(n, axis=-1) < 1e-6
    n = np.where(straight[:, None], bend_axis, n)
    bend = R.axis_rotation(n, theta_goal - theta)
    ankle_bent = knee + np.einsum("tij,tj->ti", bend, v)
    swing = R.min_rotation(ankle_bent - hip, target - hip)
    return swing, bend


def leg_len(p: np.ndarray, leg: tuple[int, ...]) -> np.ndarray:
    """(T,) thigh + shin length of ``leg`` (hip, knee, ankle, toe joints) from positions (T, 24, 3)."""
    hip, knee, ankle, _ = leg
    return np.linalg.norm(p[:, knee] - p[:, hip], axis=-1) + np.linalg.norm(p[:, ankle] - p[:, knee], axis=-1)


def within_reach(center: np.ndarray, start: np.ndarray, delta: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """The part ``s * delta`` (s in [0, 1], as large as possible) of the moves ``delta`` (T, 3) from
    ``start`` that stays within ``radius`` (T,) of ``center``; where ``start`` is farther out
    already, its own distance is the limit."""
    o = start - center
    radius = np.maximum(radius, np.linalg.norm(o, axis=-1))  # a leg that is out already may keep its stretch
    dd = (delta * delta).sum(-1)
    od = (o * delta).sum(-1)
    c = (o * o).sum(-1) - radius**2
    disc = np.maximum(od**2 - dd * c, 0.0)
    s = np.where(dd > 1e-12, (-od + np.sqrt(disc)) / np.maximum(dd, 1e-12), 1.0)
    s = np.clip(s, 0.0, 1.0)
    return s[:, None] * delta


def lock_feet(clip: Motion, height_m: tuple[float, float] = (0.03, 0.06),
              speed_m_s: tuple[float, float] = (0.8, 1.6), blend_frames: int = 2,
              reach: float = 1.005, height_percentile: float = 25.0) -> Motion:
    """The clip with its planted sole points held at their anchors (see the module text). A sole point
    is planted below the first height / speed and not at all above the second (linear between)."""
    if clip.num_frames < 2:
        return clip
    scale = M.body_scale_of(clip)
    pos, grot = clip.joints()
    w, sole = point_contacts(pos, scale, clip.fps, height_m, speed_m_s)
    lift = M.SOLE_OFFSET_M * scale  # joint height above its sole point
    rots = clip.rotmats().copy()
    for leg, (heel_i, toe_i) in zip(LEGS, M.FEET):
        hip, knee, ankle, toe = leg
        a_h, anchor_h = lock_weights(w[:, heel_i], sole[:, heel_i], blend_frames, height_percentile)
        a_t, anchor_t = lock_weights(w[:, toe_i], sole[:, toe_i], blend_frames, height_percentile)
        frames = np.flatnonzero((a_h > 0) | (a_t > 0))
        if frames.size == 0:
            continue
        p = pos[frames]
        heel_goal = sole[frames, heel_i] + a_h[frames, None] * (anchor_h[frames] - sole[frames, heel_i])
        toe_goal = sole[frames, toe_i] + a_t[frames, None] * (anchor_t[frames] - sole[frames, toe_i])
        ankle_goal = heel_goal + np.array([0.0, 0.0, lift[heel_i]])
        # the foot's direction from both goals; the ankle itself only as far as the leg reaches
        foot_dir = toe_goal + np.array([0.0, 0.0, lift[toe_i]]) - ankle_goal
        ankle_goal = p[:, ankle] + within_reach(p[:, hip], p[:, ankle], ankle_goal - p[:, ankle],
                                               reach * leg_len(p, leg))
        g_hip, g_knee, g_ankle = grot[frames, hip], grot[frames, knee], grot[frames, ankle]
        swing, bend = two_bone_ik(p[:, hip], p[:, knee], p[:, ankle], ankle_goal, g_knee[:, :, 0])
        g_knee_new = swing @ bend @ g_knee
        g_hip_new = swing @ g_hip
        turn = R.min_rotation(p[:, toe] - p[:, ankle], foot_dir)
        g_ankle_new = turn @ g_ankle
        g_parent = grot[frames, 0]  # the hips hang from the pelvis
        rots[frames, hip] = np.swapaxes(g_parent, -1, -2) @ g_hip_new
        rots[frames, knee] = np.swapaxes(g_hip_new, -1, -2) @ g_knee_new
        rots[frames, ankle] = np.swapaxes(g_knee_new, -1, -2) @ g_ankle_new
    q = R.quat_fix_continuity(R.matrix_to_quat(rots), axis=0)
    return clip.copy(rotations=q)
