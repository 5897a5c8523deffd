"""rl-games stays behind its adapter module: only ``policies/rlgames_adapter.py`` imports it, and a training
registers nothing in rl-games' global registries. (Cycles and stage order of the whole package:
``tests/test_imports.py``.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

POLICIES = Path(__file__).resolve().parents[1] / "policies"
PACKAGE = "motionlib.policies"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (function bodies and TYPE_CHECKING blocks too),
    relative imports resolved against :data:`PACKAGE`; ``from X import y`` also counts ``X.y`` (y may be a
    module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = PACKAGE.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def test_only_the_adapter_imports_rl_games():
    users = sorted(p.name for p in POLICIES.glob("*.py")
                   if any(m == "rl_games" or m.startswith("rl_games.") for m in imported_modules(p)))
    assert users == ["rlgames_adapter.py"]


@pytest.mark.slow
def test_two_trainings_in_one_process_use_their_own_envs_and_register_nothing(tmp_path):
    """The env reaches rl-games through the agent's config: nothing lands in rl-games' global env
    registries, and a second training in the same process trains its own env."""
    pytest.importorskip("rl_games")
    from rl_games.common import env_configurations, vecenv

    from conftest import SAMPLES
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion
    from motionlib.policies.rlgames_adapter import ENV_NAME
    from motionlib.policies.train import train
    from motionlib.policies.train_config import PPOConfig, TrackerTrainConfig
    from motionlib.sim.humanoid import HumanoidConfig
    from motionlib.sim.tracking_config import TrackingConfig

    clip = bvh_to_motion(SAMPLES / "dataset-1_walk_normal_001.bvh")
    registered = (set(vecenv.vecenv_config), set(env_configurations.configurations))

    def run(name: str, envs: int) -> dict:
        cfg = TrackerTrainConfig(out=str(tmp_path / name), max_env_steps=envs * 8 * 3, eval_every_epochs=0,
                                 save_every_epochs=100, threads=1, tracking=TrackingConfig(num_envs=envs, seed=0),
                                 humanoid=HumanoidConfig(self_collision=False),
                                 ppo=PPOConfig(units=(16,), horizon_length=8, minibatches=2))
        return train(cfg, [clip], progress=False)

    first, second = run("first", 4), run("second", 2)
    # rl-games counts an epoch's env steps from the env it trains: each run's own number of worlds
    assert [h["env_steps"] for h in first["train_history"]] == [0, 32, 64]
    assert [h["env_steps"] for h in second["train_history"]] == [0, 16, 32]
    assert (set(vecenv.vecenv_config), set(env_configurations.configurations)) == registered
    assert ENV_NAME not in env_configurations.configurations
