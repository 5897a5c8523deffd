"""Observations, rewards and terminations of motion tracking, batched in torch.

Everything here is a pure function of flat tensors (simulated body state from
the backend's sensors, reference body state gathered from the
:class:`~motionlib.sim.reference.ReferenceLibrary`), so it runs unchanged on
CPU and GPU backends.

Body state layout (SMPL joint order, 24 bodies): positions (N,24,3) world,
orientations (N,24,4) sim-frame quaternions wxyz, linear and angular
velocities (N,24,3) world. "Heading frame": the world rotated by the root's
yaw (the x axis of the pelvis body projected on the ground), origin at the
root; observations are expressed there so the policy is invariant to where
the humanoid stands and which way it faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from motionlib.motion.rotations import (
    matrix_to_6d_t,
    quat_angle_t,
    quat_conj_t,
    quat_mul_t,
    quat_rotate_t,
    quat_to_matrix_t,
    yaw_quat_t,
)

NB = 24


@dataclass
class BodyState:
    pos: torch.Tensor  # (N, 24, 3)
    quat: torch.Tensor  # (N, 24, 4)
    linvel: torch.Tensor  # (N, 24, 3)
    angvel: torch.Tensor  # (N, 24, 3)

    @staticmethod
    def from_sensors(sensordata: torch.Tensor) -> "BodyState":
        """Sensor layout written by ``sim.humanoid.build_mjcf``."""
        n = sensordata.shape[0]
        s = sensordata.to(torch.float32)
        o = 0
        pos = s[:, o : o + NB * 3].reshape(n, NB, 3); o += NB * 3
        quat = s[:, o : o + NB * 4].reshape(n, NB, 4); o += NB * 4
        lin = s[:, o : o + NB * 3].reshape(n, NB, 3); o += NB * 3
        ang = s[:, o : o + NB * 3].reshape(n, NB, 3)
        return BodyState(pos, quat, lin, ang)

    def select(self, ids: torch.Tensor) -> "BodyState":
        return BodyState(self.pos[ids], self.quat[ids], self.linvel[ids], self.angvel[ids])


def heading_yaw(root_quat: torch.Tensor) -> torch.Tensor:
    """Yaw of the pelvis body's x (forward) axis."""
    ex = torch.zeros_like(root_quat[..., 1:])  # the x axis, built on the device (no host-to-device copy per step)
    ex[..., 0] = 1.0
    fwd = quat_rotate_t(root_quat, ex)
    return torch.atan2(fwd[..., 1], fwd[..., 0])


def _inv_heading(root_quat: torch.Tensor) -> torch.Tensor:
    return yaw_quat_t(-heading_yaw(root_quat))  # (N, 4)


def quat_to_6d(q: torch.Tensor) -> torch.Tensor:
    return matrix_to_6d_t(quat_to_matrix_t(q))


def self_obs_dim() -> int:
    return 1 + (NB - 1) * 3 + NB * 6 + NB * 3 + NB * 3


def task_obs_dim(num_future: int) -> int:
    return num_future * NB * (3 + 6 + 3 + 3 + 3)


def self_observation(s: BodyState) -> torch.Tensor:
    n = s.pos.shape[0]
    hinv = _inv_heading(s.quat[:, 0])[:, None, :].expand(n, NB, 4)
    root = s.pos[:, :1]
    local_pos = quat_rotate_t(hinv[:, 1:], s.pos[:, 1:] - root)
    local_rot = quat_to_6d(quat_mul_t(hinv, s.quat))
    lin = quat_rotate_t(hinv, s.linvel)
    ang = quat_rotate_t(hinv, s.angvel)
    return torch.cat([s.pos[:, 0, 2:3], local_pos.reshape(n, -1), local_rot.reshape(n, -1),
                      lin.reshape(n, -1), ang.reshape(n, -1)], dim=-1)


def task_observation(s: BodyState, refs: list[BodyState]) -> torch.Tensor:
    """Differences to each future reference frame, in the humanoid's heading frame.

    Per future frame: body position differences (24x3), rotation differences
    in 6D (24x6), reference positions relative to the humanoid's root (24x3),
    linear and angular velocity differences (24x3 each)."""
    n, k = s.pos.shape[0], len(refs)
    rpos = torch.stack([r.pos for r in refs], 1)  # (N, K, 24, 3)
    rquat = torch.stack([r.quat for r in refs], 1)
    rlin = torch.stack([r.linvel for r in refs], 1)
    rang = torch.stack([r.angvel for r in refs], 1)
    hinv = _inv_heading(s.quat[:, 0])[:, None, None, :].expand(n, k, NB, 4)
    vec = torch.stack([rpos - s.pos[:, None], rpos - s.pos[:, None, :1], rlin - s.linvel[:, None],
                       rang - s.angvel[:, None]], 2)  # (N, K, 4, 24, 3)
    vec = quat_rotate_t(hinv[:, :, None].expand(n, k, 4, NB, 4), vec)
    drot = quat_mul_t(quat_mul_t(hinv, quat_mul_t(rquat, quat_conj_t(s.quat)[:, None])), quat_conj_t(hinv))
    drot6 = quat_to_6d(drot)  # (N, K, 24, 6)
    parts = [vec[:, :, 0].reshape(n, k, -1), drot6.reshape(n, k, -1), vec[:, :, 1].reshape(n, k, -1),
             vec[:, :, 2].reshape(n, k, -1), vec[:, :, 3].reshape(n, k, -1)]
    return torch.cat(parts, dim=-1).reshape(n, -1)


def tracking_errors(s: BodyState, r: BodyState) -> dict[str, torch.Tensor]:
    """Per-env error figures shared by rewards, terminations and evaluation."""
    dist = (s.pos - r.pos).norm(dim=-1)  # (N, 24)
    rot = quat_angle_t(quat_mul_t(r.quat, quat_conj_t(s.quat)))  # (N, 24)
    return {
        "body_dist": dist,
        "pos_sq": (dist**2).mean(-1),
        "rot_sq": (rot**2).mean(-1),
        "vel_sq": ((s.linvel - r.linvel) ** 2).sum(-1).mean(-1),
        "angvel_sq": ((s.angvel - r.angvel) ** 2).sum(-1).mean(-1),
        "height_sq": (s.pos[:, 0, 2] - r.pos[:, 0, 2]) ** 2,
    }


def tracking_reward(err: dict[str, torch.Tensor], power: torch.Tensor, action_rate: torch.Tensor, cfg) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted exp kernels minus power and action-rate penalties (see RewardConfig)."""
    terms = {
        "r_pos": cfg.w_pos * torch.exp(-cfg.k_pos * err["pos_sq"]),
        "r_rot": cfg.w_rot * torch.exp(-cfg.k_rot * err["rot_sq"]),
        "r_vel": cfg.w_vel * torch.exp(-cfg.k_vel * err["vel_sq"]),
        "r_angvel": cfg.w_angvel * torch.exp(-cfg.k_angvel * err["angvel_sq"]),
        "r_height": cfg.w_height * torch.exp(-cfg.k_height * err["height_sq"]),
        "p_power": -cfg.power_coef * power,
        "p_action_rate": -cfg.action_rate_coef * action_rate,
    }
    total = sum(terms.values())
    return torch.clamp(total, min=cfg.clip_min), terms


def pd_power(kp: torch.Tensor, kd: torch.Tensor, force_limit: torch.Tensor, target: torch.Tensor,
             q: torch.Tensor, qd: torch.Tensor) -> torch.Tensor:
    """Mechanical power sum |tau * qdot| of the PD actuators (N,)."""
    tau = kp * (target - q) - kd * qd
    tau = torch.maximum(torch.minimum(tau, force_limit), -force_limit)
    return (tau * qd).abs().sum(-1)
