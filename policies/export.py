"""A training run's outputs: the exported policy and the learning curve (``curve.csv``).

The policy file (:class:`TrackingPolicy`) is made from the trained model's weights; the curve holds one row
per deterministic evaluation (env steps, epoch, success rate, G-MPJPE, seconds since the start).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from motionlib.motion.atomic import atomic_path
from motionlib.motion.errors import MotionError

from .actor import TrackingActor, TrackingPolicy
from .train_config import TrackerTrainConfig

# armature_scale: the physics of the evaluation (TrackerTrainConfig.armature_scale; 1 where a curve lacks it)
CURVE_FIELDS = ("env_steps", "epoch", "success_rate", "g_mpjpe_mm", "seconds", "armature_scale")


def export_policy(model_state: dict, cfg: TrackerTrainConfig, info: dict) -> TrackingPolicy:
    """The deployable policy of a model state (rl-games' ``continuous_a2c_logstd`` layout, see
    :meth:`TrackingActor.from_rlgames_state`), with the run's tracking and humanoid settings, its body
    (``cfg.robot``, or the SMPL humanoid) and ``info``."""
    actor = TrackingActor.from_rlgames_state(model_state, cfg.ppo.units, cfg.ppo.activation)
    body = {"kind": "mjcf_robot", "robot": cfg.robot} if cfg.robot else {"kind": "smpl_humanoid"}
    # the file keeps cfg.humanoid; a run in other physics says so (refine's armature x4 = training's at 4)
    info = {**info, "armature_scale": cfg.armature_scale} if cfg.armature_scale != 1.0 else info
    return TrackingPolicy(actor, cfg.tracking, cfg.humanoid, info, body)


def append_curve(path: Path, row: dict) -> None:
    """Add one evaluation (the :data:`CURVE_FIELDS` of ``row``; armature scale 1 if it has none) to the curve at
    ``path``, rewritten atomically (earlier rows without an armature scale get 1)."""
    rows = []
    if path.is_file():
        with open(path, newline="") as fh:
            rows = [{**r, "armature_scale": r.get("armature_scale") or 1.0} for r in csv.DictReader(fh)]
    rows.append({**{k: row.get(k) for k in CURVE_FIELDS}, "armature_scale": row.get("armature_scale", 1.0)})
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(CURVE_FIELDS))
            w.writeheader()
            w.writerows(rows)


def read_curve(path: str | os.PathLike) -> list[dict]:
    """The evaluations of the curve at ``path`` (env steps and epoch as int, success rate and G-MPJPE as
    float); MotionError naming the file when it is missing or not a learning curve."""
    path = Path(path)
    if not path.is_file():
        raise MotionError("no learning curve (curve.csv) in this run folder", str(path))
    try:
        with open(path, newline="") as fh:
            return [{"env_steps": int(float(r["env_steps"])), "epoch": int(float(r["epoch"])),
                     "success_rate": float(r["success_rate"]), "g_mpjpe_mm": float(r["g_mpjpe_mm"]),
                     "armature_scale": float(r.get("armature_scale") or 1.0)}
                    for r in csv.DictReader(fh)]
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as e:
        raise MotionError(f"not a tracker learning curve: needs numeric columns {list(CURVE_FIELDS[:4])} ({e})",
                          str(path)) from None
