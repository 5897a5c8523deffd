"""Train the tracking policy with PPO through rl-games.

Output under ``cfg.out``: rl-games checkpoints (``nn/``, written atomically),
TensorBoard logs (``summaries/``: reward terms, success rate, episode length,
env-steps/s, blow-ups, deterministic evaluation), ``policy_best.pt`` (the
exported policy with the best deterministic evaluation: checkpoints are
selected by evaluation, not by the last epoch), ``policy_last.pt`` and
``curve.csv`` (env steps, success rate, G-MPJPE) for the learning curve.
"""

from __future__ import annotations

import csv
import json
import re
import time
from dataclasses import asdict
from pathlib import Path

import torch

from motionlib.motion.atomic import atomic_path, write_text_atomic
from motionlib.motion.clip import Motion
from motionlib.motion.errors import MotionError
from motionlib.motion.weights import load_weights
from motionlib.sim.reference import ReferenceLibrary
from motionlib.sim.tracking_env import TrackingEnv

from .actor import TrackingActor, TrackingPolicy
from .rlgames_env import TrackingVecEnv
from .train_config import TrackerTrainConfig

ENV_NAME = "motionlib_tracking"


def _atomic_rlgames_checkpoints() -> None:
    """rl-games saves with a plain torch.save; make every checkpoint atomic."""
    from rl_games.algos_torch import torch_ext

    def save_checkpoint(filename, state):
        target = filename + ".pth"
        with atomic_path(target) as tmp:
            torch.save(state, tmp)

    torch_ext.save_checkpoint = save_checkpoint


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


def _register_env(make_env) -> None:
    from rl_games.common import env_configurations, vecenv

    vecenv.register("MOTIONLIB", lambda config_name, num_actors, **kw: make_env())
    env_configurations.register(ENV_NAME, {"vecenv_type": "MOTIONLIB", "env_creator": lambda **kw: None})


def train(cfg: TrackerTrainConfig, clips: list[Motion], eval_clips: list[Motion] | None = None,
          progress: bool = True, names: list[str] | None = None) -> dict:
    """Train; returns a summary (best evaluation, env steps, paths). ``names``: each clip's name,
    which ``cfg.clip_weights`` match (default: the stem of the clip's source file)."""
    from rl_games.torch_runner import Runner

    from .observer import TrackingObserver

    torch.manual_seed(cfg.seed)
    if cfg.threads:  # PPO updates use the cores while the physics threads are idle
        torch.set_num_threads(cfg.threads)
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / "config.json", json.dumps(asdict(cfg), indent=1, default=str))
    _atomic_rlgames_checkpoints()
    weights = None
    if cfg.clip_weights:
        weights = clip_weights(names or [Path(str(c.source)).stem for c in clips], cfg.clip_weights)
    ref = ReferenceLibrary.from_clips(clips, cfg.tracking.control_fps, device=cfg.device)
    holder: dict = {}

    def make_env():
        env = TrackingEnv(ref, cfg.tracking, cfg.humanoid, backend=cfg.backend,
                          backend_cfg=backend_config(cfg), device=cfg.device)
        if cfg.curriculum_clips > 0:  # a resumed run restores the sampler's state over this
            env.sampler.set_active_clips(cfg.curriculum_clips)
        if weights is not None:
            env.sampler.set_clip_weights(torch.tensor(weights))
        holder["vec"] = TrackingVecEnv(env)
        return holder["vec"]

    _register_env(make_env)
    observer = TrackingObserver(cfg, eval_clips or clips[: cfg.eval_max_clips], holder, progress=progress,
                                setup=lambda algo: configure_agent(algo, cfg),
                                on_epoch=lambda algo, epoch: end_critic_warmup(algo, cfg, epoch))
    runner = Runner(algo_observer=observer)
    resume, start_epoch = resume_checkpoint_for(cfg.resume, cfg.device, run_dir) if cfg.resume else (None, 0)
    runner.load({"params": rlgames_params(cfg, start_epoch)})
    args = {"train": True, "play": False, "checkpoint": resume, "sigma": None}
    t0 = time.time()
    runner.run(args)
    summary = observer.summary()
    summary["seconds"] = time.time() - t0
    summary["clip_weights"] = weights  # each clip's sampling weight (None: all 1)
    write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=1))
    return summary


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


def configure_agent(algo, cfg: TrackerTrainConfig) -> None:
    """Settings rl-games has no option for, applied once its agent is built."""
    sigma = getattr(algo.model.a2c_network, "sigma", None)
    if isinstance(sigma, torch.nn.Parameter) and not cfg.ppo.learn_sigma:
        sigma.requires_grad_(False)  # fixed exploration noise (rl-games' fixed_sigma still trains it)
    if cfg.init_policy and not cfg.resume:
        init_actor_from_policy(algo, TrackingPolicy.load(cfg.init_policy))
        if cfg.critic_warmup_epochs > 0:
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
    adaptive schedule raised it while the frozen actor's KL was 0)."""
    if cfg.init_policy and not cfg.resume and epoch == cfg.critic_warmup_epochs > 0:
        for p in _actor_parameters(algo):
            p.requires_grad_(True)
        algo.last_lr = cfg.ppo.learning_rate
        for group in algo.optimizer.param_groups:
            group["lr"] = algo.last_lr
        print(f"[train-tracker] critic warm-up done after {epoch} epochs: training the actor", flush=True)


def backend_config(cfg: TrackerTrainConfig):
    """Physics backend settings for ``cfg.backend`` (threads on CPU, device for warp)."""
    if cfg.backend == "warp":
        from motionlib.sim.backend_warp import WarpBackendConfig

        return WarpBackendConfig(device=cfg.device, graph=cfg.warp_graph)
    from motionlib.sim.backend_cpu import CpuBackendConfig

    return CpuBackendConfig(threads=cfg.threads)


def export_policy(model_state: dict, cfg: TrackerTrainConfig, info: dict) -> TrackingPolicy:
    actor = TrackingActor.from_rlgames_state(model_state, cfg.ppo.units, cfg.ppo.activation)
    return TrackingPolicy(actor, cfg.tracking, cfg.humanoid, info)


def append_curve(path: Path, row: dict) -> None:
    new = not path.is_file()
    rows = [] if new else list(csv.DictReader(open(path)))
    rows.append({k: row[k] for k in ("env_steps", "epoch", "success_rate", "g_mpjpe_mm", "seconds")})
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)


def load_clip_set(paths: list[str]) -> list[Motion]:
    """Clip files and folders (motionlib .npz) -> clips, in a stable order."""
    from motionlib.motion.io import find_clips, load_motion

    return [load_motion(f) for f in find_clips(paths, required=True)]


def clip_weight_rules(specs: list[str]) -> list[tuple[re.Pattern, float]]:
    """The ``REGEX=W`` rules of ``specs``, parsed; ValueError on a malformed one."""
    rules = []
    for spec in specs:
        pattern, sep, w = spec.rpartition("=")
        try:
            rule = (re.compile(pattern), float(w))
        except (re.error, ValueError):
            rule = None
        if not sep or not pattern or rule is None or rule[1] < 0:
            raise ValueError(f"clip weight {spec!r}: expected REGEX=W with W >= 0")
        rules.append(rule)
    return rules


def clip_weights(names: list[str], specs: list[str]) -> list[float]:
    """Sampling weight of each clip: the W of the first ``REGEX=W`` of ``specs`` whose REGEX is
    found in the clip's name, 1 where none is (:func:`clip_weight_rules`)."""
    rules = clip_weight_rules(specs)
    return [next((w for rx, w in rules if rx.search(n)), 1.0) for n in names]


def env_steps_per_epoch(cfg: TrackerTrainConfig) -> int:
    return cfg.tracking.num_envs * cfg.ppo.horizon_length

