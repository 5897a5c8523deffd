"""The robot clip: joint and body states of a robot over time, in the BeyondMimic / mjlab layout.

An ``.npz`` (no pickles; loads with ``allow_pickle=False``) with

* ``fps`` (scalar), ``joint_names`` (J,) in MJCF actuator order, ``joint_pos`` / ``joint_vel`` (T, J),
* ``body_names`` (B,) every body of the robot but the world, in model order; ``body_pos_w`` (T, B, 3),
  ``body_quat_w`` (T, B, 4, w x y z), ``body_lin_vel_w`` / ``body_ang_vel_w`` (T, B, 3), world frame,
* ``root_pos`` (T, 3), ``root_quat`` (T, 4, w x y z): the floating base (also body 0 of the bodies),
* ``robot`` (the description's name), ``format`` = "motionlib.robot_clip", ``version`` = 1,
  ``meta_json`` (the source clip's meta as a JSON string).

Velocities are central finite differences (one-sided at the ends); angular velocities come from the
relative rotation of neighbouring frames. :func:`to_csv` writes the GMR / BeyondMimic CSV: one row per
frame, root x y z, root quaternion x y z w, then the joint positions.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionlib.motion import rotations as R
from motionlib.motion.atomic import atomic_path
from motionlib.motion.io import read_versioned_npz, write_npz_atomic

from .robot_model import RobotModel

FORMAT = "motionlib.robot_clip"
VERSION = 1


@dataclass
class RobotClip:
    robot: str
    fps: float
    joint_names: list[str]
    joint_pos: np.ndarray
    joint_vel: np.ndarray
    body_names: list[str]
    body_pos_w: np.ndarray
    body_quat_w: np.ndarray
    body_lin_vel_w: np.ndarray
    body_ang_vel_w: np.ndarray
    root_pos: np.ndarray
    root_quat: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.joint_pos.shape[0])


def _diff(x: np.ndarray, fps: float) -> np.ndarray:
    return np.gradient(x, 1.0 / fps, axis=0) if len(x) > 1 else np.zeros_like(x)


def angular_velocity(quat: np.ndarray, fps: float) -> np.ndarray:
    """(T, ..., 3) world angular velocity of (T, ..., 4) wxyz rotations: the rotation vector of
    ``q[t+1] q[t]^-1`` times fps, averaged over the two neighbouring steps."""
    if len(quat) < 2:
        return np.zeros(quat.shape[:-1] + (3,))
    rel = R.quat_mul(quat[1:], R.quat_conj(quat[:-1]))
    w = R.quat_to_axis_angle(R.quat_canonical(rel)) * fps  # (T-1, ..., 3) per step
    out = np.zeros(quat.shape[:-1] + (3,))
    out[0], out[-1] = w[0], w[-1]
    out[1:-1] = 0.5 * (w[1:] + w[:-1])
    return out


def from_qpos(robot: RobotModel, qpos: np.ndarray, fps: float, meta: dict | None = None) -> RobotClip:
    """The robot clip of a ``qpos`` trajectory (T, nq): forward kinematics of every frame."""
    T = len(qpos)
    nb = robot.model.nbody - 1
    pos = np.zeros((T, nb, 3))
    quat = np.zeros((T, nb, 4))
    for f in range(T):
        robot.set_qpos(qpos[f])
        pos[f] = robot.data.xpos[1:]
        quat[f] = robot.data.xquat[1:]
    quat = R.quat_fix_continuity(quat, axis=0)
    r = robot.root_qpos
    joint_pos = qpos[:, robot.joint_qpos]
    return RobotClip(robot=robot.desc.name, fps=float(fps), joint_names=list(robot.desc.joint_names),
                     joint_pos=joint_pos, joint_vel=_diff(joint_pos, fps), body_names=list(robot.body_names),
                     body_pos_w=pos, body_quat_w=quat, body_lin_vel_w=_diff(pos, fps),
                     body_ang_vel_w=angular_velocity(quat, fps), root_pos=qpos[:, r:r + 3].copy(),
                     root_quat=qpos[:, r + 3:r + 7].copy(), meta=dict(meta or {}))


def save_robot_clip(clip: RobotClip, path: str | os.PathLike) -> Path:
    """Write ``clip`` to ``path`` atomically."""
    arrays = {"format": np.array(FORMAT), "version": np.array(VERSION), "robot": np.array(clip.robot),
              "fps": np.array(clip.fps), "joint_names": np.array(clip.joint_names),
              "body_names": np.array(clip.body_names), "meta_json": np.array(json.dumps(clip.meta, default=str))}
    for key in ("joint_pos", "joint_vel", "body_pos_w", "body_quat_w", "body_lin_vel_w", "body_ang_vel_w",
                "root_pos", "root_quat"):
        arrays[key] = np.asarray(getattr(clip, key), dtype=np.float32)
    return write_npz_atomic(path, arrays)


def load_robot_clip(path: str | os.PathLike) -> RobotClip:
    """Read a robot clip (no pickles); errors name the file."""
    from motionlib.motion.errors import MotionError

    data = read_versioned_npz(path, FORMAT, VERSION, "robot clip")
    try:
        meta = json.loads(str(data["meta_json"]))
        return RobotClip(robot=str(data["robot"]), fps=float(data["fps"]),
                         joint_names=[str(n) for n in data["joint_names"]],
                         body_names=[str(n) for n in data["body_names"]],
                         meta=meta, **{k: data[k].astype(np.float64) for k in
                                       ("joint_pos", "joint_vel", "body_pos_w", "body_quat_w", "body_lin_vel_w",
                                        "body_ang_vel_w", "root_pos", "root_quat")})
    except (KeyError, json.JSONDecodeError) as e:
        raise MotionError(f"robot clip lacks or garbles {e}", str(path)) from None


def to_csv(clip: RobotClip, path: str | os.PathLike) -> Path:
    """GMR / BeyondMimic CSV, atomically: root x y z, root quaternion x y z w, joint positions."""
    rows = np.concatenate([clip.root_pos, clip.root_quat[:, [1, 2, 3, 0]], clip.joint_pos], axis=1)
    path = Path(path)
    with atomic_path(path) as tmp:
        np.savetxt(tmp, rows, delimiter=",", fmt="%.6f")
    return path
