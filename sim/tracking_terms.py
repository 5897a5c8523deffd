"""Body state, tracking errors and the physical quantities of rewards, batched in torch.

Everything here is a pure function of flat tensors (simulated body state from
the backend's sensors, reference body state gathered from the
:class:`~motionlib.sim.reference.ReferenceLibrary`), so it runs unchanged on
CPU and GPU backends. The math runs on component planes (13, N, ..., 24):
see :mod:`body_planes` for the layout and why. The named reward and observation
terms built on these are in :mod:`reward_terms` and :mod:`observation_terms`.

Body state (SMPL joint order, 24 bodies): positions world, orientations
sim-frame quaternions wxyz, linear and angular velocities world.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from motionlib.motion.metrics import FOOT_JOINTS, SOLE_OFFSET_M, ramp_down

from .body_planes import ANG, LIN, POS, QUAT, packed_from_sensors
from .observation_terms import SMPL_OBSERVATION, ObservationLayout


@dataclass
class BodyState:
    """The same state as (N, 24, ·) arrays, for callers that want whole vectors (evaluation, tests)."""

    pos: torch.Tensor  # (N, 24, 3)
    quat: torch.Tensor  # (N, 24, 4)
    linvel: torch.Tensor  # (N, 24, 3)
    angvel: torch.Tensor  # (N, 24, 3)

    @staticmethod
    def from_packed(body: torch.Tensor) -> "BodyState":
        """Views of (N, 24, 13) packed body states (:mod:`body_planes` channels)."""
        return BodyState(body[..., POS], body[..., QUAT], body[..., LIN], body[..., ANG])

    @staticmethod
    def from_sensors(sensordata: torch.Tensor) -> "BodyState":
        """From the sensor layout written by ``sim.humanoid.build_mjcf``."""
        return BodyState.from_packed(packed_from_sensors(sensordata))


def self_obs_dim() -> int:
    """Size of the self part of the SMPL humanoid's observation (:mod:`observation_terms`)."""
    return _smpl_layout(0).self_dim


def task_obs_dim(num_future: int) -> int:
    """Size of the task part of the SMPL humanoid's observation for ``num_future`` reference frames."""
    return _smpl_layout(num_future).task_dim


@lru_cache(maxsize=None)
def _smpl_layout(num_future: int) -> ObservationLayout:
    return ObservationLayout(SMPL_OBSERVATION, num_future)


def observation(p: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
    """The SMPL humanoid's observation (N, self_obs_dim + task_obs_dim(K)) from the simulated body
    planes ``p`` (13, N, 24) and the future reference frames ``refs`` (13, N, K, 24)
    (:data:`~motionlib.sim.observation_terms.SMPL_OBSERVATION` lists its terms in order).

    Self part: root height, then in the heading frame body positions relative to
    the root (bodies 1..23, x3), orientations in 6D (24x6), linear and angular
    velocities (24x3 each). Task part, per future frame: body position
    differences (24x3), rotation differences ref * conj(sim) in 6D (24x6),
    reference positions relative to the humanoid's root (24x3), linear and
    angular velocity differences (24x3 each), all in the heading frame."""
    return _smpl_layout(refs.shape[2])(p, refs)


def tracking_errors(p: torch.Tensor, r: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-env error figures shared by rewards, terminations and evaluation, from simulated and
    reference body planes (13, N, 24)."""
    d = p - r
    sq = d.square()
    pos_sq = sq[POS].sum(0)  # (N, 24)
    # rotation angle of ref * conj(sim): 2 acos |w|, with w the quaternions' dot product (float32
    # resolves angles down to ~1e-3 rad this way, far below what the reward's kernel sees)
    cos_half = (p[QUAT] * r[QUAT]).sum(0).abs().clamp_(max=1.0)
    rot = 2.0 * torch.acos(cos_half)  # (N, 24)
    vel_sq = sq[LIN.start : ANG.stop].reshape(2, 3, *sq.shape[1:]).sum(1).mean(-1)  # linear, angular (2, N)
    return {
        "body_dist": pos_sq.sqrt(),
        "pos_sq": pos_sq.mean(-1),
        "rot_sq": rot.square().mean(-1),
        "vel_sq": vel_sq[0],
        "angvel_sq": vel_sq[1],
        "height_sq": sq[2, :, 0],
    }


def pd_power(kp: torch.Tensor, kd: torch.Tensor, force_limit: torch.Tensor, target: torch.Tensor,
             q: torch.Tensor, qd: torch.Tensor) -> torch.Tensor:
    """Mechanical power sum |tau * qdot| of the PD actuators (N,)."""
    tau = kp * (target - q) - kd * qd
    tau = torch.maximum(torch.minimum(tau, force_limit), -force_limit)
    return (tau * qd).abs().sum(-1)


def reference_foot_contact(body_pos: torch.Tensor, body_linvel: torch.Tensor, body_scale: torch.Tensor,
                           height_m: tuple[float, float], speed_m_s: tuple[float, float]) -> torch.Tensor:
    """(F, 4) how planted each sole body (``metrics.FOOT_JOINTS``: ankles, toes) of reference frames
    is, in [0, 1]: low (sole height, the body origin less its sole offset scaled with the body) and
    slow (horizontal speed). ``body_pos``/``body_linvel`` (F, 24, 3), ``body_scale`` (F,)."""
    feet = list(FOOT_JOINTS)
    sole = torch.as_tensor(SOLE_OFFSET_M, dtype=body_pos.dtype, device=body_pos.device)
    h = body_pos[:, feet, 2] - sole * body_scale[:, None]
    speed = body_linvel[:, feet, :2].norm(dim=-1)
    return ramp_down(h, *height_m) * ramp_down(speed, *speed_m_s)


def feet_slip(p: torch.Tensor, contact: torch.Tensor) -> torch.Tensor:
    """(N,) mean over the sole bodies of the simulated horizontal speed squared (m^2/s^2), each
    weighted by the reference's contact (N, 4); ``p``: simulated body planes (13, N, 24)."""
    lin = p[LIN.start : LIN.start + 2].index_select(-1, _foot_index(p.device))  # (2, N, 4)
    return (contact * lin.square().sum(0)).mean(-1)


@lru_cache(maxsize=None)
def _foot_index(device: torch.device) -> torch.Tensor:
    return torch.tensor(FOOT_JOINTS, device=device)
