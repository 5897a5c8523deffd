"""rl-games behind one module: PPO training of the tracking policy.

Only this module imports rl-games or touches its agent. It holds the parameter dict, the env wrapper, the
observer bridge and every workaround, each with its reason:

- checkpoints are written atomically by an agent subclass (rl-games saves with a plain ``torch.save``);
- the env goes to the agent through its config (``env_info`` + ``vec_env``), not through rl-games' global
  env registries, so two trainings in one process each get their own env and nothing stays registered;
- the exploration noise is frozen after the model is built (rl-games' ``fixed_sigma`` still trains it);
- fine-tuning copies an exported policy into the model, freezes the actor for the critic warm-up and
  afterwards resets ``last_lr`` (rl-games has no option for either);
- a time limit lowers the agent's ``max_epochs`` (rl-games has no stop request);
- a CUDA checkpoint is mapped to the CPU before a resume (rl-games loads without ``map_location``).

The rest of the package sees :class:`RLGamesPPO` (``train.py``: build, then train) and :class:`PPORun`, the
handle an :class:`EpochObserver` (``observer.py``) gets on the running training.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch
from rl_games.common.algo_observer import AlgoObserver
from rl_games.common.ivecenv import IVecEnv

from motionlib.motion.atomic import atomic_path
from motionlib.motion.errors import MotionError
from motionlib.motion.weights import load_weights
from motionlib.sim.tracking_env import TrackingEnv

from .actor import TrackingPolicy
from .train_config import TrackerTrainConfig

ENV_NAME = "motionlib_tracking"  # rl-games requires config["env_name"]; the env itself comes with the config


def rlgames_params(cfg: TrackerTrainConfig, start_epoch: int = 0) -> dict:
    """rl-games' parameters; ``start_epoch``: the epoch a resumed checkpoint ends at (rl-games counts on
    from it, so ``cfg.max_env_steps`` are the steps of this run, on top of the checkpoint's)."""
    p = cfg.ppo
    n = cfg.tracking.num_envs
    batch = n * p.horizon_length
    steps_per_epoch = batch
    max_epochs = start_epoch + max(1, cfg.max_env_steps // steps_per_epoch)
    return {
        "seed": cfg.seed,
        "algo": {"name": "a2c_continuous"},
        "model": {"name": "continuous_a2c_logstd"},
        "network": {
            "name": "actor_critic", "separate": False,
            "space": {"continuous": {"mu_activation": "None", "sigma_activation": "None",
                                     "mu_init": {"name": "random_uniform_initializer", "a": -1e-3, "b": 1e-3},  # start at the reference pose
                                     "sigma_init": {"name": "const_initializer", "val": p.sigma_init},
                                     "fixed_sigma": True}},
            "mlp": {"units": list(p.units), "activation": p.activation, "d2rl": False,
                    "initializer": {"name": "default"}, "regularizer": {"name": "None"}},
        },
        "config": {
            "name": "tracker", "full_experiment_name": "rl", "train_dir": str(cfg.run_dir),
            "env_name": ENV_NAME, "env_config": {}, "device": cfg.device, "device_name": cfg.device,
            "multi_gpu": False, "ppo": True, "mixed_precision": False, "torch_compile": False,
            "normalize_input": True, "normalize_value": True, "value_bootstrap": True,
            "num_actors": n, "reward_shaper": {"scale_value": 1.0}, "normalize_advantage": True,
            "gamma": p.gamma, "tau": p.tau, "learning_rate": p.learning_rate, "lr_schedule": p.lr_schedule,
            "kl_threshold": p.kl_threshold, "schedule_type": "standard", "score_to_win": 1e12, "max_epochs": max_epochs,
            "max_frames": -1, "save_best_after": 10**9, "save_frequency": cfg.save_every_epochs, "print_stats": False,
            "grad_norm": p.grad_norm, "entropy_coef": p.entropy_coef, "truncate_grads": True,
            "e_clip": p.e_clip, "horizon_length": p.horizon_length, "minibatch_size": batch // p.minibatches,
            "mini_epochs": p.mini_epochs, "critic_coef": p.critic_coef, "clip_value": False,
            "seq_length": 4, "bounds_loss_coef": p.bounds_loss_coef, "games_to_track": 100,
        },
    }


def resume_checkpoint_for(path: str | Path, device: str, run_dir: Path) -> tuple[str, int]:
    """The checkpoint to hand rl-games for a resume on ``device``, and the epoch it ends at. rl-games
    loads a checkpoint onto the device it was saved from (``torch.load`` without ``map_location``), so a
    GPU run's checkpoint could not resume on a machine without CUDA. Such a checkpoint is mapped to the
    CPU and written once to ``run_dir/resume_<name>`` (atomically); any other is returned as it is."""
    path = Path(path)
    saved_on: set[str] = set()

    def to_cpu(storage, location):
        saved_on.add(str(location))
        return storage

    blob = load_weights(path, "the checkpoint to resume from", to_cpu)
    if not isinstance(blob, dict) or "model" not in blob:
        raise MotionError("not an rl-games checkpoint (no 'model' entry)", str(path))
    epoch = int(blob.get("epoch", 0))
    needs_map = torch.device(device).type != "cuda" and not torch.cuda.is_available()
    if not (needs_map and any(loc.startswith("cuda") for loc in saved_on)):
        return str(path), epoch
    out = run_dir / f"resume_{path.name}"
    with atomic_path(out) as tmp:
        torch.save(blob, tmp)
    return str(out), epoch


class TrackingVecEnv(IVecEnv):
    """Adapts :class:`TrackingEnv` to rl-games (torch tensors in and out). Each step's figures go to
    ``infos`` as device tensors for the :class:`EpochObserver`, which reduces them once per epoch."""

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
        """Env steps per second since the previous call (since the env was made, at the first)."""
        now = time.perf_counter()
        rate = (self.env_steps - self._steps_last) / max(now - self._t_last, 1e-9)
        self._t_last, self._steps_last = now, self.env_steps
        return rate

    def get_env_state(self):
        return {"sampler": self.env.sampler.state_dict()}  # checkpointed: a resume continues the curriculum

    def set_env_state(self, env_state):
        if env_state and "sampler" in env_state:
            self.env.sampler.load_state_dict(env_state["sampler"])


class PPORun:
    """An observer's handle on the running training: the env, the TensorBoard writer, the epoch limit,
    a clean stop and the model's weights."""

    def __init__(self, vec: TrackingVecEnv, agent):
        self._vec = vec
        self._agent = agent

    @property
    def env(self) -> TrackingEnv:
        return self._vec.env

    def steps_per_second(self) -> float:
        return self._vec.steps_per_second()

    @property
    def writer(self):
        """The run's ``torch.utils.tensorboard.SummaryWriter`` (rl-games makes it, under ``OUT/rl/summaries``)."""
        return self._agent.writer

    @property
    def max_epochs(self) -> int:
        return self._agent.max_epochs

    def stop_after(self, epoch: int) -> None:
        """End training after ``epoch``: rl-games has no stop request, but ends (saving its checkpoint) once
        an epoch reaches ``max_epochs``."""
        self._agent.max_epochs = epoch

    def model_state(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the model's weights and normaliser statistics (rl-games' layout, which
        :func:`motionlib.policies.export.export_policy` reads)."""
        return {k: v.detach().cpu() for k, v in self._agent.model.state_dict().items()}


class EpochObserver(Protocol):
    """What :class:`RLGamesPPO` calls during training."""

    def start(self, run: PPORun) -> None:
        """Once the agent is built, before the first epoch (and before a resumed checkpoint is loaded)."""

    def step(self, infos: dict) -> None:
        """After each env step, with :class:`TrackingVecEnv`'s ``infos``."""

    def epoch_end(self, frame: int, epoch: int) -> None:
        """After each epoch's update and rl-games' own statistics; ``frame``: env steps so far."""


@functools.cache
def _atomic_agent_class() -> type:
    """rl-games' PPO agent, saving its checkpoints atomically (it writes them with a plain ``torch.save``,
    so a run killed mid-write would leave a truncated checkpoint under the final name). Made on first use:
    importing rl-games' agents takes seconds."""
    from rl_games.algos_torch.a2c_continuous import A2CAgent

    class AtomicA2CAgent(A2CAgent):
        def save(self, fn):
            with atomic_path(fn + ".pth") as tmp:
                torch.save(self.get_full_state_weights(), tmp)

    return AtomicA2CAgent


class _ObserverBridge(AlgoObserver):
    """rl-games' observer callbacks -> the agent's setup, the critic warm-up and an :class:`EpochObserver`."""

    def __init__(self, ppo: "RLGamesPPO", observer: EpochObserver):
        super().__init__()
        self.ppo = ppo
        self.observer = observer

    def after_init(self, algo) -> None:
        self.algo = algo
        configure_agent(algo, self.ppo.cfg)
        self.observer.start(PPORun(self.ppo.vec, algo))

    def process_infos(self, infos, done_indices) -> None:
        if isinstance(infos, dict) and "terms" in infos:
            self.observer.step(infos)

    def after_print_stats(self, frame, epoch_num, total_time) -> None:
        end_critic_warmup(self.algo, self.ppo.cfg, int(epoch_num))
        self.observer.epoch_end(frame, epoch_num)


class RLGamesPPO:
    """One PPO training through rl-games: ``RLGamesPPO(cfg, make_env, observer).train()``.

    ``make_env()`` makes the :class:`TrackingEnv` (called in :meth:`train`, as the agent is built);
    ``cfg.resume`` continues from an rl-games checkpoint (its epochs counted on)."""

    def __init__(self, cfg: TrackerTrainConfig, make_env: Callable[[], TrackingEnv], observer: EpochObserver):
        from rl_games.torch_runner import Runner  # seconds to import: only when training

        self.cfg = cfg
        self.make_env = make_env
        self.vec: TrackingVecEnv | None = None
        self.resume, start_epoch = (resume_checkpoint_for(cfg.resume, cfg.device, cfg.run_dir) if cfg.resume
                                    else (None, 0))
        self.runner = Runner(algo_observer=_ObserverBridge(self, observer))
        # this runner's own factory (not a global patch) builds the atomically saving agent
        self.runner.algo_factory.register_builder("a2c_continuous", lambda **kw: _atomic_agent_class()(**kw))
        # note: rl-games' load also sets torch's thread count (min(4, cores), its "torch_threads" default),
        # over the one train() set from cfg.threads
        self.runner.load({"params": rlgames_params(cfg, start_epoch)})

    def train(self) -> None:
        self.vec = TrackingVecEnv(self.make_env())
        config = self.runner.params["config"]
        # given env_info, rl-games takes this env from the config instead of creating one by env_name
        # from its global registries (vecenv.register / env_configurations.register)
        config["env_info"] = self.vec.get_env_info()
        config["vec_env"] = self.vec
        self.runner.run({"train": True, "play": False, "checkpoint": self.resume, "sigma": None})


def configure_agent(algo, cfg: TrackerTrainConfig) -> None:
    """Settings rl-games has no option for, applied once its agent is built (before a resume is loaded)."""
    sigma = getattr(algo.model.a2c_network, "sigma", None)
    if isinstance(sigma, torch.nn.Parameter) and not cfg.ppo.learn_sigma:
        sigma.requires_grad_(False)  # fixed exploration noise (rl-games' fixed_sigma still trains it)
    if cfg.init_policy and not cfg.resume:
        init_actor_from_policy(algo, TrackingPolicy.load(cfg.init_policy))
        if cfg.critic_warmup_epochs > 0:  # a fresh critic's gradients must not reach the actor
            for p in _actor_parameters(algo):
                p.requires_grad_(False)


def _actor_parameters(algo) -> list[torch.nn.Parameter]:
    net = algo.model.a2c_network
    return [*net.actor_mlp.parameters(), *net.mu.parameters()]


def init_actor_from_policy(algo, policy: TrackingPolicy) -> None:
    """Copy an exported policy's MLP, action head and observation statistics into the rl-games
    model (the value head keeps its fresh initialisation). The statistics get a large count, so the
    running normaliser moves as slowly as it would at the end of the policy's own training."""
    net, actor = algo.model.a2c_network, policy.actor
    units = tuple(m.out_features for m in net.actor_mlp if isinstance(m, torch.nn.Linear))
    if tuple(actor.units) != units or actor.mu.weight.shape != net.mu.weight.shape:
        raise ValueError(f"--init-policy: the policy's network {actor.units} -> {tuple(actor.mu.weight.shape)} "
                         f"does not match the one being trained")
    with torch.no_grad():
        net.actor_mlp.load_state_dict(actor.mlp.state_dict())
        net.mu.load_state_dict(actor.mu.state_dict())
        rms = algo.model.running_mean_std
        rms.running_mean.copy_(actor.obs_mean.to(rms.running_mean))
        rms.running_var.copy_(actor.obs_var.to(rms.running_var))
        rms.count.fill_(float(policy.info.get("env_steps", 0)) or 1e7)


def end_critic_warmup(algo, cfg: TrackerTrainConfig, epoch: int) -> None:
    """After ``critic_warmup_epochs``, train the actor too, from the configured learning rate (the
    adaptive schedule raised rl-games' ``last_lr`` while the frozen actor's KL was 0)."""
    if cfg.init_policy and not cfg.resume and epoch == cfg.critic_warmup_epochs > 0:
        for p in _actor_parameters(algo):
            p.requires_grad_(True)
        algo.last_lr = cfg.ppo.learning_rate
        for group in algo.optimizer.param_groups:
            group["lr"] = algo.last_lr
        print(f"[train-tracker] critic warm-up done after {epoch} epochs: training the actor", flush=True)
