"""A procedural walking clip (SMPL joint rotations, feet on the ground) used by
the render/info tests and for looking at rendered frames."""

from __future__ import annotations

import numpy as np


def make_walking_clip(seconds: float = 2.0, fps: float = 30.0, speed: float = 1.1, cadence_hz: float = 0.9):
    """An upright body walking along +x: hips swing in antiphase, the swing
    knee bends, arms hang and swing opposite to the legs; the pelvis height
    is set per frame so the body's lowest point (metrics.ground_heights, the posed
    collision shapes) touches z = 0."""
    from motionlib.motion import Motion
    from motionlib.motion import rotations as R
    from motionlib.motion.skeleton import FOOT_JOINTS, SMPL_TO_ZUP

    n = int(round(seconds * fps)) + 1
    t = np.arange(n) / fps
    ph = 2 * np.pi * cadence_hz * t
    aa = np.zeros((n, 24, 3))
    # SMPL body frame: x left, y up, z forward; -x rotation swings a leg forward.
    aa[:, 1, 0] = -0.45 * np.sin(ph)          # left hip
    aa[:, 2, 0] = 0.45 * np.sin(ph)           # right hip
    aa[:, 4, 0] = 0.1 + 0.75 * np.clip(np.cos(ph), 0, None) ** 2   # left knee bends in swing
    aa[:, 5, 0] = 0.1 + 0.75 * np.clip(-np.cos(ph), 0, None) ** 2  # right knee
    aa[:, 7, 0] = -0.15 * np.sin(ph)          # ankles follow a little
    aa[:, 8, 0] = 0.15 * np.sin(ph)
    q = R.axis_angle_to_quat(aa)
    down_l, down_r = R.axis_angle_to_matrix(np.array([0, 0, -1.25])), R.axis_angle_to_matrix(np.array([0, 0, 1.25]))
    sw = 0.35 * np.sin(ph)
    q[:, 16] = R.matrix_to_quat(R.axis_angle_to_matrix(np.stack([sw, 0 * sw, 0 * sw], -1)) @ down_l)
    q[:, 17] = R.matrix_to_quat(R.axis_angle_to_matrix(np.stack([-sw, 0 * sw, 0 * sw], -1)) @ down_r)
    q[:, 18] = R.axis_angle_to_quat(np.stack([0 * sw, -0.3 - 0.1 * np.sin(ph), 0 * sw], -1))
    q[:, 19] = R.axis_angle_to_quat(np.stack([0 * sw, 0.3 - 0.1 * np.sin(ph), 0 * sw], -1))
    q[:, 0] = R.matrix_to_quat(np.broadcast_to(SMPL_TO_ZUP, (n, 3, 3)))
    trans = np.stack([speed * t, np.zeros(n), np.zeros(n)], -1)
    clip = Motion(fps, trans, q, meta={"source": "procedural_walk"})
    from motionlib.motion.metrics import ground_heights

    trans[:, 2] = -ground_heights(*clip.joints()).min(axis=1)
    return clip.copy(trans=trans)
