"""rl-games ``IVecEnv`` over the tracking environment (torch tensors in and out)."""

from __future__ import annotations

import time

import numpy as np
import torch
from rl_games.common.ivecenv import IVecEnv

from motionlib.sim.tracking_env import TrackingEnv


class TrackingVecEnv(IVecEnv):
    """Adapts :class:`TrackingEnv` to rl-games. Episode statistics of finished
    episodes are collected in ``infos`` for :class:`TrackingObserver`."""

    def __init__(self, env: TrackingEnv):
        from gymnasium import spaces

        self.env = env
        self.observation_space = spaces.Box(-np.inf, np.inf, (env.num_obs,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (env.num_actions,), np.float32)
        self.env_steps = 0
        self._t_last = time.perf_counter()
        self._steps_last = 0

    def get_number_of_agents(self) -> int:
        return 1

    def get_env_info(self) -> dict:
        return {"observation_space": self.observation_space, "action_space": self.action_space,
                "agents": 1, "value_size": 1}

    def reset(self):
        return self.env.reset()

    def step(self, actions: torch.Tensor):
        res = self.env.step(actions)
        self.env_steps += self.env.num_envs
        dones = (res.terminated | res.truncated).to(torch.uint8)
        info = res.info
        infos = {  # tensors only: nothing here waits for the device (the observer reduces them per epoch)
            "time_outs": res.truncated,  # value bootstrap on truncation
            "terms": info["terms"],
            "reward_mean": info["reward_mean"],
            "blowups": info["blowups"],
            "done": info["done"],
            "done_terminated": info["done_terminated"],
            "done_clip_end": info["done_clip_end"],
            "episode_steps": info["episode_steps"],
            "episode_return": info["episode_return"],
            "mean_body_dist": info["mean_body_dist"].mean(),
        }
        return res.obs, res.reward, dones, infos

    def steps_per_second(self) -> float:
        now = time.perf_counter()
        rate = (self.env_steps - self._steps_last) / max(now - self._t_last, 1e-9)
        self._t_last, self._steps_last = now, self.env_steps
        return rate

    def get_env_state(self):
        return {"sampler": self.env.sampler.state_dict()}

    def set_env_state(self, env_state):
        if env_state and "sampler" in env_state:
            self.env.sampler.load_state_dict(env_state["sampler"])
