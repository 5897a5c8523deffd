"""MuJoCo Warp backend with several body models against CPU MuJoCo.

Two clips of the walking reference on two skeletons (the mean body scaled by
0.9; the mean body with longer thighs and a narrower collar): worlds of both
bodies step side by side in one batched model, and a world restarted on a
clip of the other body takes that body's physics. Runs on warp's CPU device
like tests/test_warp_parity.py, with its tolerances and start frames (see
there for how they were measured).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import SAMPLES

pytest.importorskip("mujoco_warp")

N, STEPS = 4, 10
STARTS = [5, 40, 80, 120]
TOL = {"qpos": 1e-4, "qvel": 5e-3, "body_pos": 1e-4, "obs": 2e-3, "reward": 2e-4}


def _offsets() -> tuple[np.ndarray, np.ndarray]:
    from motionlib.motion import Skeleton

    small = Skeleton.default().scaled(0.9).offsets
    other = Skeleton.default().offsets.copy()
    other[[4, 5]] *= 1.15  # hip -> knee: longer thighs
    other[[13, 14], 0] *= 0.7  # spine -> collar: narrower
    return small, other


@pytest.fixture(scope="module")
def clips():
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion

    walk = bvh_to_motion(SAMPLES / "dataset-1_walk_normal_001.bvh")
    out = []
    for off in _offsets():
        c = walk.copy()
        c.offsets = off
        out.append(c)
    return out


@pytest.fixture(scope="module")
def envs(clips):
    from motionlib.sim.backend_parity import build_pair

    cpu, warp = build_pair(clips, "cpu", N)
    yield cpu, warp
    cpu.close()
    warp.close()


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().double().cpu() - b.detach().double().cpu()).abs().max())


def _run(envs, clip_of_world: list[int], steps: int, seed: int) -> dict:
    """Restart every world at (clip_of_world, STARTS), step both envs with the same random
    actions (restarting ended episodes alike) and return the worst differences."""
    cpu, warp = envs
    worlds, clip, frames = torch.arange(N), torch.tensor(clip_of_world), torch.tensor(STARTS)
    worst = {"reset_obs": _diff(cpu.restart(worlds, clip, frames), warp.restart(worlds, clip, frames))}
    worst.update(dict.fromkeys(TOL, 0.0))
    worst["same_done"], worst["episodes_ended"] = True, 0
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        a = 0.5 * (torch.rand(N, cpu.num_actions, generator=gen) * 2 - 1)
        rc, rw = cpu.step(a), warp.step(a)
        worst["same_done"] &= bool(torch.equal(rc.terminated, rw.terminated) and torch.equal(rc.truncated, rw.truncated))
        obs_c, obs_w = rc.obs.clone(), rw.obs.clone()
        ended = (rc.terminated | rc.truncated).nonzero().flatten()
        worst["episodes_ended"] += ended.numel()
        if ended.numel():
            obs_c[ended] = cpu.restart(ended, clip[ended], frames[ended])
            obs_w[ended] = warp.restart(ended, clip[ended], frames[ended])
        d = {"qpos": _diff(cpu.backend.qpos, warp.backend.qpos), "qvel": _diff(cpu.backend.qvel, warp.backend.qvel),
             "body_pos": _diff(cpu.body_state().pos, warp.body_state().pos), "obs": _diff(obs_c, obs_w),
             "reward": _diff(rc.reward, rw.reward)}
        worst.update({k: max(worst[k], v) for k, v in d.items()})
    return worst


def _check(worst: dict) -> None:
    print("worst differences over the horizon:", worst)
    assert worst["same_done"] and worst["reset_obs"] < TOL["obs"]
    assert all(worst[k] < TOL[k] for k in TOL), worst


def _rows_of(warp, body: int) -> dict[str, torch.Tensor]:
    return {k: v[body] for k, v in warp.backend._body_values.items()}


def test_two_bodies_batch_only_the_fields_that_differ(envs):
    cpu, warp = envs
    assert len(cpu.models) == len(warp.models) == 2 and cpu.ref.clip_body.tolist() == [0, 1]
    rows = warp.backend._body_rows
    # measured: these differ between two skeletons (dof_length too, which warp reads only when sleeping)
    assert {"body_pos", "body_mass", "body_inertia", "geom_size", "geom_pos", "actuator_acc0"} <= set(rows)
    assert "dof_length" not in rows and "jnt_range" not in rows
    assert all(v.shape[0] == N for v in rows.values())
    assert warp.backend.m.jnt_range.shape[0] == 1  # fields the bodies share keep one row
    small, other = (torch.as_tensor(m.body_mass, dtype=torch.float32) for m in warp.models)
    assert torch.equal(warp.backend._body_values["body_mass"][0], small)
    assert torch.equal(warp.backend._body_values["body_mass"][1], other)
    assert (other - small).abs().max() > 0.5  # kg: the bodies differ in their physics


@pytest.mark.slow
def test_worlds_of_two_bodies_match_cpu(envs):
    _, warp = envs
    worst = _run(envs, [0, 1, 0, 1], STEPS, seed=0)
    _check(worst)
    assert warp.backend.model_of_env.tolist() == [0, 1, 0, 1]
    assert int(envs[0].total_blowups) == int(warp.total_blowups) == 0 and int(warp.backend.overflows) == 0


@pytest.mark.slow
def test_reset_switches_a_worlds_body(envs):
    cpu, warp = envs
    _run(envs, [0, 0, 1, 1], 2, seed=1)
    assert warp.backend.model_of_env.tolist() == [0, 0, 1, 1]
    # every world changes body: its model rows and its physics follow
    worst = _run(envs, [1, 1, 0, 0], STEPS, seed=2)
    _check(worst)
    assert warp.backend.model_of_env.tolist() == [1, 1, 0, 0]
    for name, rows in warp.backend._body_rows.items():
        for w, body in enumerate([1, 1, 0, 0]):
            assert torch.equal(rows[w], _rows_of(warp, body)[name]), (name, w)


def test_one_body_batches_nothing(standing_clip):
    from motionlib.sim.backend_warp import WarpBackend, WarpBackendConfig, body_fields
    from motionlib.sim.body import build_models
    from motionlib.sim.humanoid import HumanoidConfig

    models = build_models([standing_clip.skeleton().offsets], HumanoidConfig())
    assert body_fields(models) == {} and body_fields(models + build_models([standing_clip.skeleton().offsets],
                                                                           HumanoidConfig())) == {}
    b = WarpBackend(models, np.zeros(2, dtype=np.int64), WarpBackendConfig(device="cpu"))
    assert b._body_rows == {} and b.m.body_mass.shape[0] == 1 and b.m.geom_size.shape[0] == 1


def test_bodies_of_another_structure_are_refused(standing_clip):
    import mujoco

    from motionlib.sim.backend_warp import WarpBackend, WarpBackendConfig
    from motionlib.sim.body import build_models
    from motionlib.sim.humanoid import HumanoidConfig

    small, other = _offsets()
    a, b = build_models([small, other], HumanoidConfig())
    # self-collision adds contact exclusions: another structure
    (c,) = build_models([other], HumanoidConfig(self_collision=True))
    with pytest.raises(ValueError, match="one structure: model 1 has nexclude"):
        WarpBackend([a, c], np.array([0, 1]), WarpBackendConfig(device="cpu"))
    # a field warp shares across worlds (contact dimensionality of one geom)
    b.geom_condim[3] = 1
    with pytest.raises(ValueError, match="differ in geom_condim"):
        WarpBackend([a, b], np.array([0, 1]), WarpBackendConfig(device="cpu"))
    # another number of bodies
    robot = mujoco.MjModel.from_xml_string("<mujoco><worldbody><body><freejoint/><geom size='0.1'/>"
                                           "</body></worldbody></mujoco>")
    with pytest.raises(ValueError, match="one structure"):
        WarpBackend([a, robot], np.array([0, 1]), WarpBackendConfig(device="cpu"))
    with pytest.raises(ValueError, match="must index the 2 body models"):
        WarpBackend([a, a], np.array([0, 2]), WarpBackendConfig(device="cpu"))


@pytest.mark.slow
def test_tracking_env_with_auto_resets_on_two_bodies(clips):
    from motionlib.sim.backend_warp import WarpBackendConfig
    from motionlib.sim.tracking_config import TrackingConfig
    from motionlib.sim.tracking_env import TrackingEnv

    env = TrackingEnv(clips, TrackingConfig(num_envs=8, seed=0), backend="warp",
                      backend_cfg=WarpBackendConfig(device="cpu"), device="cpu")
    env.reset()
    gen = torch.Generator().manual_seed(0)
    for _ in range(6):
        res = env.step(torch.rand(8, env.num_actions, generator=gen) - 0.5)
        assert torch.isfinite(res.obs).all() and torch.isfinite(res.reward).all()
        body = env.ref.clip_body[env.clip]
        assert torch.equal(env.backend.model_of_env, body)  # every world simulates its clip's body
        mass = env.backend._body_rows["body_mass"]
        assert torch.equal(mass, env.backend._body_values["body_mass"][body])
    env.close()
