"""Retargeting by differential IK over a whole clip (mink on MuJoCo).

Per frame, starting from the previous frame's solution (warm start):

* **tasks**: one ``mink.FrameTask`` per description target (a site on the robot body) toward the scaled
  human keypoint and, where the description weights it, the carried-over joint orientation
  (``retarget.scaling``); a planted foot's position weight is multiplied by ``planted_foot_gain``; a
  ``PostureTask`` pulls weakly toward the standing pose so that joints no target determines (wrist yaw)
  stay put; Levenberg-Marquardt ``damping`` keeps each frame's step small (smoothness without filtering).
* **limits** (hard, inequality constraints of the QP): ``ConfigurationLimit`` (joint ranges),
  ``VelocityLimit`` (the description's joint speeds: the ``iterations`` steps of one frame share its
  ``1/fps`` seconds, so a frame never moves a joint faster than its limit), and with
  ``avoid_collisions`` a ``CollisionAvoidanceLimit`` on the description's body pairs (arms against
  torso and legs).
* **grounding**: after the frame's solve, the root is moved vertically so that the lowest sole point is on
  the floor when a human foot is planted, and never below it (no floating, no penetration).

The first frame is solved from the standing pose with ``first_iterations`` steps and without the velocity
limit (a clip may start in any pose).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from motionlib.motion.clip import Motion
from motionlib.motion.errors import MotionError

from .collision import SeparatingCollisionLimit
from .description import RobotDescription
from .robot_model import RobotModel
from .scaling import SIDES, Targets, robot_targets

MIN_FRAMES = 4  # a clip shorter than this is refused (velocities and jerk need a few frames)


@dataclass
class RetargetConfig:
    iterations: int = 2  # IK steps per frame
    first_iterations: int = 60  # IK steps for the first frame (from the standing pose)
    damping: float = 1e-3  # Levenberg-Marquardt damping of every step
    posture_cost: float = 0.02  # pull toward the standing pose
    planted_foot_gain: float = 4.0  # a planted foot's position weight, times its description weight
    avoid_collisions: bool = True  # mink's CollisionAvoidanceLimit on the description's pairs
    collision_margin: float = 0.01  # metres kept between the paired geoms
    limit_gain: float = 0.95  # ConfigurationLimit gain
    solver: str = "daqp"


@dataclass
class RetargetResult:
    qpos: np.ndarray  # (T, nq)
    targets: Targets
    fps: float
    seconds: float  # wall time of the IK
    relaxed_frames: int = 0  # frames solved without the collision limit (infeasible with it)


class Retargeter:
    """Retargets clips onto one robot; build once, call :meth:`run` per clip."""

    def __init__(self, desc: RobotDescription, config: RetargetConfig | None = None) -> None:
        import mink

        self.desc = desc
        self.cfg = config or RetargetConfig()
        self.robot = RobotModel(desc)
        m = self.robot.model
        self.configuration = mink.Configuration(m)
        self.tasks = [mink.FrameTask(t.site, "site", position_cost=t.position_weight,
                                     orientation_cost=t.orientation_weight, lm_damping=1.0)
                      for t in desc.targets]
        self.posture = mink.PostureTask(m, cost=self.cfg.posture_cost)
        self.standing = desc.default_qpos(m)
        self.posture.set_target(self.standing)
        self.config_limit = mink.ConfigurationLimit(m, gain=self.cfg.limit_gain)
        self.velocity_limit = mink.VelocityLimit(m, dict(zip(desc.joint_names, desc.velocity_limit)))
        self.limits = [self.config_limit, self.velocity_limit]
        if self.cfg.avoid_collisions and desc.collision_pairs:
            pairs = [(self.robot.collision_geoms_of(a), self.robot.collision_geoms_of(b))
                     for a, b in desc.collision_pairs]
            self.limits.append(SeparatingCollisionLimit(
                m, pairs, minimum_distance_from_collisions=self.cfg.collision_margin,
                collision_detection_distance=self.cfg.collision_margin + 0.04))
        self.foot_targets = {side: [k for k, t in enumerate(desc.targets) if t.body == desc.feet[side]]
                             for side in SIDES}

    def _solve(self, iterations: int, dt: float, limits) -> bool:
        """``iterations`` IK steps; False when a step was infeasible with every limit and was solved
        without the collision limit."""
        import mink

        tasks = [*self.tasks, self.posture]
        feasible = True
        for _ in range(iterations):
            try:
                v = mink.solve_ik(self.configuration, tasks, dt, self.cfg.solver, damping=self.cfg.damping,
                                  limits=limits)
            except mink.NoSolutionFound:
                feasible = False
                v = mink.solve_ik(self.configuration, tasks, dt, self.cfg.solver, damping=self.cfg.damping,
                                  limits=[lim for lim in limits if not isinstance(lim, SeparatingCollisionLimit)])
            self.configuration.integrate_inplace(v, dt)
        return feasible

    def _ground(self, planted: bool) -> None:
        """Move the root vertically: lowest sole point on the floor if planted, never below it."""
        robot = self.robot
        q = self.configuration.q.copy()
        robot.set_qpos(q)
        low = robot.lowest_sole()
        if planted or low < 0.0:
            q[robot.root_qpos + 2] -= low
            self.configuration.update(q)

    def run(self, motion: Motion) -> RetargetResult:
        import mink

        src = motion.source
        if motion.num_frames < MIN_FRAMES:
            raise MotionError(f"clip too short to retarget ({motion.num_frames} frames, need {MIN_FRAMES})", src)
        if not (np.isfinite(motion.trans).all() and np.isfinite(motion.rotations).all()):
            raise MotionError("clip has NaN/inf frames", src)
        t0 = time.perf_counter()
        tg = robot_targets(self.robot, motion)
        T = motion.num_frames
        dt = 1.0 / motion.fps
        weights = np.array([t.position_weight for t in self.desc.targets])
        q0 = self.standing.copy()
        r = self.robot.root_qpos
        q0[r:r + 3] = tg.pos[0, 0]
        q0[r + 3:r + 7] = mink.SO3.from_matrix(tg.rot[0, 0] @ self._root_site_rot()).wxyz
        self.configuration.update(q0)
        out = np.zeros((T, self.robot.model.nq))
        relaxed = 0
        for f in range(T):
            for k, task in enumerate(self.tasks):
                task.set_target(mink.SE3.from_rotation_and_translation(mink.SO3.from_matrix(tg.rot[f, k]),
                                                                       tg.pos[f, k]))
            planted_any = False
            for side in SIDES:
                on = bool(tg.planted[side][f])
                planted_any |= on
                for k in self.foot_targets[side]:
                    self.tasks[k].set_position_cost(weights[k] * (self.cfg.planted_foot_gain if on else 1.0))
            if f == 0:
                limits = [lim for lim in self.limits if lim is not self.velocity_limit]
                ok = self._solve(self.cfg.first_iterations, dt / self.cfg.first_iterations, limits)
            else:
                ok = self._solve(self.cfg.iterations, dt / self.cfg.iterations, self.limits)
            relaxed += not ok
            self._ground(planted_any)
            out[f] = self.configuration.q
        return RetargetResult(qpos=out, targets=tg, fps=motion.fps, seconds=time.perf_counter() - t0,
                              relaxed_frames=relaxed)

    def _root_site_rot(self) -> np.ndarray:
        """Rotation from the root target's site frame to the root body frame (identity without an offset)."""
        m, d = self.robot.model, self.robot.data
        self.robot.set_qpos(self.robot.qpos_zero)
        site = m.site(self.desc.targets[[t.smpl for t in self.desc.targets].index("pelvis")].site).id
        return d.site_xmat[site].reshape(3, 3).T @ d.xmat[self.robot.root_id].reshape(3, 3)
