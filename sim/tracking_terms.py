"""Observations, rewards and terminations of motion tracking, batched in torch.

Everything here is a pure function of flat tensors (simulated body state from
the backend's sensors, reference body state gathered from the
:class:`~motionlib.sim.reference.ReferenceLibrary`), so it runs unchanged on
CPU and GPU backends. The math runs on component planes (13, N, ..., 24):
see :mod:`body_planes` for the layout and why.

Body state (SMPL joint order, 24 bodies): positions world, orientations
sim-frame quaternions wxyz, linear and angular velocities world. "Heading
frame": the world rotated by the root's yaw (the x axis of the pelvis body
projected on the ground), origin at the root; observations are expressed
there so the policy is invariant to where the humanoid stands and which way
it faces.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from motionlib.motion.metrics import FOOT_JOINTS, SOLE_OFFSET_M, ramp_down

from .body_planes import (
    ANG,
    LIN,
    NB,
    POS,
    QUAT,
    columns01_stacked,
    heading_cos_sin,
    mul_conj_stacked,
    packed_from_sensors,
)


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
    return 1 + (NB - 1) * 3 + NB * 6 + NB * 3 + NB * 3


def task_obs_dim(num_future: int) -> int:
    return num_future * NB * (3 + 6 + 3 + 3 + 3)


def _heading(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin of each env's heading yaw, (N,), from sim planes (13, N, 24)."""
    return heading_cos_sin(p[QUAT, :, 0].unbind(0))


# The observation is assembled from two stacks of planes: the self part (16, N, 24) and the task part
# (18, N, K, 24). Channels are ordered so that all x components of the vectors that turn into the
# heading frame come first, then their y components (one rotation for all of them), then the rest; a
# fixed permutation of the flattened stacks (env-major) gives the documented layout
# (_observation_permutation).
_SELF_VECS = 5  # local position, rotation column 0, rotation column 1, linear velocity, angular velocity
_TASK_VECS = 4  # position difference, position relative to the root, linear and angular velocity differences
_SELF_CH, _TASK_CH = 3 * _SELF_VECS + 1, 3 * _TASK_VECS + 6


@lru_cache(maxsize=None)
def _observation_permutation(num_future: int, device: torch.device) -> torch.Tensor:
    """Columns of [self stack (16 x 24) | task stacks (K x 18 x 24)], flattened, in observation order."""
    at = lambda ch, b: ch * NB + b  # noqa: E731
    cols = [at(3 * _SELF_VECS, 0)]  # root height: the z plane of positions, body 0
    cols += [at(c * _SELF_VECS + 0, b) for b in range(1, NB) for c in range(3)]  # local positions
    cols += [at(c * _SELF_VECS + v, b) for b in range(NB) for v in (1, 2) for c in range(3)]  # 6D rotations
    for v in (3, 4):  # linear, angular velocities
        cols += [at(c * _SELF_VECS + v, b) for b in range(NB) for c in range(3)]
    for k in range(num_future):
        o = _SELF_CH * NB + k * _TASK_CH * NB
        cols += [o + at(c * _TASK_VECS + 0, b) for b in range(NB) for c in range(3)]  # position differences
        cols += [o + at(3 * _TASK_VECS + j, b) for b in range(NB) for j in range(6)]  # rotation differences
        for v in (1, 2, 3):  # relative positions, linear and angular velocity differences
            cols += [o + at(c * _TASK_VECS + v, b) for b in range(NB) for c in range(3)]
    return torch.tensor(cols, dtype=torch.long, device=device)


def _unyaw_vectors(v: torch.Tensor, c: torch.Tensor, s: torch.Tensor) -> list[torch.Tensor]:
    """Vectors stacked vector-major (3 * nv, ...) (x y z of the first, then the next...) turned into
    the heading frame: [x planes (nv, ...), y planes, z planes] (``c``/``s`` broadcast over them)."""
    x, y = v[0::3], v[1::3]
    return [c * x + s * y, c * y - s * x, v[2::3]]


def observation(p: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
    """(N, self_obs_dim + task_obs_dim(K)) from the simulated body planes ``p`` (13, N, 24) and the
    future reference frames ``refs`` (13, N, K, 24) (:mod:`body_planes`).

    Self part: root height, then in the heading frame body positions relative to
    the root (bodies 1..23, x3), orientations in 6D (24x6), linear and angular
    velocities (24x3 each). Task part, per future frame: body position
    differences (24x3), rotation differences ref * conj(sim) in 6D (24x6),
    reference positions relative to the humanoid's root (24x3), linear and
    angular velocity differences (24x3 each), all in the heading frame."""
    n, k = refs.shape[1], refs.shape[2]
    c, s = _heading(p)
    c1, s1, c2, s2 = c[:, None], s[:, None], c[:, None, None], s[:, None, None]
    pos = p[POS]
    vecs = torch.cat([pos - pos[:, :, :1], columns01_stacked(p[QUAT]), p[LIN.start : ANG.stop]])  # (15, N, 24)
    own = torch.cat(_unyaw_vectors(vecs, c1, s1) + [pos[2:]])  # (16, N, 24)

    now = p[:, :, None]  # (13, N, 1, 24) against the K future frames
    rpos = refs[POS]
    diffs = torch.cat([rpos - now[POS], rpos - now[POS, :, :, :1], refs[LIN.start : ANG.stop] - now[LIN.start : ANG.stop]])
    q = mul_conj_stacked(refs[QUAT], now[QUAT])  # (4, N, K, 24)
    # conjugating by the heading turns the rotation axis: the vector part into the heading frame
    q = torch.cat([q[:1], *_unyaw_vectors(q[1:], c2, s2)])
    task = torch.cat(_unyaw_vectors(diffs, c2, s2) + [columns01_stacked(q)])  # (18, N, K, 24)
    flat = torch.cat([own.permute(1, 0, 2).reshape(n, -1), task.permute(1, 2, 0, 3).reshape(n, -1)], dim=-1)
    return flat.index_select(1, _observation_permutation(k, flat.device))


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


REWARD_TERMS = ("r_pos", "r_rot", "r_vel", "r_angvel", "r_height", "p_power", "p_action_rate", "p_feet_slip")
_KERNEL_ERRORS = ("pos_sq", "rot_sq", "vel_sq", "angvel_sq", "height_sq")


def reward_coefficients(cfg, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(scales k (5,), weights w (8,)) of :func:`tracking_reward` from a RewardConfig."""
    k = torch.tensor([cfg.k_pos, cfg.k_rot, cfg.k_vel, cfg.k_angvel, cfg.k_height], device=device)
    w = torch.tensor([cfg.w_pos, cfg.w_rot, cfg.w_vel, cfg.w_angvel, cfg.w_height, -cfg.power_coef,
                      -cfg.action_rate_coef, -cfg.feet_slip_coef], device=device)
    return k, w


def tracking_reward(err: dict[str, torch.Tensor], power: torch.Tensor, action_rate: torch.Tensor,
                    feet_slip: torch.Tensor, coefs: tuple[torch.Tensor, torch.Tensor],
                    clip_min: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted exp kernels minus power, action-rate and feet-slip penalties (see RewardConfig).

    ``coefs``: :func:`reward_coefficients` of the RewardConfig, made once by the caller. Returns the
    reward (N,), clipped below at ``clip_min``, and its terms (N, 8) in ``REWARD_TERMS`` order."""
    k, w = coefs
    kernels = torch.exp(-k * torch.stack([err[e] for e in _KERNEL_ERRORS], -1))
    terms = torch.cat([kernels, torch.stack([power, action_rate, feet_slip], -1)], -1) * w
    return torch.clamp(terms.sum(-1), min=clip_min), terms


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
