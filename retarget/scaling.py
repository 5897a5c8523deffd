"""The human's keypoints scaled to the robot's proportions: the IK's targets, frame by frame.

* **Per-segment scale**: each target's position is rebuilt from its nearest targeted SMPL ancestor,
  ``p'_j = p'_a + s_j (p_j - p_a)``, where ``s_j`` is the robot's distance between the two target points
  over the human's between the two joints, both in their rest poses (the robot's zero pose, SMPL's zero
  pose of the clip's own skeleton); a description's ``scale`` overrides it. The root (pelvis) is scaled
  as a whole, ``p'_root = s_root p_root``, with ``s_root`` the robot's standing root height over the
  human's (ground z = 0), so strides shrink with the legs.
* **Orientations** of the targets that have them: the SMPL joint's world rotation carried onto the body
  with the rest-pose offset, ``R_body = R_joint R_joint,rest^T R_body,zero``.
* **Feet**: a target on a foot body following an ankle or toe joint gets, as its height, the target
  point's height above the sole in the robot's zero pose plus the human sole's height under that joint
  (``motion.metrics.sole_heights``), so a planted human foot is a robot foot on the floor. The joint is
  *planted* in a frame when that sole height is below the contact height
  (``motion.metrics.CONTACT_HEIGHT_M``, as the skate metric has it) and the joint moves slower than
  ``PLANT_SPEED_M_S`` horizontally (a human foot sliding faster is not held: pinning it would pull the
  foot apart from the rest of the body); over each run of planted frames
  the target's horizontal position is held at the run's mean (:func:`pin_planted`), so a heel or a toe
  on the floor does not slide; a foot is planted when its ankle or its toe is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionlib.motion.clip import Motion
from motionlib.motion.fk import fk
from motionlib.motion.metrics import CONTACT_HEIGHT_M, body_scale_of, sole_heights
from motionlib.motion.skeleton import FOOT_JOINTS, SMPL_PARENTS, SMPL_TO_ZUP

from .robot_model import RobotModel

FOOT_SMPL = {"left": (7, 10), "right": (8, 11)}  # (ankle, toe) SMPL joints
SIDES = ("left", "right")
PLANT_SPEED_M_S = 0.3  # a sole point in contact but moving faster than this is sliding, not planted


@dataclass
class Targets:
    pos: np.ndarray  # (T, K, 3) target positions of the description's targets
    rot: np.ndarray  # (T, K, 3, 3)
    planted: dict[str, np.ndarray]  # side -> (T,) bool
    scales: np.ndarray  # (K,) per-target segment scale (root: s_root)
    human_pos: np.ndarray  # (T, 24, 3) the human joints (world)
    human_scale: float  # the clip's body scale (for the human metrics)


def _rest_joints(motion: Motion) -> np.ndarray:
    """(24, 3) world joints of the clip's skeleton in SMPL's zero pose, upright, pelvis at the origin."""
    rot = np.tile(np.eye(3), (1, 24, 1, 1))
    rot[0, 0] = SMPL_TO_ZUP
    return fk(rot, np.zeros((1, 3)), motion.skeleton().offsets)[0][0]


def _ancestor(j: int, chain: set[int]) -> int:
    a = SMPL_PARENTS[j]
    while a >= 0 and a not in chain:
        a = SMPL_PARENTS[a]
    return a


def robot_targets(robot: RobotModel, motion: Motion) -> Targets:
    desc = robot.desc
    m, d = robot.model, robot.data
    targets = desc.targets
    idx = [t.smpl_index for t in targets]
    if 0 not in idx:
        raise ValueError(f"{desc.path}: a target must follow the SMPL pelvis (the root)")
    pos_h, rot_h = motion.joints()
    rest_h = _rest_joints(motion)
    human_scale = body_scale_of(motion)
    # the human's rest pelvis height above its soles; the robot's root height above its soles, zero pose
    rest_sole = sole_heights(rest_h[None], human_scale)[0].min()
    robot.set_qpos(robot.qpos_zero)
    site_pos0 = {t.smpl_index: d.site_xpos[m.site(t.site).id].copy() for t in targets}
    site_rot0 = {t.smpl_index: d.site_xmat[m.site(t.site).id].reshape(3, 3).copy() for t in targets}
    robot_root_height = site_pos0[0][2] - robot.lowest_sole()
    s_root = robot_root_height / (rest_h[0, 2] - rest_sole)

    chain = {t.smpl_index for t in targets if t.position_weight > 0} | {0}
    order = sorted(range(len(targets)), key=lambda k: idx[k])  # SMPL indices: parents before children
    T = motion.num_frames
    pos = np.zeros((T, len(targets), 3))
    rot = np.zeros((T, len(targets), 3, 3))
    scales = np.zeros(len(targets))
    placed: dict[int, np.ndarray] = {}
    for k in order:
        t, j = targets[k], idx[k]
        if j == 0:
            s, p = s_root, s_root * pos_h[:, 0]
        else:
            a = _ancestor(j, chain)
            human_len = np.linalg.norm(rest_h[j] - rest_h[a])
            s = t.scale if t.scale is not None else float(np.linalg.norm(site_pos0[j] - site_pos0[a]) /
                                                          max(human_len, 1e-6))
            p = placed[a] + s * (pos_h[:, j] - pos_h[:, a])
        placed[j] = p
        pos[:, k], scales[k] = p, s
        rot[:, k] = rot_h[:, j] @ SMPL_TO_ZUP.T @ site_rot0[j]

    soles = sole_heights(pos_h, human_scale)  # (T, 4): FOOT_JOINTS order, left/right ankle, left/right toe
    robot.set_qpos(robot.qpos_zero)
    floor = robot.lowest_sole()
    speed = np.linalg.norm(np.gradient(pos_h[..., :2], axis=0), axis=-1) * motion.fps  # (T, 24) horizontal
    planted = {}
    for side in SIDES:
        foot_planted = np.zeros(T, dtype=bool)
        for joint in FOOT_SMPL[side]:
            contact = (soles[:, FOOT_JOINTS.index(joint)] < CONTACT_HEIGHT_M) & (speed[:, joint] < PLANT_SPEED_M_S)
            for k in range(len(targets)):
                site = m.site(targets[k].site).id
                if idx[k] != joint or m.site_bodyid[site] != robot.feet[side]:
                    continue
                pos[:, k, 2] = site_pos0[joint][2] - floor + np.maximum(soles[:, FOOT_JOINTS.index(joint)], 0.0)
                pos[:, k, :2] = pin_planted(pos[:, k, :2], contact)
                foot_planted |= contact
        planted[side] = foot_planted
    return Targets(pos=pos, rot=rot, planted=planted, scales=scales, human_pos=pos_h, human_scale=human_scale)


def pin_planted(xy: np.ndarray, planted: np.ndarray) -> np.ndarray:
    """Hold ``xy`` (T, 2) still over each run of planted frames (at the run's mean) and carry the
    correction smoothly through the frames between runs (linear in time), so the path has no jumps."""
    if not planted.any():
        return xy
    offset = np.zeros_like(xy)
    for a, b in _runs(planted):
        offset[a:b] = xy[a:b].mean(axis=0) - xy[a:b]
    frames = np.arange(len(xy))
    known = np.flatnonzero(planted)
    for c in range(xy.shape[1]):
        offset[~planted, c] = np.interp(frames[~planted], known, offset[known, c])
    return xy + offset


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


