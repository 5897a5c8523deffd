"""The motion-tracking environment: N simulated bodies following reference clips.

The body is the SMPL humanoid by default, or any :class:`~motionlib.sim.body.SimBody` (an MJCF robot,
:mod:`robot_body`) with the term set that fits it; the rest of this text holds for every body.

Backend-agnostic core: physics lives in a backend (``cpu``: ``mujoco.rollout``
threads; ``warp``: MuJoCo Warp on a GPU or warp's CPU device) that exposes
flat ``qpos``/``qvel``/``sensordata`` tensors; observations, rewards,
terminations, resets and sampling are batched torch code in this file and
:mod:`tracking_terms`, on the env's device; the body's reward and observation
terms are named in tables (:mod:`reward_terms`, :mod:`observation_terms`)
that ``TrackingConfig.terms`` picks (:mod:`term_sets`). A step never reads
values back to the host: resets are masked tensor ops and the ``info``
figures are tensors (per env, masked by ``info["done"]``, or 0-dim).

Step semantics (control at ``control_fps``, physics ``substeps`` x faster):
an env at reference frame ``t`` receives an action, its PD targets are the
reference joint coordinates of frame ``t+1`` plus ``action_scale * action``
(residual actions), physics advances one control period, the frame becomes
``t+1`` and the reward compares the simulated bodies with reference frame
``t+1``. Episodes end when a body is more than ``termination_distance`` from
the reference (terminated), at the end of the clip or after
``max_episode_steps`` (truncated). Simulator blow-ups are counted in
``info["blowups"]`` and end that env's episode as terminated.

Training (the default) restarts finished episodes within the step, at starts
drawn from the failure-weighted sampler. An evaluation loop constructs the env
with an :class:`~motionlib.sim.tracking_config.EvalConfig` (episodes lost at
PHC's success distance, no restarts in the step), restarts the worlds it wants
at the (clip, frame) it wants with :meth:`TrackingEnv.restart`, and tells each
step which worlds are in use (``step(actions, active)``).

``info`` of a step: ``terms`` (mean of each reward term), ``reward_mean``,
``blowups`` (0-dim tensors); ``mean_body_dist``/``max_body_dist`` (N,);
``done`` (N,) and, valid where done, ``done_clip``, ``done_frame``,
``done_start``, ``done_terminated``, ``done_clip_end``, ``episode_return``,
``episode_steps`` (N,).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
import torch

from motionlib.motion.clip import Motion

from .action_filter import ActionFilter, ActionFilterConfig
from .backend_cpu import CpuBackend, CpuBackendConfig, torch_single_thread
from .body import SimBody, SmplHumanoidBody, build_models, tracking_humanoid  # noqa: F401 (re-exported)
from .body_planes import NCH, planes_from_sensors
from .floor_lift import frames_floor_lift, reference_floor_lift
from .humanoid import HumanoidConfig
from .observation_terms import ObservationLayout
from .reference import ReferenceLibrary
from .reward_terms import FusedReward, StepInputs
from .sampling import FailureWeightedSampler
from .term_sets import term_set_for
from .tracking_config import EvalConfig, TrackingConfig
from .tracking_terms import BodyState, tracking_errors


# how the PD target moves over a control step's substeps (TrackingConfig.target_hold)
TARGET_HOLDS = ("zoh", "foh", "foh_lead")


def hold_weights(hold: str, substeps: int) -> torch.Tensor | None:
    """The weights w_k (S,) of the previous control step's target and the new one, p + (t - p) w_k, over
    the S substeps: "foh" ramps k / S, k = 1..S (the last substep reaches the new target; in the mean the
    target lags "zoh"'s by half a control step); "foh_lead" the same ramp half a control step ahead,
    k / S + (S - 1) / (2 S) (past the new target in the last substeps; its mean over the step is the new
    target, as "zoh"'s). None for "zoh" and for one substep (the target is held)."""
    s = max(int(substeps), 1)
    if hold == "zoh" or s == 1:
        return None
    w = torch.arange(1, s + 1, dtype=torch.float64) / s
    return (w + (s - 1) / (2 * s) if hold == "foh_lead" else w).float()


@dataclass
class StepResult:
    obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    info: dict


class TrackingEnv:
    def __init__(self, clips: list[Motion] | ReferenceLibrary, cfg: TrackingConfig = TrackingConfig(),
                 humanoid: HumanoidConfig = HumanoidConfig(), backend: str = "cpu",
                 backend_cfg=None, device: str = "cpu", models: list[mujoco.MjModel] | None = None, *,
                 body: SimBody | None = None, evaluation: EvalConfig | None = None, auto_reset: bool | None = None,
                 record_final_obs: bool = False, action_filter: ActionFilterConfig | None = None):
        """``backend``: "cpu" (``backend_cfg``: CpuBackendConfig) or "warp"
        (WarpBackendConfig; its device defaults to ``device``). ``models``: the body models of the
        reference's bodies, built already (``build_models(ref.bodies, tracking_humanoid(cfg,
        humanoid))``; read only, so environments side by side can share them); default: built here.

        ``evaluation``: None trains (episodes end at ``cfg.termination_distance``, see
        ``cfg.early_termination``); an :class:`EvalConfig` evaluates (see there). ``auto_reset``:
        whether a step restarts the worlds whose episode ended, at starts drawn from the
        failure-weighted sampler; default: when training. Without it the caller restarts worlds
        with :meth:`restart`. ``record_final_obs``: put the last observation of finished episodes
        in the step info (``final_obs``, ``final_ids``; the gymnasium interface needs them).
        ``action_filter``: a low-pass filter on the actions before they become PD targets
        (:mod:`action_filter`; None or ``kind="none"``: none, as the policies were trained).

        ``body``: the simulated body (:mod:`body`); default: the SMPL humanoid of ``humanoid``. Another
        body (an MJCF robot, :mod:`robot_body`) takes its reference as a ReferenceLibrary and the term
        set ``cfg.terms`` that fits it."""
        if cfg.target_hold not in TARGET_HOLDS:
            raise ValueError(f"target_hold {cfg.target_hold!r}: unknown (known: {', '.join(TARGET_HOLDS)})")
        self.cfg = cfg
        self.device = torch.device(device)
        self.body = body if body is not None else SmplHumanoidBody(humanoid)
        self.humanoid_cfg = tracking_humanoid(cfg, humanoid)
        if not isinstance(clips, ReferenceLibrary):
            if not isinstance(self.body, SmplHumanoidBody):
                raise ValueError(f"a {self.body.kind} body tracks a ReferenceLibrary, not Motion clips")
            clips = ReferenceLibrary.from_clips(clips, cfg.control_fps)
        self.ref = clips.to(self.device)
        self.models = models or self.body.build_models(self.ref, cfg)
        n = cfg.num_envs
        self.num_envs = n
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.backend = make_backend(backend, self.models, n, backend_cfg, self.device)
        self._evaluation = evaluation
        self._auto_reset = evaluation is None if auto_reset is None else bool(auto_reset)
        self._record_final_obs = bool(record_final_obs)
        self._success_distance = cfg.success_distance if evaluation is None or evaluation.success_distance is None \
            else evaluation.success_distance
        # Lift of every reference frame clear of the floor (sim/floor_lift.py). With the state on a
        # device, all frames up front, so a reset is a gather with no host sync; in host memory each
        # frame when a reset first needs it (evaluation and refine reset a few frames of many clips:
        # precomputing 1e5+ frames of a dataset would cost more than the rollout's resets).
        if self.backend.host_memory:
            self._lift = torch.full((self.ref.qpos.shape[0],), float("nan"))
            self._lift_datas = [mujoco.MjData(m) for m in self.models]
        else:
            self._lift = reference_floor_lift(self.models, self.ref.qpos, self.ref.clip_start, self.ref.clip_body)
        m = self.models[0]
        nb = self.body.num_bodies
        if m.nsensordata != NCH * nb or self.ref.planes.shape[-1] != nb:
            raise ValueError(f"the {self.body.kind} body tracks {nb} bodies: its model has {m.nsensordata} sensor "
                             f"values (needs {NCH * nb}) and its reference {self.ref.planes.shape[-1]} bodies")
        terms = term_set_for(cfg.terms, self.body.terms)
        self.obs_layout = ObservationLayout(terms.observation, len(cfg.future_frames), nb)
        self.reward = FusedReward(terms.rewards, cfg.reward, self.device)
        self.num_actions = m.nu
        self.num_obs = self.obs_layout.dim
        self.kp = torch.tensor(m.actuator_gainprm[:, 0], dtype=torch.float32, device=self.device)
        self.kd = -torch.tensor(m.actuator_biasprm[:, 2], dtype=torch.float32, device=self.device)
        # a joint without gains (H1's placeholder joint) has no feed-forward
        self.kd_over_kp = torch.where(self.kp > 0, self.kd / self.kp.clamp_min(1e-12), torch.zeros_like(self.kp))
        self.force_limit = torch.tensor(np.where(m.actuator_forcelimited, m.actuator_forcerange[:, 1], np.inf),
                                        dtype=torch.float32, device=self.device)
        # the actuated joints' qpos and qvel columns, in actuator order (qpos[7:] / qvel[6:] in order for the
        # humanoid: sliced, not gathered), and their ranges
        jnt = m.actuator_trnid[:, 0]
        self.actuated_qpos = torch.as_tensor(m.jnt_qposadr[jnt], dtype=torch.long, device=self.device)
        self.actuated_dof = torch.as_tensor(m.jnt_dofadr[jnt], dtype=torch.long, device=self.device)
        in_order = bool((m.jnt_qposadr[jnt] == np.arange(7, 7 + m.nu)).all() and m.nq == 7 + m.nu
                        and (m.jnt_dofadr[jnt] == np.arange(6, 6 + m.nu)).all() and m.nv == 6 + m.nu)
        self._act_cols = None if in_order else (self.actuated_qpos, self.actuated_dof)
        rng = np.where(m.jnt_limited[jnt, None], m.jnt_range[jnt], [-np.inf, np.inf])
        self.joint_lower = torch.tensor(rng[:, 0], dtype=torch.float32, device=self.device)
        self.joint_upper = torch.tensor(rng[:, 1], dtype=torch.float32, device=self.device)
        bin_frames = int(round(cfg.sampling_bin_s * cfg.control_fps))
        self.sampler = FailureWeightedSampler(self.ref.clip_len, bin_frames, cfg.sampling_uniform_mix,
                                              cfg.failure_weighted, self.gen)
        z = lambda dtype=torch.long: torch.zeros(n, dtype=dtype, device=self.device)  # noqa: E731
        self.clip, self.frame, self.start_frame, self.steps = z(), z(), z(), z()
        self.prev_action = torch.zeros(n, self.num_actions, device=self.device)
        # the PD target of the previous control step (the start of a first-order hold's ramp); a world that
        # restarts starts it at the zero-residual target of its start frame
        self.prev_target = torch.zeros(n, self.num_actions, device=self.device)
        # the ramp's weights over the substeps (None: the target is held)
        ramp = hold_weights(cfg.target_hold, cfg.substeps)
        self._ramp = None if ramp is None else ramp.to(self.device)[None, :, None]
        # the simulated bodies' linear velocities (planes) after the two previous steps, latest first, kept
        # for the body-jerk reward term when it counts (valid from an episode's third step, which that term
        # checks with ``steps``)
        self.linvel_hist = torch.zeros(2, 3, n, nb, device=self.device) if self.reward.active("p_body_jerk") else None
        self.action_filter = ActionFilter(action_filter or ActionFilterConfig(), n, self.num_actions, self.device)
        self.episode_return = torch.zeros(n, device=self.device)
        self.total_blowups = torch.zeros((), dtype=torch.long, device=self.device)
        self._future = torch.tensor(cfg.future_frames, device=self.device)
        # (F, 4) how planted the reference's soles are in every frame (the humanoid's feet-slip gate; None
        # for a body whose terms need none)
        self.ref_contact = self.body.reference_contact(self.ref, cfg)
        # reading the done mask back costs nothing in host memory: a step with no episode to restart skips the reset
        self._host_reads_free = self.backend.host_memory and self.device.type == "cpu"

    @property
    def evaluation(self) -> EvalConfig | None:
        """The evaluation rules the env runs under (None: training)."""
        return self._evaluation

    @property
    def auto_reset(self) -> bool:
        """Whether a step restarts the worlds whose episode ended (from the sampler)."""
        return self._auto_reset

    @property
    def record_final_obs(self) -> bool:
        """Whether the step info carries the last observation of finished episodes."""
        return self._record_final_obs

    @property
    def reward_terms(self) -> tuple[str, ...]:
        """Names of the reward terms, in the order of the step info's ``terms``."""
        return self.reward.names

    # ----------------------------------------------------------------- state
    def body_state(self) -> BodyState:
        return BodyState.from_sensors(self.backend.sensordata.to(self.device))

    def ref_state(self, frame_offset: int = 0) -> BodyState:
        return BodyState.from_packed(self.ref.body[self.ref.index(self.clip, self.frame + frame_offset)])

    def body_planes(self) -> torch.Tensor:
        """The simulated bodies as planes (13, N, nb) (:mod:`body_planes`; nb = 24 for the humanoid)."""
        return planes_from_sensors(self.backend.sensordata.to(self.device))

    def ref_planes(self) -> torch.Tensor:
        """The future reference frames ``frame + k``, k in ``cfg.future_frames``, as planes (13, N, K, nb)."""
        return self.ref.planes_at(self.ref.index(self.clip[:, None], self.frame[:, None] + self._future))

    def observe(self, rows: torch.Tensor | None = None, planes: torch.Tensor | None = None) -> torch.Tensor:
        """(N, num_obs). Only the rows where ``rows`` (N,) bool is set are computed (the rest are
        0); None: all. ``planes``: :meth:`body_planes` when the caller has them for the current state."""
        s = self.body_planes() if planes is None else planes
        refs = self.ref_planes()
        if rows is None:
            return self.obs_layout(s, refs)
        ids = rows.to(self.device).nonzero().flatten()
        obs = torch.zeros(self.num_envs, self.num_obs, device=self.device)
        obs[ids] = self.obs_layout(s[:, ids], refs[:, ids])
        return obs

    @property
    def ref_lift(self) -> torch.Tensor:
        """(F,) lift of every reference frame (computing the frames not yet needed)."""
        self._fill_lift(torch.arange(self._lift.shape[0]))
        return self._lift

    def _fill_lift(self, frames: torch.Tensor) -> None:
        """State in host memory: compute the lift of those of ``frames`` not computed yet."""
        if not self.backend.host_memory or frames.numel() == 0:
            return
        frames = frames.cpu()
        todo = frames[torch.isnan(self._lift[frames])].unique()
        if todo.numel():
            self._lift[todo] = frames_floor_lift(self.models, self.ref.qpos, self.ref.clip_start, self.ref.clip_body,
                                                 todo, self._lift_datas)

    def reference_target(self, idx: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        """The PD targets (k, nu) of reference frames ``idx`` (k,): the reference joint coordinates plus
        ``residual`` (k, nu; None: zero), with ``cfg.velocity_feedforward`` plus the reference joint velocity
        folded in: kp (q* + kd/kp qd_ref - q) - kd qd = kp (q* - q) + kd (qd_ref - qd)."""
        q_ref = self.ref.qpos.index_select(0, idx)
        target = q_ref[:, 7:] if self._act_cols is None else q_ref.index_select(1, self._act_cols[0])
        if residual is not None:
            target = target + residual
        if self.cfg.velocity_feedforward:
            qd_ref = self.ref.qvel.index_select(0, idx)
            qd_ref = qd_ref[:, 6:] if self._act_cols is None else qd_ref.index_select(1, self._act_cols[1])
            ff = self.kd_over_kp * qd_ref
            target = target + torch.clamp(ff, -self.cfg.feedforward_limit, self.cfg.feedforward_limit)
        return target

    # ----------------------------------------------------------------- reset
    def seed(self, seed: int) -> None:
        """Seed the random generator that the sampled starts draw from."""
        self.gen.manual_seed(int(seed))

    def reset(self, env_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Start new episodes in worlds ``env_ids`` (default: all) at starts drawn from the
        failure-weighted sampler (reference frame 0 without ``cfg.rsi``); the observation (N, num_obs)."""
        if env_ids is None:
            env_ids = torch.arange(self.num_envs, device=self.device)
        if env_ids.numel():
            mask = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
            mask[env_ids.to(self.device)] = True
            self._reset_where(mask)
        return self.observe()

    def restart(self, worlds: torch.Tensor, clips: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Start new episodes in ``worlds`` (k,) at reference frames ``frames`` (k,) of clips
        ``clips`` (k,) (the reference state there, lifted clear of the floor); the other worlds
        are left as they are. Returns the restarted worlds' observations (k, num_obs), in the
        order of ``worlds``."""
        ids = torch.as_tensor(worlds, device=self.device).long().flatten()
        clips = torch.as_tensor(clips, device=self.device).long().flatten()
        frames = torch.as_tensor(frames, device=self.device).long().flatten()
        if not (ids.numel() == clips.numel() == frames.numel()):
            raise ValueError(f"restart: {ids.numel()} worlds, {clips.numel()} clips, {frames.numel()} frames")
        if ids.numel() == 0:
            return torch.zeros(0, self.num_obs, device=self.device)
        if ids.unique().numel() != ids.numel() or int(ids.min()) < 0 or int(ids.max()) >= self.num_envs:
            raise ValueError(f"restart: worlds must be distinct, in 0..{self.num_envs - 1}")
        if int(clips.min()) < 0 or int(clips.max()) >= self.ref.num_clips:
            raise ValueError(f"restart: clips must be in 0..{self.ref.num_clips - 1}")
        if int(frames.min()) < 0 or bool((frames >= self.ref.clip_len.index_select(0, clips)).any()):
            raise ValueError("restart: a start frame lies outside its clip")
        mask = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        mask[ids] = True
        new_clip, new_frame = self.clip.clone(), self.frame.clone()
        new_clip[ids], new_frame[ids] = clips, frames
        self._reset_where(mask, (new_clip, new_frame))
        rows = mask.nonzero().flatten()  # ascending
        obs = self.obs_layout(self.body_planes()[:, rows], self.ref_planes()[:, rows])
        return obs.index_select(0, torch.searchsorted(rows, ids))

    def _reset_where(self, mask: torch.Tensor, starts: tuple[torch.Tensor, torch.Tensor] | None = None) -> bool:
        """Start new episodes in the worlds where ``mask`` (N,) is set (masked ops, no host sync),
        at ``starts`` (clip, frame), each (N,), or at sampled ones (counted as attempts where they
        are used). Returns False when it knows that no world was reset (state in host memory only)."""
        if self._host_reads_free and not bool(mask.any()):
            return False
        if starts is None:
            clips, frames, _ = self.sampler.sample(self.num_envs, count=mask.clone())
            if not self.cfg.rsi:
                frames = torch.zeros_like(frames)
        else:
            clips, frames = starts
        w = lambda new, old: torch.where(mask, new, old)  # noqa: E731
        self.clip = w(clips, self.clip)
        self.frame = w(frames, self.frame)
        self.start_frame = w(frames, self.start_frame)
        self.steps = w(torch.zeros_like(self.steps), self.steps)
        self.prev_action = torch.where(mask[:, None], torch.zeros_like(self.prev_action), self.prev_action)
        self.action_filter.reset_where(mask)
        self.episode_return = w(torch.zeros_like(self.episode_return), self.episode_return)
        idx = self.ref.index(self.clip, self.frame)
        if self._ramp is not None:
            self.prev_target = torch.where(mask[:, None], self.reference_target(idx), self.prev_target)
        self._fill_lift(idx[mask])
        gather = lambda t, i: t.index_select(0, i)  # noqa: E731
        self.backend.reset_where(mask, gather(self.ref.qpos, idx), gather(self.ref.qvel, idx), gather(self._lift, idx),
                                 model_ids=gather(self.ref.clip_body, self.clip))
        return True

    # ------------------------------------------------------------------ step
    def step(self, actions: torch.Tensor, active: torch.Tensor | None = None) -> StepResult:
        """One control step. ``active`` (N,) bool: the worlds in use (None: all); observations are
        computed for these only (the others' rows are 0), and a backend that
        ``skips_inactive_worlds`` holds the others' state at no cost (the warp backend steps
        every world regardless)."""
        with torch_single_thread(self.backend.wants_single_thread_torch):  # the physics threads own the cores
            return self._step(actions, active)

    def _step(self, actions: torch.Tensor, active: torch.Tensor | None) -> StepResult:
        cfg = self.cfg
        a = torch.clamp(actions.to(self.device, torch.float32), -1.0, 1.0)
        nxt = self.ref.index(self.clip, self.frame + 1)
        # the filtered residual makes the target; the reward's action terms see the policy's own actions
        applied = self.action_filter(a, None if active is None else active.to(self.device))
        target = self.reference_target(nxt, cfg.action_scale * applied)
        if self._ramp is None:
            self.backend.step(target, cfg.substeps, active=active)
        else:  # first-order hold: substep k targets prev + (target - prev) w_k (hold_weights)
            ramp = torch.lerp(self.prev_target[:, None, :], target[:, None, :], self._ramp)
            self.backend.step(ramp, cfg.substeps, active=active)
            self.prev_target = target
        self.frame += 1
        self.steps += 1

        planes = self.body_planes()
        err = tracking_errors(planes, self.ref.planes_at(nxt))  # the new frame is nxt
        reward, terms = self.reward(StepInputs(self, planes, err, nxt, a, self.prev_action, target))
        self.prev_action = a
        if self.linvel_hist is not None:
            self.linvel_hist = torch.stack((planes[7:10], self.linvel_hist[0]))

        unstable = self.backend.unstable.to(self.device)
        max_dist = err["body_dist"].max(-1).values
        mean_dist = err["body_dist"].mean(-1)
        if self._evaluation is not None:
            fell = mean_dist > self._success_distance
        else:
            fell = (max_dist > cfg.termination_distance) if cfg.early_termination else torch.zeros_like(unstable)
        terminated = fell | unstable
        clip_end = self.frame >= self.ref.clip_len.index_select(0, self.clip) - 1
        truncated = (clip_end | (self.steps >= cfg.max_episode_steps)) & ~terminated
        reward = torch.where(unstable, torch.zeros_like(reward), reward)
        self.episode_return += reward
        done = terminated | truncated

        info = {
            "terms": dict(zip(self.reward.names, terms.mean(0).unbind())),
            "reward_mean": reward.mean(),
            "mean_body_dist": mean_dist,
            "max_body_dist": max_dist,
            "blowups": unstable.sum(),
            "done": done,
            # clip and start_frame are replaced on reset, never written in place: no copies needed
            "done_clip": self.clip,
            "done_frame": self.frame.clone(),
            "done_start": self.start_frame,
            "done_terminated": terminated,
            "done_clip_end": clip_end & done,
            "episode_return": self.episode_return.clone(),
            "episode_steps": self.steps.clone(),
        }
        self.total_blowups += info["blowups"]
        failed = terminated & ~unstable
        self.sampler.record_failures(self.clip, self.frame, weight=failed)
        if self._record_final_obs:  # gymnasium: the finished episodes' last observations
            done_ids = torch.nonzero(done).flatten()
            if done_ids.numel():
                info["final_obs"] = self.observe(active, planes=planes)[done_ids]
                info["final_ids"] = done_ids
        reset = self._auto_reset and self._reset_where(done)
        obs = self.observe(active, planes=None if reset else planes)  # the planes stand unless a world was reset
        return StepResult(obs, reward, terminated, truncated, info)

    def close(self) -> None:
        self.backend.close()


def backend_class(name: str) -> type:
    """The physics backend class called ``name`` ("cpu" or "warp"); its class attributes say what
    it can do (:class:`~motionlib.sim.backend.PhysicsBackend`)."""
    if name == "cpu":
        return CpuBackend
    if name == "warp":
        from .backend_warp import WarpBackend

        return WarpBackend
    raise ValueError(f"unknown backend {name!r} (available: cpu, warp)")


def make_backend(name: str, models: list[mujoco.MjModel], num_envs: int, backend_cfg, device: torch.device):
    """The physics backend ``name`` ("cpu" or "warp") for ``num_envs`` worlds; ``backend_cfg`` of
    another backend's kind, or None, gives that backend's default configuration for ``device``."""
    cls = backend_class(name)
    if not isinstance(backend_cfg, cls.config_class):
        backend_cfg = cls.default_config(str(device))
    return cls(models, np.zeros(num_envs, dtype=np.int64), backend_cfg)
