"""Train the tracking policy with PPO: the recipe.

Build the reference library of the clips, make the tracking env, run PPO (rl-games, behind
:mod:`.rlgames_adapter`) with the :class:`TrackingObserver`, write the summary.

Output under ``cfg.out``: ``config.json``, rl-games checkpoints (``rl/nn/``, written atomically),
TensorBoard logs (``rl/summaries/``: reward terms, success rate, episode length, env-steps/s, blow-ups,
deterministic evaluation), ``policy_best.pt`` (the exported policy with the best deterministic evaluation:
checkpoints are selected by evaluation, not by the last epoch), ``policy_last.pt``, every evaluated policy
(``policies/``), ``curve.csv`` (env steps, success rate, G-MPJPE) for the learning curve and ``summary.json``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path

import torch

from motionlib.motion.atomic import write_text_atomic
from motionlib.motion.clip import Motion
from motionlib.sim.body import SimBody
from motionlib.sim.reference import ReferenceLibrary
from motionlib.sim.tracking_env import TrackingEnv

from .observer import TrackingObserver
from .rlgames_adapter import RLGamesPPO
from .train_config import TrackerTrainConfig


def train(cfg: TrackerTrainConfig, clips: list[Motion] | ReferenceLibrary,
          eval_clips: list[Motion] | ReferenceLibrary | None = None, progress: bool = True,
          names: list[str] | None = None, body: SimBody | None = None) -> dict:
    """Train; returns a summary (best evaluation, env steps, paths). ``names``: each clip's name,
    which ``cfg.clip_weights`` match (default: the stem of the clip's source file, or the reference
    library's names). ``body``: the simulated body (default: the SMPL humanoid of ``cfg.humanoid``); a
    robot (``cfg.robot``) trains on a ReferenceLibrary of its clips."""
    torch.manual_seed(cfg.seed)
    if cfg.threads:  # PPO updates use the cores while the physics threads are idle
        torch.set_num_threads(cfg.threads)
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / "config.json", json.dumps(asdict(cfg), indent=1, default=str))
    weights = None
    if cfg.clip_weights:
        if names is None:
            names = clips.names if isinstance(clips, ReferenceLibrary) else [Path(str(c.source)).stem for c in clips]
        weights = clip_weights(names, cfg.clip_weights)
    if isinstance(clips, ReferenceLibrary):
        ref = clips.to(cfg.device)
    else:
        ref = ReferenceLibrary.from_clips(clips, cfg.tracking.control_fps, device=cfg.device)

    if cfg.armature_scale != 1.0 and body is not None:
        raise ValueError("armature_scale: for the SMPL humanoid, not a robot body")
    humanoid = cfg.humanoid.with_armature_scale(cfg.armature_scale)

    def make_env() -> TrackingEnv:
        env = TrackingEnv(ref, cfg.tracking, humanoid, backend=cfg.backend,
                          backend_cfg=backend_config(cfg), device=cfg.device, body=body)
        if cfg.curriculum_clips > 0:  # a resumed run restores the sampler's state over this
            env.sampler.set_active_clips(cfg.curriculum_clips)
        if weights is not None:
            env.sampler.set_clip_weights(torch.tensor(weights))
        return env

    if eval_clips is None:
        eval_clips = clips.subset(list(range(min(clips.num_clips, cfg.eval_max_clips)))) \
            if isinstance(clips, ReferenceLibrary) else clips[: cfg.eval_max_clips]
    observer = TrackingObserver(cfg, eval_clips, progress=progress, body=body)
    ppo = RLGamesPPO(cfg, make_env, observer)
    t0 = time.time()
    ppo.train()
    summary = observer.summary()
    summary["seconds"] = time.time() - t0
    summary["clip_weights"] = weights  # each clip's sampling weight (None: all 1)
    write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=1))
    return summary


def backend_config(cfg: TrackerTrainConfig):
    """Physics backend settings for ``cfg.backend`` (threads on CPU, device for warp)."""
    if cfg.backend == "warp":
        from motionlib.sim.backend_warp import WarpBackendConfig

        return WarpBackendConfig(device=cfg.device, graph=cfg.warp_graph)
    from motionlib.sim.backend_cpu import CpuBackendConfig

    return CpuBackendConfig(threads=cfg.threads)


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

