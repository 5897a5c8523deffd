"""A training run's outputs: the exported policy and the learning curve (``curve.csv``).

The policy file (:class:`TrackingPolicy`) is made from the trained model's weights; the curve holds one row
per deterministic evaluation (env steps, epoch, success rate, G-MPJPE, seconds since the start).
"""

from __future__ import annotations

import csv
from pathlib import Path

from motionlib.motion.atomic import atomic_path

from .actor import TrackingActor, TrackingPolicy
from .train_config import TrackerTrainConfig

CURVE_FIELDS = ("env_steps", "epoch", "success_rate", "g_mpjpe_mm", "seconds")


def export_policy(model_state: dict, cfg: TrackerTrainConfig, info: dict) -> TrackingPolicy:
    """The deployable policy of a model state (rl-games' ``continuous_a2c_logstd`` layout, see
    :meth:`TrackingActor.from_rlgames_state`), with the run's tracking and humanoid settings and ``info``."""
    actor = TrackingActor.from_rlgames_state(model_state, cfg.ppo.units, cfg.ppo.activation)
    return TrackingPolicy(actor, cfg.tracking, cfg.humanoid, info)


def append_curve(path: Path, row: dict) -> None:
    """Add one evaluation (the :data:`CURVE_FIELDS` of ``row``) to the curve at ``path``, rewritten atomically."""
    new = not path.is_file()
    rows = [] if new else list(csv.DictReader(open(path)))
    rows.append({k: row[k] for k in CURVE_FIELDS})
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)


def read_curve(path: Path) -> list[dict]:
    """The evaluations of the curve at ``path`` (env steps, epoch, success rate, G-MPJPE)."""
    return [{"success_rate": float(r["success_rate"]), "g_mpjpe_mm": float(r["g_mpjpe_mm"]),
             "env_steps": int(r["env_steps"]), "epoch": int(r["epoch"])} for r in csv.DictReader(open(path))]
