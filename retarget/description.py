"""Robot descriptions: what the retargeting and robot tracking need to know about a robot.

A description is one JSON file beside the robot's MJCF (``retarget/robots/<name>/<name>.json``); a new
robot is its MJCF plus one such file, no code. Keys:

* ``name``, ``mjcf`` (path relative to the JSON), ``root_body`` (the floating base),
* ``feet``: ``{"left": body, "right": body}``: the bodies that stand on the floor,
* ``targets``: the robot bodies that follow SMPL joints, each
  ``{"body", "smpl", "position_weight", "orientation_weight", "offset" (optional point on the body, its
  frame, metres), "scale" (optional; default: measured, see ``retarget.scaling``)}``,
* ``default_pose``: joint name -> angle (rad) of the robot's standing pose; joints not named are 0,
* ``joint_groups``: ``[{"joints": regex, "kp", "kd", "velocity_limit" (rad/s), "effort_limit" (N m,
  optional: default the MJCF actuator's force range)}]``; every actuated joint must match one group
  (the first that matches wins),
* ``collision_pairs``: ``[[bodies...], [bodies...]]`` pairs of body groups whose collision geoms must not
  touch (arms against torso and legs),
* ``contact_exclusions`` (optional): ``[[body, body]]`` pairs whose contacts the model ignores, as MuJoCo
  ignores parent and child: neighbouring links whose convex hulls overlap within the joints' normal range
  (an artifact of the hulls, not a collision of the robot),
* ``tracked_bodies`` (optional): the bodies the tracking reward looks at; default: the root body, then
  every body of ``targets`` (once each, in their order),
* ``sources``: where the gains and limits come from (free text).

:meth:`RobotDescription.body_spec` / :meth:`RobotDescription.sim_body` hand the robot to ``sim`` (the
tracking body, ``sim.robot_body``): its MJCF, actuated joints with gains and effort limits, standing pose,
tracked bodies, feet and contact exclusions.

:func:`load_description` validates it against the MJCF: a body or joint the MJCF lacks is an error naming
both files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionlib.motion.errors import MotionError
from motionlib.motion.skeleton import SMPL_JOINT_NAMES

ROBOTS_DIR = Path(__file__).resolve().parent / "robots"


@dataclass(frozen=True)
class BodyTarget:
    body: str
    smpl: str
    position_weight: float = 1.0
    orientation_weight: float = 0.0
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float | None = None

    @property
    def site(self) -> str:
        """Name of the site added at ``offset`` on ``body`` (the frame the IK moves)."""
        return f"retarget_{self.smpl}"

    @property
    def smpl_index(self) -> int:
        return SMPL_JOINT_NAMES.index(self.smpl)


@dataclass
class RobotDescription:
    name: str
    path: Path  # the description's JSON
    mjcf: Path
    root_body: str
    feet: dict[str, str]
    targets: list[BodyTarget]
    joint_names: list[str]  # actuated joints, MJCF actuator order
    default_pose: np.ndarray  # (J,) in joint_names order
    kp: np.ndarray
    kd: np.ndarray
    velocity_limit: np.ndarray  # rad/s
    effort_limit: np.ndarray  # N m
    collision_pairs: list[tuple[list[str], list[str]]] = field(default_factory=list)
    contact_exclusions: list[tuple[str, str]] = field(default_factory=list)
    sources: str = ""
    tracked_bodies: list[str] = field(default_factory=list)

    def body_spec(self):
        """The robot as ``sim`` takes it (:class:`~motionlib.sim.robot_body.RobotBodySpec`)."""
        from motionlib.sim.robot_body import RobotBodySpec

        tracked = self.tracked_bodies or list(dict.fromkeys([self.root_body] + [t.body for t in self.targets]))
        return RobotBodySpec(
            name=self.name, mjcf=str(self.mjcf), root_body=self.root_body, joint_names=tuple(self.joint_names),
            kp=tuple(float(x) for x in self.kp), kd=tuple(float(x) for x in self.kd),
            effort_limit=tuple(float(x) for x in self.effort_limit),
            default_pose=tuple(float(x) for x in self.default_pose), tracked_bodies=tuple(tracked),
            feet=(self.feet["left"], self.feet["right"]), contact_exclusions=tuple(self.contact_exclusions))

    def sim_body(self):
        """The robot's tracking body (:class:`~motionlib.sim.robot_body.MjcfRobotBody`)."""
        from motionlib.sim.robot_body import MjcfRobotBody

        return MjcfRobotBody(self.body_spec())

    def model(self):
        """The robot's ``mujoco.MjModel`` with one site per target (at its offset) and the contact
        exclusions."""
        import mujoco

        spec = mujoco.MjSpec.from_file(str(self.mjcf))
        for a, b in self.contact_exclusions:
            spec.add_exclude(bodyname1=a, bodyname2=b)
        for t in self.targets:
            spec.body(t.body).add_site(name=t.site, pos=list(t.offset), size=[0.01, 0.01, 0.01], group=5)
        return spec.compile()

    def default_qpos(self, model) -> np.ndarray:
        """``qpos`` of the standing pose: root at the model's initial pose, joints at ``default_pose``."""
        import mujoco

        q = model.qpos0.copy()
        for name, v in zip(self.joint_names, self.default_pose):
            q[model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)]] = v
        return q


def available_robots() -> list[str]:
    """Names of the robots shipped in ``retarget/robots/``."""
    return sorted(p.parent.name for p in ROBOTS_DIR.glob("*/*.json") if p.stem == p.parent.name)


def description_path(robot: str | Path) -> Path:
    """The JSON of a shipped robot's name (``g1``), or the path given."""
    p = Path(robot)
    if p.suffix == ".json":
        return p
    shipped = ROBOTS_DIR / str(robot) / f"{robot}.json"
    if not shipped.is_file():
        raise MotionError(f"unknown robot {robot!r} (shipped: {', '.join(available_robots())}; or give a "
                          f"description .json)")
    return shipped


def load_description(robot: str | Path) -> RobotDescription:
    """Load and validate a robot description (a shipped robot's name or a JSON path)."""
    import mujoco

    path = description_path(robot)
    src = str(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise MotionError(f"cannot read the robot description ({e})", src) from None
    for key in ("name", "mjcf", "root_body", "feet", "targets", "joint_groups"):
        if key not in raw:
            raise MotionError(f"robot description lacks {key!r}", src)
    mjcf = (path.parent / raw["mjcf"]).resolve()
    try:
        model = mujoco.MjModel.from_xml_path(str(mjcf))
    except (ValueError, OSError) as e:
        raise MotionError(f"cannot load its MJCF {mjcf} ({e})", src) from None

    def body(name: str, what: str) -> str:
        if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name) < 0:
            raise MotionError(f"{what} names body {name!r}, which the MJCF {mjcf} lacks", src)
        return name

    body(raw["root_body"], "root_body")
    feet = {side: body(raw["feet"][side], f"feet.{side}") for side in ("left", "right")}
    targets = []
    for i, t in enumerate(raw["targets"]):
        if t.get("smpl") not in SMPL_JOINT_NAMES:
            raise MotionError(f"targets[{i}] names SMPL joint {t.get('smpl')!r}, not one of {SMPL_JOINT_NAMES}", src)
        targets.append(BodyTarget(body=body(t["body"], f"targets[{i}]"), smpl=t["smpl"],
                                  position_weight=float(t.get("position_weight", 1.0)),
                                  orientation_weight=float(t.get("orientation_weight", 0.0)),
                                  offset=tuple(float(x) for x in t.get("offset", (0.0, 0.0, 0.0))),
                                  scale=None if t.get("scale") is None else float(t["scale"])))
    pairs = []
    for a, b in raw.get("collision_pairs", []):
        pairs.append(([body(n, "collision_pairs") for n in a], [body(n, "collision_pairs") for n in b]))

    exclusions = [(body(a, "contact_exclusions"), body(b, "contact_exclusions"))
                  for a, b in raw.get("contact_exclusions", [])]
    tracked = [body(n, "tracked_bodies") for n in raw.get("tracked_bodies", [])]
    if tracked and tracked[0] != raw["root_body"]:
        raise MotionError(f"tracked_bodies must start with the root body {raw['root_body']!r}", src)
    joint_names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, int(model.actuator_trnid[a, 0]))
                   for a in range(model.nu)]
    for name in raw.get("default_pose", {}):
        if name not in joint_names:
            raise MotionError(f"default_pose names joint {name!r}, which the MJCF {mjcf} does not actuate", src)
    default = np.array([float(raw.get("default_pose", {}).get(n, 0.0)) for n in joint_names])
    kp, kd, vel, eff = (np.zeros(len(joint_names)) for _ in range(4))
    for j, name in enumerate(joint_names):
        group = next((g for g in raw["joint_groups"] if re.fullmatch(g["joints"], name)), None)
        if group is None:
            raise MotionError(f"no joint_groups entry matches actuated joint {name!r} of {mjcf}", src)
        kp[j], kd[j], vel[j] = float(group["kp"]), float(group["kd"]), float(group["velocity_limit"])
        eff[j] = float(group["effort_limit"]) if "effort_limit" in group else _mjcf_effort(model, j)
        if not np.isfinite(eff[j]):
            raise MotionError(f"joint {name!r} has no force range in {mjcf}: give its group an effort_limit", src)
    return RobotDescription(name=str(raw["name"]), path=path, mjcf=mjcf, root_body=raw["root_body"], feet=feet,
                            targets=targets, joint_names=joint_names, default_pose=default, kp=kp, kd=kd,
                            velocity_limit=vel, effort_limit=eff, collision_pairs=pairs, contact_exclusions=exclusions,
                            sources=str(raw.get("sources", "")), tracked_bodies=tracked)


def _mjcf_effort(model, a: int) -> float:
    """Largest torque of actuator ``a``: its control range times its gear, else its joint's force range."""
    if model.actuator_ctrllimited[a]:
        return float(np.abs(model.actuator_ctrlrange[a]).max() * abs(model.actuator_gear[a, 0]))
    j = int(model.actuator_trnid[a, 0])
    if model.jnt_actfrclimited[j]:
        return float(np.abs(model.jnt_actfrcrange[j]).max())
    return float("inf")
