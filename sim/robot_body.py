"""An MJCF robot as a tracking body (``sim.body``), and its reference from a robot clip.

The robot is built from its MJCF and a :class:`RobotBodySpec` handed in (``retarget.description``
turns a robot's JSON description into one; ``sim`` never reads those files itself):

* the model gets a floor, the physics timestep of the tracking configuration and the implicitfast
  integrator; the description's contact exclusions (neighbouring links whose hulls overlap);
* every actuated joint gets a position actuator (replacing the MJCF's motors) with the spec's PD gains,
  no control range and its effort limit as force range: MuJoCo applies ``kp (target - q) - kd qdot``
  clipped to the effort limit at every physics step, as an implicit PD actuator does;
* the model's sensors are replaced by the body-state sensors of the tracked bodies (the reward's
  bodies; the root first, the anchor of the robot's terms), in the layout of ``sim.body_planes``.

A robot clip (the BeyondMimic / mjlab layout that ``retarget.robot_clip`` writes: ``joint_pos``,
``root_pos``/``root_quat``, ``body_pos_w``, ``body_quat_w``, ``body_lin_vel_w``, ``body_ang_vel_w``) becomes
a :class:`~motionlib.sim.reference.ReferenceClip` with :meth:`MjcfRobotBody.reference_clip`: the
tracked bodies picked by name, the joints by name into the model's qpos, resampled to the control rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from motionlib.motion import rotations as R

from .body import SimBody
from .reference import ReferenceClip, ReferenceLibrary
from .tracking_config import TrackingConfig

SENSOR_KINDS = ("framepos", "framequat", "framelinvel", "frameangvel")  # the blocks of sim.body_planes


@dataclass(frozen=True)
class RobotBodySpec:
    """What ``sim`` needs to know of a robot beyond its MJCF. ``joint_names``: the actuated joints
    (each MJCF actuator's joint, in actuator order); ``kp``/``kd``/``effort_limit`` per joint (N m / rad,
    N m s / rad, N m); ``default_pose`` (rad) per joint; ``tracked_bodies``: the bodies the reward
    looks at, ``root_body`` first; ``feet``: the bodies that stand on the floor; ``contact_exclusions``:
    body pairs whose contacts the model ignores."""

    name: str
    mjcf: str
    root_body: str
    joint_names: tuple[str, ...]
    kp: tuple[float, ...]
    kd: tuple[float, ...]
    effort_limit: tuple[float, ...]
    default_pose: tuple[float, ...]
    tracked_bodies: tuple[str, ...]
    feet: tuple[str, ...] = ()
    contact_exclusions: tuple[tuple[str, str], ...] = ()


class MjcfRobotBody(SimBody):
    """An MJCF robot (see the module text); errors name the MJCF and what it lacks."""

    kind = "mjcf_robot"
    terms = "mjcf_robot"

    def __init__(self, spec: RobotBodySpec, integrator: str = "implicitfast"):
        self.spec = spec
        self.integrator = integrator
        n = len(spec.joint_names)
        if not (len(spec.kp) == len(spec.kd) == len(spec.effort_limit) == len(spec.default_pose) == n):
            raise ValueError(f"robot {spec.name!r}: kp, kd, effort_limit and default_pose need one value per "
                             f"actuated joint ({n})")
        if not spec.tracked_bodies or spec.tracked_bodies[0] != spec.root_body:
            raise ValueError(f"robot {spec.name!r}: the tracked bodies must start with the root body {spec.root_body!r}")
        if len(set(spec.tracked_bodies)) != len(spec.tracked_bodies):
            raise ValueError(f"robot {spec.name!r}: a tracked body is named twice")
        m = self._mjspec(1.0 / 120.0).compile()  # validates the names against the MJCF
        self.joint_qpos = np.array([m.jnt_qposadr[m.joint(j).id] for j in spec.joint_names])
        self.joint_dof = np.array([m.jnt_dofadr[m.joint(j).id] for j in spec.joint_names])
        self.nq, self.nv = m.nq, m.nv

    @property
    def num_bodies(self) -> int:
        return len(self.spec.tracked_bodies)

    def record(self) -> dict:
        return {"kind": self.kind, "robot": self.spec.name}

    # ------------------------------------------------------------------ the model
    def _mjspec(self, timestep: float) -> mujoco.MjSpec:
        spec = self.spec
        mjcf = Path(spec.mjcf)
        try:
            s = mujoco.MjSpec.from_file(str(mjcf))
        except (ValueError, OSError) as e:
            raise ValueError(f"cannot load the robot MJCF {mjcf} ({e})") from None
        bodies = {b.name for b in s.bodies}
        for b in (spec.root_body, *spec.tracked_bodies, *spec.feet, *(n for p in spec.contact_exclusions for n in p)):
            if b not in bodies:
                raise ValueError(f"robot {spec.name!r} names body {b!r}, which the MJCF {mjcf} lacks")
        joints = {j.name for j in s.joints}
        for j in spec.joint_names:
            if j not in joints:
                raise ValueError(f"robot {spec.name!r} names joint {j!r}, which the MJCF {mjcf} lacks")
        free = [j for j in s.joints if j.type == mujoco.mjtJoint.mjJNT_FREE]
        if len(free) != 1 or free[0].parent.name != spec.root_body:
            raise ValueError(f"{mjcf}: the root body {spec.root_body!r} must carry the model's one free joint")
        s.option.timestep = float(timestep)
        s.option.integrator = {"implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
                               "implicit": mujoco.mjtIntegrator.mjINT_IMPLICIT,
                               "euler": mujoco.mjtIntegrator.mjINT_EULER}[self.integrator]
        for a, b in spec.contact_exclusions:
            s.add_exclude(bodyname1=a, bodyname2=b)
        for a in list(s.actuators):
            s.delete(a)
        for j, kp, kd, eff in zip(spec.joint_names, spec.kp, spec.kd, spec.effort_limit):
            a = s.add_actuator(name=j, target=j, trntype=mujoco.mjtTrn.mjTRN_JOINT)
            if eff <= 0:  # a joint without torque (H1's placeholder joint): an actuator that applies none
                kp = kd = 0.0
            a.set_to_position(kp=float(kp), kv=float(kd))
            a.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
            a.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE if eff > 0 else mujoco.mjtLimited.mjLIMITED_FALSE
            if eff > 0:
                a.forcerange = [-float(eff), float(eff)]
        for sensor in list(s.sensors):
            s.delete(sensor)
        kinds = {"framepos": mujoco.mjtSensor.mjSENS_FRAMEPOS, "framequat": mujoco.mjtSensor.mjSENS_FRAMEQUAT,
                 "framelinvel": mujoco.mjtSensor.mjSENS_FRAMELINVEL, "frameangvel": mujoco.mjtSensor.mjSENS_FRAMEANGVEL}
        for kind in SENSOR_KINDS:
            for b in spec.tracked_bodies:
                s.add_sensor(name=f"{b}_{kind}", type=kinds[kind], objtype=mujoco.mjtObj.mjOBJ_XBODY, objname=b)
        s.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05])
        return s

    def model(self, timestep: float = 1.0 / 120.0) -> mujoco.MjModel:
        """The robot's tracking model at ``timestep``."""
        return self._mjspec(timestep).compile()

    def build_models(self, ref: ReferenceLibrary, cfg: TrackingConfig) -> list[mujoco.MjModel]:
        return [self.model(1.0 / (cfg.control_fps * cfg.substeps))]

    def standing_qpos(self, model: mujoco.MjModel, clearance: float = 0.0) -> np.ndarray:
        """qpos of the standing pose (the spec's default pose), the root raised or lowered until the
        lowest collision geom is ``clearance`` above the floor."""
        q = model.qpos0.copy()
        q[self.joint_qpos] = self.spec.default_pose
        q[2] -= _lowest_point(model, q) - clearance
        return q

    # ------------------------------------------------------------------ the reference
    def reference_clip(self, fps: float, control_fps: float, joint_names: list[str], joint_pos: np.ndarray,
                       root_pos: np.ndarray, root_quat: np.ndarray, body_names: list[str], body_pos_w: np.ndarray,
                       body_quat_w: np.ndarray, body_lin_vel_w: np.ndarray, body_ang_vel_w: np.ndarray,
                       name: str = "") -> ReferenceClip:
        """A robot clip's arrays (the BeyondMimic layout, see the module text) as a reference clip at
        ``control_fps``; a joint or tracked body the clip lacks is a ValueError naming it."""
        cols = []
        for j in self.spec.joint_names:
            if j not in joint_names:
                raise ValueError(f"robot clip {name!r} lacks joint {j!r} of robot {self.spec.name!r}")
            cols.append(joint_names.index(j))
        bodies = []
        for b in self.spec.tracked_bodies:
            if b not in body_names:
                raise ValueError(f"robot clip {name!r} lacks body {b!r} of robot {self.spec.name!r}")
            bodies.append(body_names.index(b))
        jp = np.asarray(joint_pos, dtype=np.float64)[:, cols]
        pos, quat = np.asarray(body_pos_w)[:, bodies], R.quat_fix_continuity(np.asarray(body_quat_w)[:, bodies], axis=0)
        lin, ang = np.asarray(body_lin_vel_w)[:, bodies], np.asarray(body_ang_vel_w)[:, bodies]
        rp, rq = np.asarray(root_pos, dtype=np.float64), R.quat_fix_continuity(np.asarray(root_quat), axis=0)
        if abs(fps - control_fps) > 1e-9:
            jp, pos, lin, ang, rp = (_resample(a, fps, control_fps) for a in (jp, pos, lin, ang, rp))
            quat, rq = _resample(quat, fps, control_fps, unit=True), _resample(rq, fps, control_fps, unit=True)
        T = len(jp)
        qpos = np.zeros((T, self.nq))
        qpos[:, 0:3], qpos[:, 3:7] = rp, rq
        qpos[:, self.joint_qpos] = jp
        qvel = np.zeros((T, self.nv))
        qvel[:, 0:3] = lin[:, 0]  # the root is tracked body 0: world linear velocity
        # MuJoCo's free joint takes the angular velocity in the body frame
        qvel[:, 3:6] = np.einsum("tji,tj->ti", R.quat_to_matrix(rq), ang[:, 0])
        qvel[:, self.joint_dof] = np.gradient(jp, 1.0 / control_fps, axis=0) if T > 1 else 0.0
        return ReferenceClip(qpos=qpos, qvel=qvel, pos=pos, quat=quat, lin=lin, ang=ang, name=name)


def _lowest_point(model: mujoco.MjModel, qpos: np.ndarray) -> float:
    """Height of the lowest point of the robot's collision geoms at ``qpos`` (distance to the floor)."""
    d = mujoco.MjData(model)
    d.qpos[:] = qpos
    mujoco.mj_kinematics(model, d)
    floor = model.geom("floor").id
    best = np.inf
    for g in range(model.ngeom):
        if g == floor or not (model.geom_contype[g] or model.geom_conaffinity[g]):
            continue
        dist = mujoco.mj_geomDistance(model, d, floor, g, 10.0, None)
        best = min(best, dist)
    return float(best)


def _resample(a: np.ndarray, fps: float, new_fps: float, unit: bool = False) -> np.ndarray:
    """Frames of ``a`` (T, ...) at ``fps`` linearly interpolated to ``new_fps`` (quaternions renormalised
    with ``unit``)."""
    T = len(a)
    t = np.arange(int(np.floor((T - 1) * new_fps / fps + 1e-9)) + 1) * fps / new_fps
    i0 = np.clip(np.floor(t).astype(int), 0, T - 1)
    i1 = np.minimum(i0 + 1, T - 1)
    w = (t - i0).reshape((-1,) + (1,) * (a.ndim - 1))
    out = (1 - w) * a[i0] + w * a[i1]
    return out / np.linalg.norm(out, axis=-1, keepdims=True) if unit else out
