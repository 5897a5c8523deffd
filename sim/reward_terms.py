"""Reward terms by name, and the fused reward a table of them computes.

A reward term is a named function of the step (:class:`StepInputs`) that returns
one figure per env (N,), and a row of a table gives it its weight and, for a
tracking term, the scale of its exp kernel:

* a kernel term is ``weight * exp(-scale * fn(step))`` (``fn``: an error, >= 0);
* any other term is ``weight * fn(step)``; a ``penalty`` enters with the weight
  negated (its config field holds a positive coefficient).

Weights and scales are numbers or names of :class:`~motionlib.sim.tracking_config.RewardConfig`
fields (so the config's fields, and the command-line flags that set them, keep
tuning the terms). The reward is the sum of the terms, clipped below at
``RewardConfig.clip_min``; the step info reports each term's mean by name.

The computation is fused: the kernel terms' errors are stacked and go through one
``exp``, and one product with the weight vector (built once from the table) scales
every term. Adding a term is a function and a row in the body's table
(:mod:`term_sets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

import torch

from .body_planes import POS, QUAT, heading_cos_sin
from .tracking_terms import feet_slip, pd_power


@dataclass
class StepInputs:
    """What a reward term reads after a control step (tensors on the env's device).

    ``env``: the :class:`~motionlib.sim.tracking_env.TrackingEnv` (its actuator gains
    ``kp``/``kd``/``force_limit``, reference library ``ref``, reference foot contacts
    ``ref_contact``, backend); ``planes``: the simulated bodies (13, N, 24); ``err``:
    :func:`~motionlib.sim.tracking_terms.tracking_errors` against the reference frame reached;
    ``frame``: (N,) flat reference index of that frame; ``action``/``prev_action``: the clamped
    actions (N, nu) of this step and the previous one; ``target``: the PD targets (N, nu)."""

    env: Any
    planes: torch.Tensor
    err: dict[str, torch.Tensor]
    frame: torch.Tensor
    action: torch.Tensor
    prev_action: torch.Tensor
    target: torch.Tensor

    @cached_property
    def qpos(self) -> torch.Tensor:
        return self.env.backend.qpos.to(self.env.device, torch.float32)

    @cached_property
    def qvel(self) -> torch.Tensor:
        return self.env.backend.qvel.to(self.env.device, torch.float32)

    @cached_property
    def ref_planes(self) -> torch.Tensor:
        """The reference frame reached, as body planes (13, N, nb)."""
        return self.env.ref.planes_at(self.frame)


Coef = float | str  # a number, or the name of a RewardConfig field


@dataclass(frozen=True)
class RewardTerm:
    """One named reward term (see the module text)."""

    name: str
    fn: Callable[[StepInputs], torch.Tensor]
    weight: Coef
    kernel: Coef | None = None  # scale of the exp kernel; None: the term is linear in fn
    penalty: bool = False  # the weight enters negated


def _coef(cfg, c: Coef, term: str) -> float:
    if isinstance(c, str):
        if not hasattr(cfg, c):
            raise ValueError(f"reward term {term!r}: {type(cfg).__name__} has no field {c!r}")
        return float(getattr(cfg, c))
    return float(c)


class FusedReward:
    """The reward of a table of :class:`RewardTerm` rows with a RewardConfig's weights. A term whose
    weight is 0 adds nothing, so it is not computed (its column of the terms is 0)."""

    def __init__(self, terms: tuple[RewardTerm, ...], cfg, device: torch.device | str = "cpu"):
        names = [t.name for t in terms]
        if len(set(names)) != len(names):
            raise ValueError(f"reward terms named twice: {names}")
        self.names = tuple(names)
        self.clip_min = float(cfg.clip_min)
        weight = {t.name: (-1.0 if t.penalty else 1.0) * _coef(cfg, t.weight, t.name) for t in terms}
        live = tuple(t for t in terms if weight[t.name] != 0.0)
        self.kernel_terms = tuple(t for t in live if t.kernel is not None)
        self.linear_terms = tuple(t for t in live if t.kernel is None)
        fused = self.kernel_terms + self.linear_terms  # the order the terms are computed in
        self.scales = torch.tensor([_coef(cfg, t.kernel, t.name) for t in self.kernel_terms], device=device)
        self.weights = torch.tensor([weight[t.name] for t in fused], device=device)
        # the computed columns' places in table order (None: every term computed, in table order already)
        cols = [names.index(t.name) for t in fused]
        self._cols = None if cols == list(range(len(terms))) else torch.tensor(cols, device=device)

    def active(self, name: str) -> bool:
        """Whether the term ``name`` is computed (in the table, with a weight other than 0)."""
        return any(t.name == name for t in self.kernel_terms + self.linear_terms)

    def __call__(self, step: StepInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """The reward (N,), clipped below at ``clip_min``, and its terms (N, len(names)) in table order."""
        parts = []
        if self.kernel_terms:
            parts.append(torch.exp(-self.scales * torch.stack([t.fn(step) for t in self.kernel_terms], -1)))
        if self.linear_terms:
            parts.append(torch.stack([t.fn(step) for t in self.linear_terms], -1))
        if not parts:  # every weight 0
            terms = torch.zeros(step.frame.shape[0], len(self.names), device=step.frame.device)
            return torch.clamp(terms.sum(-1), min=self.clip_min), terms
        weighted = torch.cat(parts, -1) * self.weights
        if self._cols is None:
            terms = weighted
        else:
            terms = weighted.new_zeros(weighted.shape[:-1] + (len(self.names),))
            terms[..., self._cols] = weighted
        return torch.clamp(terms.sum(-1), min=self.clip_min), terms


# ------------------------------------------------------------------------------------------------
# The SMPL humanoid's reward terms (RewardConfig documents the weights and where they come from).

def body_pos_error(s: StepInputs) -> torch.Tensor:
    """Mean over bodies of the squared position error (m^2)."""
    return s.err["pos_sq"]


def body_rot_error(s: StepInputs) -> torch.Tensor:
    """Mean over bodies of the squared rotation angle of ref * conj(sim) (rad^2)."""
    return s.err["rot_sq"]


def body_lin_vel_error(s: StepInputs) -> torch.Tensor:
    return s.err["vel_sq"]


def body_ang_vel_error(s: StepInputs) -> torch.Tensor:
    return s.err["angvel_sq"]


def root_height_error(s: StepInputs) -> torch.Tensor:
    return s.err["height_sq"]


def joint_power(s: StepInputs) -> torch.Tensor:
    """Mechanical power sum |tau * qdot| of the PD actuators (W)."""
    e = s.env
    return pd_power(e.kp, e.kd, e.force_limit, s.target, s.qpos[:, 7:], s.qvel[:, 6:])


def action_rate(s: StepInputs) -> torch.Tensor:
    """Mean squared change of the action since the previous step."""
    return ((s.action - s.prev_action) ** 2).mean(-1)


def body_jerk_error(s: StepInputs) -> torch.Tensor:
    """Mean over bodies of the squared difference between the simulated and the reference body jerk,
    (m/s^3)^2: the second difference of the linear velocities at the last three control steps x fps^2
    (the env keeps the two before this one, ``linvel_hist``). 0 in an episode's first two steps, where
    the history does not reach back into it."""
    e = s.env
    hist = e.linvel_hist  # (2, 3, N, bodies): the two steps before this one, latest first
    fps2 = float(e.cfg.control_fps) ** 2
    sim = (s.planes[7:10] - 2.0 * hist[0] + hist[1]) * fps2  # (3, N, 24)
    v = e.ref.body_linvel
    # k frames back (clamped at the library's start; masked below where that leaves the episode)
    back = lambda k: v.index_select(0, (s.frame - k).clamp(min=0))  # noqa: E731
    ref = (back(0) - 2.0 * back(1) + back(2)) * fps2
    err = ((sim - ref.permute(2, 0, 1)) ** 2).sum(0).mean(-1)  # (N,)
    return torch.where(e.steps >= 3, err, torch.zeros_like(err))


def reference_feet_slip(s: StepInputs) -> torch.Tensor:
    """Horizontal speed squared of the sole bodies where the reference plants its feet (m^2/s^2)."""
    return feet_slip(s.planes, s.env.ref_contact.index_select(0, s.frame))


SMPL_REWARDS: tuple[RewardTerm, ...] = (
    RewardTerm("r_pos", body_pos_error, weight="w_pos", kernel="k_pos"),
    RewardTerm("r_rot", body_rot_error, weight="w_rot", kernel="k_rot"),
    RewardTerm("r_vel", body_lin_vel_error, weight="w_vel", kernel="k_vel"),
    RewardTerm("r_angvel", body_ang_vel_error, weight="w_angvel", kernel="k_angvel"),
    RewardTerm("r_height", root_height_error, weight="w_height", kernel="k_height"),
    RewardTerm("p_power", joint_power, weight="power_coef", penalty=True),
    RewardTerm("p_action_rate", action_rate, weight="action_rate_coef", penalty=True),
    RewardTerm("p_feet_slip", reference_feet_slip, weight="feet_slip_coef", penalty=True),
    RewardTerm("p_body_jerk", body_jerk_error, weight="body_jerk_coef", penalty=True),
)


# ------------------------------------------------------------------------------------------------
# An MJCF robot's reward terms, after BeyondMimic (Liao et al. 2025): the anchor (body 0, the floating
# base) tracked in the world, every other body relative to the anchor (the reference's bodies moved
# to the simulated anchor and turned by the yaw between the two anchors, the height kept from the
# reference), body velocities in the world, and penalties on the action rate and on joints past their
# range. Weights and kernel scales: RewardConfig's ``w_anchor_*``/``k_anchor_*``, ``w_rel_*``/``k_rel_*``.

def _angle_sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared rotation angle between quaternion planes (4, ...) ``a`` and ``b``."""
    return (2.0 * torch.acos((a * b).sum(0).abs().clamp(max=1.0))).square()


def _yaw_delta(s: StepInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin (N,) of the simulated anchor's yaw less the reference anchor's."""
    cs, ss = heading_cos_sin(s.planes[QUAT, :, 0].unbind(0))
    cr, sr = heading_cos_sin(s.ref_planes[QUAT, :, 0].unbind(0))
    return cs * cr + ss * sr, ss * cr - cs * sr


def anchor_pos_error(s: StepInputs) -> torch.Tensor:
    """Squared world distance of the anchor body to the reference's (m^2)."""
    return (s.planes[POS, :, 0] - s.ref_planes[POS, :, 0]).square().sum(0)


def anchor_rot_error(s: StepInputs) -> torch.Tensor:
    """Squared rotation angle of the anchor body against the reference's (rad^2)."""
    return _angle_sq(s.planes[QUAT, :, 0], s.ref_planes[QUAT, :, 0])


def relative_body_pos_error(s: StepInputs) -> torch.Tensor:
    """Mean over bodies of the squared distance to the reference body relative to the anchor (m^2)."""
    p, r = s.planes[POS], s.ref_planes[POS]
    c, sn = (v[:, None] for v in _yaw_delta(s))
    rel = r - r[:, :, :1]
    x, y = c * rel[0] - sn * rel[1], sn * rel[0] + c * rel[1]
    target = torch.stack([p[0, :, :1] + x, p[1, :, :1] + y, r[2, :, :1] + rel[2]])
    return (p - target).square().sum(0).mean(-1)


def relative_body_rot_error(s: StepInputs) -> torch.Tensor:
    """Mean over bodies of the squared rotation angle to the reference body turned by the anchors' yaw
    difference (rad^2)."""
    c, sn = _yaw_delta(s)
    half = 0.5 * torch.atan2(sn, c)
    hc, hs = torch.cos(half)[:, None], torch.sin(half)[:, None]
    w, x, y, z = s.ref_planes[QUAT].unbind(0)
    turned = torch.stack([hc * w - hs * z, hc * x - hs * y, hc * y + hs * x, hc * z + hs * w])
    return _angle_sq(s.planes[QUAT], turned).mean(-1)


def joint_limit(s: StepInputs) -> torch.Tensor:
    """Sum over the actuated joints of how far each is past its range (rad)."""
    e = s.env
    q = s.qpos.index_select(1, e.actuated_qpos)
    return (torch.relu(q - e.joint_upper) + torch.relu(e.joint_lower - q)).sum(-1)


MJCF_ROBOT_REWARDS: tuple[RewardTerm, ...] = (
    RewardTerm("r_anchor_pos", anchor_pos_error, weight="w_anchor_pos", kernel="k_anchor_pos"),
    RewardTerm("r_anchor_rot", anchor_rot_error, weight="w_anchor_rot", kernel="k_anchor_rot"),
    RewardTerm("r_rel_pos", relative_body_pos_error, weight="w_rel_pos", kernel="k_rel_pos"),
    RewardTerm("r_rel_rot", relative_body_rot_error, weight="w_rel_rot", kernel="k_rel_rot"),
    RewardTerm("r_vel", body_lin_vel_error, weight="w_rel_vel", kernel="k_rel_vel"),
    RewardTerm("r_angvel", body_ang_vel_error, weight="w_rel_angvel", kernel="k_rel_angvel"),
    RewardTerm("p_action_rate", action_rate, weight="action_rate_coef", penalty=True),
    RewardTerm("p_joint_limit", joint_limit, weight="joint_limit_coef", penalty=True),
)

# The same robot with the humanoid's PHC-style terms instead (``term_sets``: "mjcf_robot_world"): every tracked
# body's world position, orientation and velocities against the reference's, with the humanoid's kernels
# (``k_pos`` 100 /m^2: 0.1 m off on every body scores exp(-1)), so the reward measures what the evaluation
# does (world-frame body distance), and keeps telling 5 cm from 15 cm apart where BeyondMimic's 0.3 m widths
# hardly do (0.97 against 0.78). Root height, the action rate and the joint-limit penalty as above.
_WORLD_TERMS = ("r_pos", "r_rot", "r_vel", "r_angvel", "r_height", "p_action_rate")
MJCF_ROBOT_WORLD_REWARDS: tuple[RewardTerm, ...] = (
    *(t for t in SMPL_REWARDS if t.name in _WORLD_TERMS),
    *(t for t in MJCF_ROBOT_REWARDS if t.name == "p_joint_limit"),
)
