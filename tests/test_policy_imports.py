"""The policies package's imports: no cycle among its modules (imports inside functions included), no
import of a higher stage, and rl-games only behind its adapter module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

POLICIES = Path(__file__).resolve().parents[1] / "policies"
PACKAGE = "motionlib.policies"
HIGHER_STAGES = ("motionlib.tokenizer", "motionlib.llm", "motionlib.retarget", "motionlib.cli")


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


def import_graph() -> dict[str, set[str]]:
    modules = {f"{PACKAGE}.{p.stem}": p for p in POLICIES.glob("*.py") if p.stem != "__init__"}
    return {name: imported_modules(path) & modules.keys() - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("from .b import f\n")
    b.write_text("def g():\n    from .a import h\n    from motionlib.policies import c\n")
    assert imported_modules(b) >= {f"{PACKAGE}.a", f"{PACKAGE}.a.h", f"{PACKAGE}.c"}
    graph = {f"{PACKAGE}.a": {f"{PACKAGE}.b"}, f"{PACKAGE}.b": {f"{PACKAGE}.a"}, f"{PACKAGE}.c": set()}
    assert find_cycle(graph) == [f"{PACKAGE}.a", f"{PACKAGE}.b", f"{PACKAGE}.a"]
    assert find_cycle({**graph, f"{PACKAGE}.b": {f"{PACKAGE}.c"}}) is None


def test_no_import_cycle_among_the_policies_modules():
    graph = import_graph()
    assert f"{PACKAGE}.observer" in graph[f"{PACKAGE}.train"]  # the graph sees the package's own imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_policies_import_no_higher_stage():
    for path in sorted(POLICIES.glob("*.py")):
        bad = sorted(m for m in imported_modules(path) if m.startswith(HIGHER_STAGES))
        assert not bad, f"{path.name} imports {bad}"


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
    from motionlib.motion.ingest.bvh_retarget import bvh_to_motion
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
