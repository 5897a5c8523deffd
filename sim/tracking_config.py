"""Configuration of the motion-tracking environment (typed, small, documented)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RewardConfig:
    """Weights and scales of the tracking reward.

    The exp-kernel scales follow PHC (Luo et al., ICCV 2023, "Perpetual Humanoid
    Control"): k_pos 100, k_rot 10, k_vel 0.1, k_angvel 0.1 on per-body mean
    squared errors, weights 0.5/0.3/0.1/0.1; we move a little weight to a root
    height term. The power penalty (coef * sum |tau * qdot|) follows PHC's term
    but with a 25x smaller coefficient than its 5e-4: with the SMPL humanoid's
    PD gains a walking clip already costs ~750 W at zero residual, so 5e-4 ate
    half the reward and, with exploration noise, drove it to the zero clip
    (measured: reward per step 0.04 instead of ~0.5). The action-rate penalty
    is in the spirit of BeyondMimic (Liao et al. 2025), scaled down for our
    residual actions.

    The feet-slip penalty (``feet_slip_coef`` x the mean over the four sole
    bodies, ankles and toes, of the simulated horizontal speed squared, m^2/s^2,
    weighted by how planted the reference's foot is: low and slow, soft ramps)
    is the foot-slip term of legged-robot RL (legged_gym's ``feet_slip``,
    Rudin et al. 2022, which gates it by measured contact forces), gated by
    the reference's contacts instead, so a foot the clip plants is asked to
    stay put while the tracking terms keep the rest. It is 0 by default
    (the policies trained before it); the step info reports it either way.

    The body-jerk penalty (``body_jerk_coef`` x the mean over bodies of the squared difference
    between the simulated and the reference body jerk, (m/s^3)^2, jerk as the second difference of
    the bodies' linear velocities over three control steps x fps^2) asks the simulated motion to be
    no jerkier than the reference: refine's output of clean capture is about twice as jerky as its
    input, and about 1.8x already with zero residual (docs/tracking.md "Smooth output"). It is 0 by
    default (the shipped policy was trained without it); 1e-6 makes a jerk error of 300 m/s^3 on every
    body cost 0.09 of a step reward of ~0.5-0.8.
    """

    w_pos: float = 0.45
    w_rot: float = 0.25
    w_vel: float = 0.1
    w_angvel: float = 0.1
    w_height: float = 0.1
    k_pos: float = 100.0
    k_rot: float = 10.0
    k_vel: float = 0.1
    k_angvel: float = 0.1
    k_height: float = 100.0
    power_coef: float = 2e-5
    action_rate_coef: float = 0.01
    feet_slip_coef: float = 0.0
    body_jerk_coef: float = 0.0
    # a reference sole point counts as planted below the first height / speed, not at all above the second
    feet_contact_height_m: tuple[float, float] = (0.02, 0.04)
    feet_contact_speed_m_s: tuple[float, float] = (0.3, 0.6)
    # rewards are clipped at zero from below so surviving never costs (PHC keeps
    # the tracking reward positive and relies on early termination)
    clip_min: float = 0.0
    # An MJCF robot's terms ("mjcf_robot", sim.reward_terms): BeyondMimic's tracking terms with its
    # kernel widths (k = 1 / std^2: anchor and relative positions std 0.3 m, orientations 0.4 rad,
    # linear velocities 1 m/s, angular 3.14 rad/s) and its weight ratios (0.5 : 0.5 : 1 : 1 : 1 : 1),
    # scaled to sum to 1 as the humanoid's do; its joint-limit penalty (10) scaled by the same 1/5.
    # The action-rate penalty is ``action_rate_coef`` above (the residual actions are the humanoid's).
    w_anchor_pos: float = 0.1
    w_anchor_rot: float = 0.1
    w_rel_pos: float = 0.2
    w_rel_rot: float = 0.2
    w_rel_vel: float = 0.2
    w_rel_angvel: float = 0.2
    k_anchor_pos: float = 1.0 / 0.3 ** 2
    k_anchor_rot: float = 1.0 / 0.4 ** 2
    k_rel_pos: float = 1.0 / 0.3 ** 2
    k_rel_rot: float = 1.0 / 0.4 ** 2
    k_rel_vel: float = 1.0
    k_rel_angvel: float = 1.0 / 3.14 ** 2
    joint_limit_coef: float = 2.0


@dataclass
class TrackingConfig:
    num_envs: int = 64
    control_fps: float = 30.0
    substeps: int = 4  # physics at control_fps * substeps = 120 Hz
    # how the PD target moves over the substeps of a control step: "zoh" holds the new target for all of
    # them; "foh" ramps it from the previous step's target to the new one (first-order hold: substep k of
    # S gets prev + (new - prev) k / S, so the last substep reaches the new target; 1 substep is "zoh")
    target_hold: str = "zoh"
    future_frames: tuple[int, ...] = (1, 3)  # reference frames ahead in the observation
    action_scale: float = 0.5  # radians of residual around the reference pose per unit action
    # PD with a velocity reference: the reference joint velocity is folded into the
    # position target (q* + kd/kp * qd_ref), removing the damping lag (kd/kp = 0.1 s
    # on the SMPL humanoid's gains) that otherwise loses a fast swing foot in ~3 steps
    velocity_feedforward: bool = True
    feedforward_limit: float = 0.3  # rad; mocap velocity spikes must not become target jumps
    max_episode_steps: int = 300
    termination_distance: float = 0.25  # any body farther than this from the reference ends a training episode
    success_distance: float = 0.5  # evaluation: mean body distance (PHC)
    rsi: bool = True  # reference state initialisation at random times
    failure_weighted: bool = True
    sampling_bin_s: float = 1.0
    sampling_uniform_mix: float = 0.5
    early_termination: bool = True
    reward: RewardConfig = field(default_factory=RewardConfig)
    seed: int = 0
    # the body's reward and observation terms (sim.term_sets): what the policy is trained on and sees;
    # "smpl_humanoid" or "mjcf_robot"
    terms: str = "smpl_humanoid"


@dataclass(frozen=True)
class EvalConfig:
    """The tracking environment driven by an evaluation loop (evaluation, refinement).

    An episode is lost (terminated) when the mean body distance to the reference
    exceeds ``success_distance`` (PHC's success rule; None: the TrackingConfig's
    ``success_distance``), never at the training's ``termination_distance``, and
    finished worlds are not restarted in the step: the loop restarts the worlds it
    wants, where it wants, with ``TrackingEnv.restart``.
    """

    success_distance: float | None = None
