"""The tracking environment as a ``gymnasium`` vector env (numpy in, numpy out).

Same core as the rl-games interface (:class:`~motionlib.sim.tracking_env.TrackingEnv`),
so anything written against gymnasium's ``VectorEnv`` API (SB3-style loops,
CleanRL scripts, evaluation tools) can drive the humanoid. Episodes reset in
the same step they end (``AutoresetMode.SAME_STEP``): the returned
observation is the new episode's first one and the finished episode's last
observation is in ``infos["final_obs"]`` (masked by ``infos["_final_obs"]``),
so the environment must record them: construct it with ``record_final_obs=True``
(:meth:`TrackingGymVecEnv.make` does).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from .tracking_config import TrackingConfig
from .tracking_env import TrackingEnv


class TrackingGymVecEnv(VectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, env: TrackingEnv):
        if not env.record_final_obs or not env.auto_reset:
            raise ValueError("the gymnasium interface needs a TrackingEnv made with record_final_obs=True "
                             "that restarts finished episodes itself (auto_reset)")
        self.env = env
        self.num_envs = env.num_envs
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (env.num_obs,), np.float32)
        self.single_action_space = spaces.Box(-1.0, 1.0, (env.num_actions,), np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, (self.num_envs, env.num_obs), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (self.num_envs, env.num_actions), np.float32)

    @classmethod
    def make(cls, clips, cfg: TrackingConfig = TrackingConfig(), **env_kwargs: Any) -> "TrackingGymVecEnv":
        """A TrackingEnv of ``clips`` (training rules; ``env_kwargs``: its other arguments), wrapped."""
        return cls(TrackingEnv(clips, cfg, record_final_obs=True, **env_kwargs))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self.env.seed(seed)
        obs = self.env.reset()
        return obs.cpu().numpy().astype(np.float32), {}

    def step(self, actions):
        res = self.env.step(torch.as_tensor(np.asarray(actions), dtype=torch.float32))
        n = self.num_envs
        infos: dict[str, Any] = {"mean_body_dist": res.info["mean_body_dist"].cpu().numpy()}
        if "final_obs" in res.info:
            final = np.zeros((n, self.env.num_obs), np.float32)
            mask = np.zeros(n, bool)
            ids = res.info["final_ids"].cpu().numpy()
            final[ids] = res.info["final_obs"].cpu().numpy()
            mask[ids] = True
            infos["final_obs"], infos["_final_obs"] = final, mask
        return (res.obs.cpu().numpy().astype(np.float32), res.reward.cpu().numpy().astype(np.float32),
                res.terminated.cpu().numpy(), res.truncated.cpu().numpy(), infos)

    def close_extras(self, **kwargs: Any) -> None:
        self.env.close()
