"""What a retargeted clip measures, per clip and in totals.

Per clip (lengths in mm, the definitions of ``motion.metrics`` carried over to the robot):

* ``keypoint_error_mm``: mean distance of the targeted robot points (position weight > 0) to the scaled
  human keypoints the IK followed.
* ``joint_limit_violations``: (frame, joint) pairs outside the MJCF joint range (must be 0).
* ``velocity_limit_violations``: (frame step, joint) pairs whose speed exceeds the description's limit.
* ``skate_mm``: mean over frame pairs of the horizontal motion of the sole points in contact (below
  ``CONTACT_HEIGHT_M``) in both frames, the largest per foot, summed over the feet; ``human_skate_mm`` is
  the source clip's by ``motion.metrics.skate_mm``. ``planted_skate_mm`` counts only the frame pairs
  where the human foot is planted (``retarget.scaling``: the feet the retargeting holds), against
  ``human_planted_skate_mm``, the human's ankle and toe motion over the same pairs. A human foot that
  slides on the floor is followed, so ``skate_mm`` carries the source's sliding over.
  The two contact rules differ: the robot's counts every sole point below the contact height (a tilted
  foot's edge, a sole corner in the swing), the human's the ankle and toe joints by a level-foot proxy.
  ``human_sole_skate_mm`` measures the human by the robot's rule (the corners of the human's posed foot
  and toe boxes, ``motion.body_shape``), and ``contact_skate_mm`` the robot over the frame pairs where
  the human foot is in contact by the human's rule: the like-for-like pairs are ``skate_mm`` against
  ``human_sole_skate_mm`` and ``contact_skate_mm`` against ``human_skate_mm``.
* ``penetration_mm`` / ``float_mm``: mean over frames of the robot's lowest collision point below / above
  the floor beyond the 5 mm tolerance (``human_*``: the source clip's).
* ``self_collision_frames``: share of frames where the robot's own geoms penetrate.
* ``collision_relaxed_frames``: frames where separating the penetrating geoms was infeasible with the
  other limits, solved without the collision limit.
* ``joint_jerk``: mean |third difference| of the joint positions times fps^3, rad/s^3.
* ``frames_per_s``: frames retargeted per second of IK (one core).
"""

from __future__ import annotations

import numpy as np

from motionlib.motion.body_shape import box_corners
from motionlib.motion.metrics import (CONTACT_HEIGHT_M, TOLERANCE_M, body_scale_of, float_mm, penetration_mm,
                                      plausibility, skate_mm, sole_heights)
from motionlib.motion.skeleton import FOOT_JOINTS

from .ik import RetargetResult
from .robot_model import RobotModel
from .scaling import FOOT_SMPL, SIDES

LIMIT_TOL = 1e-6  # rad: a joint this far past its range counts as a violation

# the totals: mean over clips, except these (summed)
SUMMED = ("frames", "joint_limit_violations", "velocity_limit_violations", "collision_relaxed_frames")


def clip_report(robot: RobotModel, result: RetargetResult, motion) -> dict:
    q = result.qpos
    T = len(q)
    desc = robot.desc
    targeted = [k for k, t in enumerate(desc.targets) if t.position_weight > 0]
    sites = [robot.model.site(desc.targets[k].site).id for k in targeted]
    err = np.zeros(T)
    low = np.zeros(T)
    contacts = np.zeros(T, dtype=bool)
    soles = {side: np.zeros((T,) + robot.soles[side].local.shape) for side in SIDES}
    for f in range(T):
        robot.set_qpos(q[f])
        err[f] = np.linalg.norm(robot.data.site_xpos[sites] - result.targets.pos[f, targeted], axis=1).mean()
        low[f] = robot.lowest_point()
        for side in SIDES:
            soles[side][f] = robot.sole_world(side)
        contacts[f] = robot.self_contacts() > 0
    jp = q[:, robot.joint_qpos]
    lo, hi = robot.joint_range.T
    speed = np.abs(np.diff(jp, axis=0)) * result.fps
    human = plausibility(motion)
    jerk = np.abs(np.diff(jp, n=3, axis=0)).mean() * result.fps ** 3 if T >= 4 else 0.0
    return {
        "frames": T,
        "keypoint_error_mm": float(err.mean() * 1000.0),
        "joint_limit_violations": int(((jp < lo - LIMIT_TOL) | (jp > hi + LIMIT_TOL)).sum()),
        "velocity_limit_violations": int((speed > desc.velocity_limit * (1 + 1e-6) + 1e-9).sum()),
        "skate_mm": robot_skate_mm(soles),
        "planted_skate_mm": robot_skate_mm(soles, planted=result.targets.planted),
        "human_planted_skate_mm": human_planted_skate_mm(result.targets.human_pos, result.targets.planted),
        "human_skate_mm": skate_mm(result.targets.human_pos, result.targets.human_scale),
        "human_sole_skate_mm": human_sole_skate_mm(motion),
        "contact_skate_mm": robot_skate_mm(soles, planted=human_contacts(result.targets.human_pos,
                                                                         result.targets.human_scale)),
        "penetration_mm": penetration_mm(low[:, None], TOLERANCE_M),
        "float_mm": float_mm(low[:, None], TOLERANCE_M),
        "human_penetration_mm": human["penetration_mm"],
        "human_float_mm": human["float_mm"],
        "self_collision_frames": float(contacts.mean()),
        "joint_jerk": float(jerk),
        "collision_relaxed_frames": int(result.relaxed_frames),
        "frames_per_s": float(T / max(result.seconds, 1e-9)),
    }


def robot_skate_mm(soles: dict[str, np.ndarray], contact_height: float = CONTACT_HEIGHT_M,
                   planted: dict[str, np.ndarray] | None = None) -> float:
    """``soles``: side -> (T, P, 3) world sole points. The robot's ``motion.metrics.skate_mm``; with
    ``planted`` (side -> (T,) bool), only over the frame pairs where that human foot is planted."""
    total = 0.0
    for side, p in soles.items():
        on = (p[:-1, :, 2] < contact_height) & (p[1:, :, 2] < contact_height)
        disp = np.linalg.norm(p[1:, :, :2] - p[:-1, :, :2], axis=-1)
        per_foot = (disp * on).max(axis=1)
        if planted is not None:
            per_foot = per_foot * (planted[side][:-1] & planted[side][1:])
        total = total + per_foot
    return float(np.mean(total) * 1000.0)


def human_contacts(pos: np.ndarray, scale: float, contact_height: float = CONTACT_HEIGHT_M) -> dict[str, np.ndarray]:
    """side -> (T,) bool: the human foot's ankle or toe in contact by ``motion.metrics.skate_mm``'s rule
    (level-foot sole height below ``contact_height``)."""
    h = sole_heights(pos, scale)
    return {side: (h[:, [FOOT_JOINTS.index(j) for j in joints]] < contact_height).any(axis=1)
            for side, joints in FOOT_SMPL.items()}


def human_sole_skate_mm(motion) -> float:
    """The human's skate by the robot's contact rule: :func:`robot_skate_mm` of the corners of the posed
    foot (ankle) and toe boxes of each foot."""
    pos, glob = motion.joints()
    scale = body_scale_of(motion)
    return robot_skate_mm({side: box_corners(pos, glob, joints, scale) for side, joints in FOOT_SMPL.items()})


def human_planted_skate_mm(pos: np.ndarray, planted: dict[str, np.ndarray]) -> float:
    """The human's skate over the same frame pairs: horizontal motion of the foot's ankle and toe joints
    (the larger), while the foot is planted in both frames, summed over the feet."""
    total = 0.0
    for side, joints in FOOT_SMPL.items():
        disp = np.linalg.norm(pos[1:, list(joints), :2] - pos[:-1, list(joints), :2], axis=-1).max(axis=1)
        total = total + disp * (planted[side][:-1] & planted[side][1:])
    return float(np.mean(total) * 1000.0)


def totals(reports: list[dict]) -> dict:
    """Means over clips (frame-weighted for frames_per_s), sums for the counts."""
    if not reports:
        return {}
    out = {}
    for key in reports[0]:
        vals = np.array([r[key] for r in reports], dtype=np.float64)
        out[key] = float(vals.sum()) if key in SUMMED else float(vals.mean())
    frames = sum(r["frames"] for r in reports)
    seconds = sum(r["frames"] / max(r["frames_per_s"], 1e-9) for r in reports)
    out["frames_per_s"] = frames / max(seconds, 1e-9)
    out["clips"] = len(reports)
    out["self_collision_frames"] = float(sum(r["self_collision_frames"] * r["frames"] for r in reports) / frames)
    for key in SUMMED:
        out[key] = int(out[key])
    return out
