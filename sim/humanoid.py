"""MJCF generator for the SMPL humanoid (24 bodies, free root, 23 x 3 hinges).

The body is built from the shipped mean-shape humanoid description
(``motion/data/smpl_neutral_humanoid.json``: offsets, collision primitives,
PD gains) for a clip's own body: the mean body uniformly scaled to the clip
(``Motion.body_scale``), or per-subject offsets (``Motion.offsets``, e.g. from
betas). Only standard MJCF elements are used (bodies, hinge joints, capsule /
box geoms, position actuators, a plane), so the file also loads in other
simulators' MJCF importers.

Frames: MuJoCo bodies are expressed in the z-up, x-forward, y-left frame of
the reference file. A clip's SMPL-frame rotations map to it by the constant
change of basis ``C = SMPL_TO_ZUP`` (see :mod:`motionlib.sim.smpl_state`).

Stability choices (measured on early tracking experiments): the ``implicitfast``
integrator, and lower gains plus armature on light links (toes, hands, head)
keep 120 Hz physics stable.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from motionlib.motion.skeleton import NUM_JOINTS, SMPL_PARENTS, Skeleton, reference_humanoid

AXES = ("x", "y", "z")
LIGHT_LINKS = {"L_Toe", "R_Toe", "L_Hand", "R_Hand", "Head", "L_Wrist", "R_Wrist"}


@dataclass(frozen=True)
class HumanoidConfig:
    """Physical parameters of the generated humanoid."""

    timestep: float = 1.0 / 120.0
    integrator: str = "implicitfast"
    joint_range_deg: float = 180.0
    armature: float = 0.02
    light_armature: float = 0.01
    damping: float = 2.0
    gain_scale: float = 1.0
    light_gain_scale: float = 0.5
    foot_friction: float = 1.0
    ground_friction: float = 1.0
    solref_timeconst: float = 0.02
    # Foot-floor (all body-floor) contacts. MuJoCo's contact is a damped spring in acceleration
    # units, aref = -b v - k r. With contact_stiffness > 0 the spring is given directly (solref
    # "-k -b", k in 1/s^2, b in 1/s); with 0, by the time constant above, which MuJoCo clamps to at
    # least two timesteps (16.7 ms at 120 Hz): even the stiffest spring that form allows let the feet,
    # pressed by the leg actuators, sink 1-5 cm into the floor at push-offs of a refined walk.
    # 15000 / 300 (in the time-constant form: 6.7 ms, damping ratio 1.2) was chosen on the tracking and
    # WHAM-artifact benchmarks (docs/tracking.md "Contacts and what plausibility measures"); 30000 and stiffer blow up at 120 Hz.
    contact_stiffness: float = 15000.0
    contact_damping: float = 300.0
    iterations: int = 10
    ls_iterations: int = 10
    torque_limit_scale: float = 1.0  # forcerange = scale * kp * 1 rad (0 disables the limit)
    # Body-body contacts. Off by default: mocap fitted onto the SMPL capsules
    # interpenetrates often (measured on the 82 tracker clips, every 3rd frame:
    # thighs 7% of frames, toes 7% at 30 mm median depth, knees 6% at 16 mm,
    # hands in the pelvis up to 74 mm), and those contacts push the legs apart
    # through the floor: a standing frame of a bow clip tipped over in 1 s
    # with zero residual, even with 10x gains. The floor still collides with
    # every body. True restores self-collision (pairs touching at rest and
    # bodies two links apart excluded).
    self_collision: bool = False
    extra: tuple = field(default_factory=tuple)

    def key(self) -> str:
        return hashlib.sha1(repr(self).encode()).hexdigest()[:10]

    def with_armature_scale(self, scale: float) -> "HumanoidConfig":
        """This humanoid with its joint armature (the rotor inertia MuJoCo adds to each hinge's diagonal
        mass: ``armature`` and ``light_armature``) times ``scale``. More armature lowers the PD loops'
        natural frequency (sqrt(kp / (I + armature))), which the physics step then resolves more finely
        (docs/tracking.md "Smooth output")."""
        if not scale > 0:
            raise ValueError(f"armature scale {scale!r}: must be > 0")
        if scale == 1.0:
            return self
        return replace(self, armature=self.armature * scale, light_armature=self.light_armature * scale)


def smpl_offsets_to_zup(offsets_smpl: np.ndarray) -> np.ndarray:
    """SMPL body frame (x left, y up, z fwd) -> reference frame (x fwd, y left, z up)."""
    return np.asarray(offsets_smpl, dtype=np.float64)[..., [2, 0, 1]]


def _fmt(v) -> str:
    return " ".join(f"{float(x):.6g}" for x in np.ravel(v))


def body_scale_of(skeleton: Skeleton) -> float:
    """Uniform scale of ``skeleton`` relative to the mean body (bone-length ratio)."""
    ref = Skeleton.default()
    return float(np.linalg.norm(skeleton.offsets, axis=1).sum() / np.linalg.norm(ref.offsets, axis=1).sum())


def bone_maps(skeleton: Skeleton, scale: float) -> list[np.ndarray | None]:
    """Per body, the linear map (3 x 3, reference frame) that carries the mean body's geom, scaled by ``scale``,
    onto ``skeleton``'s bone: for a body with one child joint, the rotation taking the scaled mean bone onto
    the skeleton's, then a stretch along it by the ratio of their lengths (a capsule then spans the bone as it
    spans the mean one, with the mean radius x ``scale``). ``None`` where nothing changes: bodies with none or
    several children (pelvis, chest, head, hands) and bones within 10 um of the scaled mean's (a uniformly scaled
    mean body, its offsets rounded as :func:`humanoid_xml` rounds them, gets exactly the uniformly scaled geoms)."""
    mean = smpl_offsets_to_zup(Skeleton.default().offsets) * scale
    own = smpl_offsets_to_zup(skeleton.offsets)
    children = [[c for c in range(NUM_JOINTS) if SMPL_PARENTS[c] == j] for j in range(NUM_JOINTS)]
    maps: list[np.ndarray | None] = []
    for j in range(NUM_JOINTS):
        if len(children[j]) != 1:
            maps.append(None)
            continue
        u, v = mean[children[j][0]], own[children[j][0]]
        lu, lv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
        if lu < 1e-9 or lv < 1e-9 or np.allclose(u, v, rtol=0.0, atol=1e-5):
            maps.append(None)
            continue
        a, b = u / lu, v / lv
        axis, cos = np.cross(a, b), float(np.dot(a, b))
        k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
        rot = np.eye(3) + k + k @ k / (1.0 + cos) if cos > -1.0 + 1e-9 else -np.eye(3)  # Rodrigues, a -> b
        stretch = np.eye(3) + (lv / lu - 1.0) * np.outer(b, b)
        maps.append(stretch @ rot)
    return maps


def build_mjcf(skeleton: Skeleton | None = None, cfg: HumanoidConfig = HumanoidConfig(), name: str = "smpl_humanoid") -> str:
    """Return the MJCF XML text of the humanoid for ``skeleton`` (default: mean body)."""
    skeleton = skeleton or Skeleton.default()
    ref = reference_humanoid()
    joints = sorted(ref["joints"], key=lambda j: j["smpl_index"])
    offsets = smpl_offsets_to_zup(skeleton.offsets)
    scale = body_scale_of(skeleton)  # geom sizes follow the overall body size
    maps = bone_maps(skeleton, scale)  # and geoms follow each bone of a body with its own proportions

    root = ET.Element("mujoco", model=name)
    ET.SubElement(root, "compiler", angle="radian", autolimits="true")
    ET.SubElement(root, "option", timestep=f"{cfg.timestep:.8g}", integrator=cfg.integrator,
                  iterations=str(cfg.iterations), ls_iterations=str(cfg.ls_iterations))
    default = ET.SubElement(root, "default")
    ET.SubElement(default, "joint", type="hinge", damping=f"{cfg.damping}", armature=f"{cfg.armature}",
                  range=f"{-np.radians(cfg.joint_range_deg):.6g} {np.radians(cfg.joint_range_deg):.6g}")
    # contype/conaffinity bits: body geoms 2/(1 or 3), floor 1/2 -> body-floor always collides,
    # body-body only with self_collision
    ET.SubElement(default, "geom", condim="3", friction=f"{cfg.foot_friction} 0.005 0.0001",
                  solref=(f"{-cfg.contact_stiffness:.6g} {-cfg.contact_damping:.6g}" if cfg.contact_stiffness > 0
                          else f"{cfg.solref_timeconst} 1"),
                  contype="2", conaffinity="3" if cfg.self_collision else "1")
    asset = ET.SubElement(root, "asset")
    ET.SubElement(asset, "texture", name="grid", type="2d", builtin="checker", rgb1=".2 .3 .4", rgb2=".1 .15 .2",
                  width="256", height="256")
    ET.SubElement(asset, "material", name="grid", texture="grid", texrepeat="8 8", reflectance="0")
    world = ET.SubElement(root, "worldbody")
    ET.SubElement(world, "light", name="sun", pos="0 0 4", dir="0 0 -1", directional="true", castshadow="false")
    ET.SubElement(world, "geom", name="floor", type="plane", size="0 0 0.05", material="grid",
                  friction=f"{cfg.ground_friction} 0.005 0.0001", contype="1", conaffinity="2")

    bodies: dict[int, ET.Element] = {}
    actuators: dict[int, list[dict]] = {}
    for j in range(NUM_JOINTS):
        info = joints[j]
        parent = world if SMPL_PARENTS[j] < 0 else bodies[SMPL_PARENTS[j]]
        pos = np.array([0.0, 0.0, 1.0]) if j == 0 else offsets[j]
        body = ET.SubElement(parent, "body", name=info["name"], pos=_fmt(pos))
        bodies[j] = body
        if j == 0:
            ET.SubElement(body, "freejoint", name="root")
        else:
            light = info["name"] in LIGHT_LINKS
            for ax_i, ax in enumerate(AXES):
                axis = np.zeros(3)
                axis[ax_i] = 1.0
                ET.SubElement(body, "joint", name=f"{info['name']}_{ax}", axis=_fmt(axis),
                              armature=f"{cfg.light_armature if light else cfg.armature}")
        g = info["geom"]
        attrs = {"name": f"{info['name']}_geom", "type": g["type"], "density": f"{g['density']:.6g}"}
        bone = maps[j]
        if g["type"] == "capsule":
            ends = np.array(g["fromto"]).reshape(2, 3) * scale
            attrs["fromto"] = _fmt(ends if bone is None else ends @ bone.T)
            attrs["size"] = _fmt(np.array(g["size"]) * scale)
        else:
            pos = np.array(g["pos"]) * scale
            attrs["pos"] = _fmt(pos if bone is None else bone @ pos)
            attrs["size"] = _fmt(np.array(g["size"]) * scale)
            attrs["quat"] = _fmt(g.get("quat", [1, 0, 0, 0]))
        ET.SubElement(body, "geom", **attrs)
        ET.SubElement(body, "site", name=f"{info['name']}_site", pos="0 0 0", size="0.01")
        if j > 0:
            light = info["name"] in LIGHT_LINKS
            kp = float(info["kp"]) * cfg.gain_scale * (cfg.light_gain_scale if light else 1.0)
            kd = float(info["kd"]) * cfg.gain_scale * (cfg.light_gain_scale if light else 1.0)
            actuators[j] = []
            for ax in AXES:
                a = {"name": f"{info['name']}_{ax}", "joint": f"{info['name']}_{ax}", "kp": f"{kp:.6g}",
                     "kv": f"{kd:.6g}", "ctrlrange": f"{-np.pi:.6g} {np.pi:.6g}"}
                if cfg.torque_limit_scale > 0:
                    lim = cfg.torque_limit_scale * kp
                    a["forcerange"] = f"{-lim:.6g} {lim:.6g}"
                actuators[j].append(a)

    # Actuators follow the qpos hinge order (depth-first body order), so ctrl[i]
    # drives qpos[7 + i].
    from .smpl_state import SIM_ORDER

    actuator = ET.SubElement(root, "actuator")
    for j in SIM_ORDER[1:]:
        for a in actuators[j]:
            ET.SubElement(actuator, "position", **a)

    # Body state sensors (SMPL order): what observations/rewards read, on every backend.
    sensor = ET.SubElement(root, "sensor")
    for kind in ("framepos", "framequat", "framelinvel", "frameangvel"):
        for info in joints:
            ET.SubElement(sensor, kind, name=f"{info['name']}_{kind}", objtype="xbody", objname=info["name"])

    if cfg.self_collision:
        contact = ET.SubElement(root, "contact")
        names = [j["name"] for j in joints]
        pairs = set(_overlapping_pairs(ET.tostring(root, encoding="unicode"), names)) | set(_near_pairs(joints))
        for a, b in sorted(pairs, key=lambda p: (names.index(p[0]), names.index(p[1]))):
            ET.SubElement(contact, "exclude", body1=a, body2=b)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def _near_pairs(joints: list[dict]) -> list[tuple[str, str]]:
    """Bodies two links apart (e.g. torso and chest around the spine): their
    geoms meet whenever the middle joint bends, so they never collide (MuJoCo
    already skips parent/child pairs)."""
    by_index = {j["smpl_index"]: j for j in joints}
    parent = {j["smpl_index"]: SMPL_PARENTS[j["smpl_index"]] for j in joints}
    out = []
    for i in by_index:
        p = parent[i]
        gp = parent.get(p, -1) if p >= 0 else -1
        if gp >= 0:
            out.append((by_index[gp]["name"], by_index[i]["name"]))
    return out


def _overlapping_pairs(xml: str, names: list[str]) -> list[tuple[str, str]]:
    """Body pairs whose geoms touch in the rest pose (siblings around the chest,
    hips): excluded from self-collision, as common SMPL humanoids do."""
    import mujoco

    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    pairs = set()
    for i in range(data.ncon):
        c = data.contact[i]
        b1, b2 = model.geom_bodyid[c.geom1], model.geom_bodyid[c.geom2]
        if b1 == 0 or b2 == 0:
            continue
        n1, n2 = model.body(b1).name, model.body(b2).name
        pairs.add(tuple(sorted((n1, n2), key=names.index)))
    return sorted(pairs, key=lambda p: (names.index(p[0]), names.index(p[1])))


@lru_cache(maxsize=64)
def _cached_xml(offsets_bytes: bytes, cfg: HumanoidConfig) -> str:
    offsets = np.frombuffer(offsets_bytes, dtype=np.float64).reshape(NUM_JOINTS, 3)
    return build_mjcf(Skeleton(offsets), cfg)


def humanoid_xml(skeleton: Skeleton | None = None, cfg: HumanoidConfig = HumanoidConfig(),
                 cache_dir: str | Path | None = None) -> str:
    """MJCF for a body, built once per distinct body (in memory and, with
    ``cache_dir``, on disk as ``smpl_humanoid_<hash>.xml``)."""
    skeleton = skeleton or Skeleton.default()
    off = np.round(skeleton.offsets, 6).astype(np.float64)
    xml = _cached_xml(off.tobytes(), cfg)
    if cache_dir is not None:
        from motionlib.motion.atomic import write_text_atomic

        key = hashlib.sha1(off.tobytes() + cfg.key().encode()).hexdigest()[:12]
        path = Path(cache_dir) / f"smpl_humanoid_{key}.xml"
        if not path.is_file():
            write_text_atomic(path, xml)
    return xml
