"""The simulated body the tracking environment drives: the interface, and the SMPL humanoid.

A body is what the environment needs to know beyond the reference and the physics backend:

* its **MuJoCo models** (one per distinct body of the reference: the humanoid is built for each clip's
  skeleton, a robot has one), whose sensors are the position, orientation, linear and angular velocity
  of the bodies the reward looks at (``sim.body_planes``: 13 channels per body, body 0 the root);
* its **actuated joints**: position actuators, one per joint, whose gains are the PD gains and whose
  force range is the effort limit (MuJoCo applies ``kp (target - q) - kd qdot`` clipped to it at
  every physics step); the environment reads them from the model (``actuator_gainprm``,
  ``actuator_biasprm``, ``actuator_forcerange``) and the joints' qpos columns from the actuators' joints;
* the **term set** that fits it (``sim.term_sets``) and how many bodies its planes carry;
* what the reference needs beyond body states: the humanoid's planted-foot weights for the feet-slip
  term.

How a reference frame becomes target joint positions and body states is the reference library's
(``sim.reference``): the humanoid's from a Motion clip (FK and its joint coordinates), a robot's from
its clip's joint positions and body states (``sim.robot_body``).

:class:`SmplHumanoidBody` is the SMPL humanoid (``sim.humanoid``); :class:`~motionlib.sim.robot_body.MjcfRobotBody`
an MJCF robot built from its file and a description handed in.
"""

from __future__ import annotations

import mujoco
import numpy as np
import torch

from motionlib.motion.metrics import offsets_scale
from motionlib.motion.skeleton import Skeleton

from .body_planes import NB
from .humanoid import HumanoidConfig, humanoid_xml
from .reference import ReferenceLibrary
from .tracking_config import TrackingConfig
from .tracking_terms import reference_foot_contact


class SimBody:
    """The interface (see the module text). ``kind`` names the body in a saved policy; ``terms``
    is the term set that fits it."""

    kind = "?"
    terms = "?"

    @property
    def num_bodies(self) -> int:
        """Bodies in the body planes (the sensors of its models)."""
        raise NotImplementedError

    def build_models(self, ref: ReferenceLibrary, cfg: TrackingConfig) -> list[mujoco.MjModel]:
        """The models of the reference's bodies (``ref.clip_body`` indexes them), at the physics
        timestep of ``cfg`` (control rate x substeps)."""
        raise NotImplementedError

    def reference_contact(self, ref: ReferenceLibrary, cfg: TrackingConfig) -> torch.Tensor | None:
        """(F, k) how planted the reference's feet are in every frame, for terms that need it; None
        when the body's terms need none."""
        return None

    def record(self) -> dict:
        """What a policy file records of the body (JSON-able)."""
        return {"kind": self.kind}


def build_models(bodies: list[np.ndarray], hcfg: HumanoidConfig) -> list[mujoco.MjModel]:
    return [mujoco.MjModel.from_xml_string(humanoid_xml(Skeleton(b), hcfg)) for b in bodies]


def tracking_humanoid(cfg: TrackingConfig, humanoid: HumanoidConfig) -> HumanoidConfig:
    """``humanoid`` with the physics timestep of ``cfg`` (control rate x substeps)."""
    return HumanoidConfig(**{**humanoid.__dict__, "timestep": 1.0 / (cfg.control_fps * cfg.substeps)})


class SmplHumanoidBody(SimBody):
    """The SMPL humanoid (``sim.humanoid``), built for each distinct skeleton of the reference."""

    kind = "smpl_humanoid"
    terms = "smpl_humanoid"

    def __init__(self, humanoid: HumanoidConfig = HumanoidConfig()):
        self.humanoid = humanoid

    @property
    def num_bodies(self) -> int:
        return NB

    def build_models(self, ref: ReferenceLibrary, cfg: TrackingConfig) -> list[mujoco.MjModel]:
        return build_models(ref.bodies, tracking_humanoid(cfg, self.humanoid))

    def reference_contact(self, ref: ReferenceLibrary, cfg: TrackingConfig) -> torch.Tensor:
        """(F, 4) how planted each sole body (ankles, toes) of the reference is (the feet-slip gate)."""
        device = ref.qpos.device
        scales = torch.tensor([offsets_scale(b) for b in ref.bodies], dtype=torch.float32, device=device)
        frame_scales = torch.repeat_interleave(scales[ref.clip_body], ref.clip_len)
        return reference_foot_contact(ref.body_pos, ref.body_linvel, frame_scales,
                                      tuple(cfg.reward.feet_contact_height_m), tuple(cfg.reward.feet_contact_speed_m_s))
