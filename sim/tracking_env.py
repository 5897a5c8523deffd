"""The motion-tracking environment: N humanoids following reference clips.

Backend-agnostic core: physics lives in a backend (``cpu``: ``mujoco.rollout``
threads; ``warp``: MuJoCo Warp on a GPU or warp's CPU device) that exposes
flat ``qpos``/``qvel``/``sensordata`` tensors; observations, rewards,
terminations, resets and sampling are batched torch code in this file and
:mod:`tracking_terms`, on the env's device. A step never reads values back
to the host: resets are masked tensor ops and the ``info`` figures are
tensors (per env, masked by ``info["done"]``, or 0-dim).

Step semantics (control at ``control_fps``, physics ``substeps`` x faster):
an env at reference frame ``t`` receives an action, its PD targets are the
reference joint coordinates of frame ``t+1`` plus ``action_scale * action``
(residual actions), physics advances one control period, the frame becomes
``t+1`` and the reward compares the simulated bodies with reference frame
``t+1``. Episodes end when a body is more than ``termination_distance`` from
the reference (terminated), at the end of the clip or after
``max_episode_steps`` (truncated). Simulator blow-ups reset that env, are
counted in ``info["blowups"]`` and end its episode as terminated.

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
from motionlib.motion.metrics import offsets_scale
from motionlib.motion.skeleton import Skeleton

from .backend_cpu import CpuBackend, CpuBackendConfig, torch_single_thread
from .body_planes import planes_from_sensors
from .floor_lift import frames_floor_lift, reference_floor_lift
from .humanoid import HumanoidConfig, humanoid_xml
from .reference import ReferenceLibrary
from .sampling import FailureWeightedSampler
from .tracking_config import TrackingConfig
from .tracking_terms import (
    REWARD_TERMS,
    BodyState,
    feet_slip,
    observation,
    pd_power,
    reference_foot_contact,
    reward_coefficients,
    self_obs_dim,
    task_obs_dim,
    tracking_errors,
    tracking_reward,
)


@dataclass
class StepResult:
    obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    info: dict


def build_models(bodies: list[np.ndarray], hcfg: HumanoidConfig) -> list[mujoco.MjModel]:
    return [mujoco.MjModel.from_xml_string(humanoid_xml(Skeleton(b), hcfg)) for b in bodies]


def tracking_humanoid(cfg: TrackingConfig, humanoid: HumanoidConfig) -> HumanoidConfig:
    """``humanoid`` with the physics timestep of ``cfg`` (control rate x substeps)."""
    return HumanoidConfig(**{**humanoid.__dict__, "timestep": 1.0 / (cfg.control_fps * cfg.substeps)})


class TrackingEnv:
    def __init__(self, clips: list[Motion] | ReferenceLibrary, cfg: TrackingConfig = TrackingConfig(),
                 humanoid: HumanoidConfig = HumanoidConfig(), backend: str = "cpu",
                 backend_cfg=None, device: str = "cpu", models: list[mujoco.MjModel] | None = None):
        """``backend``: "cpu" (``backend_cfg``: CpuBackendConfig) or "warp"
        (WarpBackendConfig; its device defaults to ``device``). ``models``: the body models of the
        reference's bodies, built already (``build_models(ref.bodies, tracking_humanoid(cfg,
        humanoid))``; read only, so environments side by side can share them); default: built here."""
        self.cfg = cfg
        self.device = torch.device(device)
        humanoid = tracking_humanoid(cfg, humanoid)
        self.humanoid_cfg = humanoid
        self.ref = clips if isinstance(clips, ReferenceLibrary) else ReferenceLibrary.from_clips(clips, cfg.control_fps)
        self.ref = self.ref.to(self.device)
        self.models = models or build_models(self.ref.bodies, humanoid)
        n = cfg.num_envs
        self.num_envs = n
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.backend = make_backend(backend, self.models, n, backend_cfg, self.device)
        # Lift of every reference frame clear of the floor (sim/floor_lift.py). On a device backend
        # all frames up front, so a reset is a gather with no host sync; on the CPU backend each
        # frame when a reset first needs it (evaluation and refine reset a few frames of many
        # clips: precomputing 1e5+ frames of a dataset would cost more than the rollout's resets).
        if self.backend.name == "cpu":
            self._lift = torch.full((self.ref.qpos.shape[0],), float("nan"))
            self._lift_datas = [mujoco.MjData(m) for m in self.models]
        else:
            self._lift = reference_floor_lift(self.models, self.ref.qpos, self.ref.clip_start, self.ref.clip_body)
        m = self.models[0]
        self.num_actions = m.nu
        self.num_obs = self_obs_dim() + task_obs_dim(len(cfg.future_frames))
        self.kp = torch.tensor(m.actuator_gainprm[:, 0], dtype=torch.float32, device=self.device)
        self.kd = -torch.tensor(m.actuator_biasprm[:, 2], dtype=torch.float32, device=self.device)
        self.kd_over_kp = self.kd / self.kp
        self.force_limit = torch.tensor(np.where(m.actuator_forcelimited, m.actuator_forcerange[:, 1], np.inf),
                                        dtype=torch.float32, device=self.device)
        bin_frames = int(round(cfg.sampling_bin_s * cfg.control_fps))
        self.sampler = FailureWeightedSampler(self.ref.clip_len, bin_frames, cfg.sampling_uniform_mix,
                                              cfg.failure_weighted, self.gen)
        z = lambda dtype=torch.long: torch.zeros(n, dtype=dtype, device=self.device)  # noqa: E731
        self.clip, self.frame, self.start_frame, self.steps = z(), z(), z(), z()
        self.prev_action = torch.zeros(n, self.num_actions, device=self.device)
        self.episode_return = torch.zeros(n, device=self.device)
        self.total_blowups = torch.zeros((), dtype=torch.long, device=self.device)
        self.eval_mode = False  # evaluation: no early termination at 0.25 m, success judged at 0.5 m
        self.record_final_obs = False  # put the last observation of finished episodes in the step info
        # evaluation: the worlds in use (N,) bool; None: all. Observations are computed for these
        # only; the CPU backend skips the others' physics (their state holds), the warp backend
        # steps every world regardless.
        self.active_worlds: torch.Tensor | None = None
        self._fixed_starts: tuple[torch.Tensor, torch.Tensor] | None = None
        self._future = torch.tensor(cfg.future_frames, device=self.device)
        self._reward_coefs = reward_coefficients(cfg.reward, self.device)
        self._ref_contact = reference_foot_contact(self.ref.body_pos, self.ref.body_linvel, self._frame_scales(),
                                                   tuple(cfg.reward.feet_contact_height_m),
                                                   tuple(cfg.reward.feet_contact_speed_m_s))
        # on the CPU reading a value back costs nothing: a step with no episode to restart skips the reset
        self._host_reads_free = self.device.type == "cpu"

    def _frame_scales(self) -> torch.Tensor:
        """(F,) body scale (bone lengths against the mean body) of every reference frame."""
        scales = torch.tensor([offsets_scale(b) for b in self.ref.bodies], dtype=torch.float32, device=self.device)
        return torch.repeat_interleave(scales[self.ref.clip_body], self.ref.clip_len)

    # ----------------------------------------------------------------- state
    def body_state(self) -> BodyState:
        return BodyState.from_sensors(self.backend.sensordata.to(self.device))

    def ref_state(self, frame_offset: int = 0) -> BodyState:
        return BodyState.from_packed(self.ref.body[self.ref.index(self.clip, self.frame + frame_offset)])

    def body_planes(self) -> torch.Tensor:
        """The simulated bodies as planes (13, N, 24) (:mod:`body_planes`)."""
        return planes_from_sensors(self.backend.sensordata.to(self.device))

    def ref_planes(self) -> torch.Tensor:
        """The future reference frames ``frame + k``, k in ``cfg.future_frames``, as planes (13, N, K, 24)."""
        return self.ref.planes_at(self.ref.index(self.clip[:, None], self.frame[:, None] + self._future))

    def observe(self, rows: torch.Tensor | None = None, planes: torch.Tensor | None = None) -> torch.Tensor:
        """(N, num_obs). Only the rows where ``rows`` (N,) bool is set are computed (the rest are
        0); ``rows`` defaults to ``active_worlds`` (None: all). ``planes``: :meth:`body_planes` when the
        caller has them for the current state."""
        s = self.body_planes() if planes is None else planes
        refs = self.ref_planes()
        rows = self.active_worlds if rows is None else rows
        if rows is None:
            return observation(s, refs)
        ids = rows.to(self.device).nonzero().flatten()
        obs = torch.zeros(self.num_envs, self.num_obs, device=self.device)
        obs[ids] = observation(s[:, ids], refs[:, ids])
        return obs

    @property
    def ref_lift(self) -> torch.Tensor:
        """(F,) lift of every reference frame (computing the frames not yet needed)."""
        self._fill_lift(torch.arange(self._lift.shape[0]))
        return self._lift

    def _fill_lift(self, frames: torch.Tensor) -> None:
        """CPU backend: compute the lift of those of ``frames`` not computed yet."""
        if self.backend.name != "cpu" or frames.numel() == 0:
            return
        frames = frames.cpu()
        todo = frames[torch.isnan(self._lift[frames])].unique()
        if todo.numel():
            self._lift[todo] = frames_floor_lift(self.models, self.ref.qpos, self.ref.clip_start, self.ref.clip_body,
                                                 todo, self._lift_datas)

    # ----------------------------------------------------------------- reset
    def set_start(self, clips: torch.Tensor, frames: torch.Tensor) -> None:
        """Evaluation: the next resets of envs 0..len-1 start at these (clip, frame)."""
        self._fixed_starts = (clips.to(self.device), frames.to(self.device))

    def reset(self, env_ids: torch.Tensor | None = None) -> torch.Tensor:
        if env_ids is None:
            env_ids = torch.arange(self.num_envs, device=self.device)
        if env_ids.numel():
            self._reset_envs(env_ids)
        return self.observe()

    def _reset_envs(self, ids: torch.Tensor) -> None:
        mask = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        mask[ids.to(self.device)] = True
        self._reset_where(mask)

    def _reset_where(self, mask: torch.Tensor) -> bool:
        """Start new episodes in the envs where ``mask`` (N,) is set (masked ops, no host sync).
        Returns False when it knows that no env was reset (CPU only)."""
        if self._host_reads_free and not bool(mask.any()):
            return False
        n = self.num_envs
        k = 0 if self._fixed_starts is None else min(n, self._fixed_starts[0].numel())
        if k < n:  # sampled starts for every env, counted as attempts where they are used
            sampled = mask.clone()
            sampled[:k] = False
            clips, frames, _ = self.sampler.sample(n, count=sampled)
            if not self.cfg.rsi:
                frames = torch.zeros_like(frames)
        else:
            clips, frames = self.clip, self.frame
        if k:  # evaluation: envs 0..k-1 restart at their fixed (clip, frame)
            clips, frames = clips.clone(), frames.clone()
            clips[:k], frames[:k] = self._fixed_starts[0][:k], self._fixed_starts[1][:k]
        w = lambda new, old: torch.where(mask, new, old)  # noqa: E731
        self.clip = w(clips, self.clip)
        self.frame = w(frames, self.frame)
        self.start_frame = w(frames, self.start_frame)
        self.steps = w(torch.zeros_like(self.steps), self.steps)
        self.prev_action = torch.where(mask[:, None], torch.zeros_like(self.prev_action), self.prev_action)
        self.episode_return = w(torch.zeros_like(self.episode_return), self.episode_return)
        idx = self.ref.index(self.clip, self.frame)
        self._fill_lift(idx[mask])
        gather = lambda t, i: t.index_select(0, i)  # noqa: E731
        self.backend.reset_where(mask, gather(self.ref.qpos, idx), gather(self.ref.qvel, idx), gather(self._lift, idx),
                                 model_ids=gather(self.ref.clip_body, self.clip))
        return True

    # ------------------------------------------------------------------ step
    def step(self, actions: torch.Tensor) -> StepResult:
        with torch_single_thread(self.backend.name == "cpu"):  # the physics threads own the cores
            return self._step(actions)

    def _step(self, actions: torch.Tensor) -> StepResult:
        cfg = self.cfg
        a = torch.clamp(actions.to(self.device, torch.float32), -1.0, 1.0)
        nxt = self.ref.index(self.clip, self.frame + 1)
        target = self.ref.qpos.index_select(0, nxt)[:, 7:] + cfg.action_scale * a
        if cfg.velocity_feedforward:
            # fold the reference joint velocity into the position target:
            # kp (q* + kd/kp qd_ref - q) - kd qd = kp (q* - q) + kd (qd_ref - qd)
            ff = self.kd_over_kp * self.ref.qvel.index_select(0, nxt)[:, 6:]
            target = target + torch.clamp(ff, -cfg.feedforward_limit, cfg.feedforward_limit)
        self.backend.step(target, cfg.substeps, active=self.active_worlds)
        self.frame += 1
        self.steps += 1

        planes = self.body_planes()
        err = tracking_errors(planes, self.ref.planes_at(nxt))  # the new frame is nxt
        qpos = self.backend.qpos.to(self.device, torch.float32)
        qvel = self.backend.qvel.to(self.device, torch.float32)
        power = pd_power(self.kp, self.kd, self.force_limit, target, qpos[:, 7:], qvel[:, 6:])
        rate = ((a - self.prev_action) ** 2).mean(-1)
        slip = feet_slip(planes, self._ref_contact.index_select(0, nxt))
        reward, terms = tracking_reward(err, power, rate, slip, self._reward_coefs, cfg.reward.clip_min)
        self.prev_action = a

        unstable = self.backend.unstable.to(self.device)
        max_dist = err["body_dist"].max(-1).values
        mean_dist = err["body_dist"].mean(-1)
        if self.eval_mode:
            fell = mean_dist > cfg.success_distance
        else:
            fell = (max_dist > cfg.termination_distance) if cfg.early_termination else torch.zeros_like(unstable)
        terminated = fell | unstable
        clip_end = self.frame >= self.ref.clip_len.index_select(0, self.clip) - 1
        truncated = (clip_end | (self.steps >= cfg.max_episode_steps)) & ~terminated
        reward = torch.where(unstable, torch.zeros_like(reward), reward)
        self.episode_return += reward
        done = terminated | truncated

        info = {
            "terms": dict(zip(REWARD_TERMS, terms.mean(0).unbind())),
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
        if self.record_final_obs:  # gymnasium: the finished episodes' last observations
            done_ids = torch.nonzero(done).flatten()
            if done_ids.numel():
                info["final_obs"] = self.observe(planes=planes)[done_ids]
                info["final_ids"] = done_ids
        reset = not self.eval_mode and self._reset_where(done)
        obs = self.observe(planes=None if reset else planes)  # the planes stand unless an env was reset
        return StepResult(obs, reward, terminated, truncated, info)

    def close(self) -> None:
        self.backend.close()


def make_backend(name: str, models: list[mujoco.MjModel], num_envs: int, backend_cfg, device: torch.device):
    """The physics backend ``name`` ("cpu" or "warp") for ``num_envs`` worlds."""
    if name == "cpu":
        return CpuBackend(models, np.zeros(num_envs, dtype=np.int64), backend_cfg or CpuBackendConfig())
    if name == "warp":
        from .backend_warp import WarpBackend, WarpBackendConfig

        if backend_cfg is None or not isinstance(backend_cfg, WarpBackendConfig):
            backend_cfg = WarpBackendConfig(device=str(device))
        return WarpBackend(models, np.zeros(num_envs, dtype=np.int64), backend_cfg)
    raise ValueError(f"unknown backend {name!r} (available: cpu, warp)")
