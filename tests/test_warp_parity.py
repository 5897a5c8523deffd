"""MuJoCo Warp backend vs CPU MuJoCo: the same actions give the same trajectories.

Runs on warp's CPU device (no GPU needed). The first run on a clean machine
compiles mujoco_warp's kernels for the CPU (82 s for this file on 2 cores with
an empty cache, measured; the kernel cache, ``$WARP_CACHE_PATH`` or warp's user
cache, makes later runs take seconds), so everything shares one small
module-scoped pair of environments. The comparison itself is
:func:`motionlib.sim.backend_parity.compare_backends`, which
``bench_warp.py --check`` also runs on the GPU.

Start states. The walking reference crosses its feet at some frames (toe box
inside the other ankle box, hip capsules overlapping): MuJoCo C and MuJoCo
Warp generate different contact sets for such interpenetrating geoms (box-box:
3 vs 2 contacts, measured), and the trajectories part by ~2 mm in one control
step. That is a difference of the two narrowphases, not of the backend, so
the episodes here start at frames without self-contact (checked below).

Tolerance. Warp simulates in float32, CPU MuJoCo in float64, and the Newton
solver stops at a tolerance, so the two differ by float32 round-off that
contacts (both feet on the floor throughout) then propagate. Over the short
horizon here (10 control steps = 40 physics steps, with early terminations
and resets) the measured differences were: qpos 4.5e-6, qvel 1.0e-4, body
positions 1.2e-6 m, observations 1.1e-4, rewards 1.4e-6. The bounds below
are 20-100x those: tight enough that any modelling difference (a
missing lift, stale sensors, a wrong timestep or actuator) fails by orders of
magnitude, loose enough for round-off. Longer horizons diverge chaotically
through contacts, as any two float implementations do.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import SAMPLES

pytest.importorskip("mujoco_warp")

N, STEPS = 4, 10
STARTS = [5, 40, 80, 120]  # walking-clip frames whose reset states have no self-contact
TOL = {"qpos": 1e-4, "qvel": 5e-3, "body_pos": 1e-4, "obs": 2e-3, "reward": 2e-4}


@pytest.fixture(scope="module")
def envs():
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion
    from motionlib.sim.backend_parity import build_pair

    cpu, warp = build_pair([bvh_to_motion(SAMPLES / "dataset-1_walk_normal_001.bvh")], "cpu", N)
    yield cpu, warp
    cpu.close()
    warp.close()


def _start(envs, frames):
    worlds, clips = torch.arange(N), torch.zeros(N, dtype=torch.long)
    return [e.restart(worlds, clips, torch.tensor(frames)) for e in envs]


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max())


@pytest.mark.slow
def test_same_actions_same_trajectories(envs):
    from motionlib.sim.backend_parity import compare_backends, self_contacts

    cpu, warp = envs
    assert all(self_contacts(cpu, f) == 0 for f in STARTS)
    worst = compare_backends(cpu, warp, STARTS, steps=STEPS, action_scale=0.5)
    print("worst differences over the horizon:", worst)
    assert worst["same_done"] and worst["reset_obs"] < TOL["obs"]
    assert all(worst[k] < TOL[k] for k in TOL), worst
    assert worst["episodes_ended"] >= 1  # the horizon covered terminations and resets
    assert int(warp.total_blowups) == int(cpu.total_blowups) == 0 and int(warp.backend.overflows) == 0


@pytest.mark.slow
def test_hand_made_reset_lift_and_blowup_match_cpu(envs):
    cpu, warp = envs
    _start(envs, [STARTS[0], STARTS[0], STARTS[1], STARTS[1]])
    idx = cpu.ref.index(cpu.clip, cpu.frame)
    qpos = cpu.ref.qpos[idx].clone()
    qvel = cpu.ref.qvel[idx].clone()
    qpos[0, 2] -= 0.05  # 5 cm into the floor: set_state must lift it out (computed from contacts here)
    qpos[1, 2] += 0.10  # floating: no lift
    qvel[2, 10] = 1e7  # blows up on the next step
    for e in envs:
        e.backend.set_state(torch.arange(N), qpos, qvel)
    zc, zw = cpu.backend.qpos[:, 2].double(), warp.backend.qpos[:, 2].double()
    assert np.allclose(zc.numpy(), zw.numpy(), atol=1e-5)
    assert zc[0] > qpos[0, 2] + 0.02 and abs(float(zc[1] - qpos[1, 2])) < 1e-6
    calm = [0, 1, 3]  # sensors refreshed after the reset (env 2's 1e7 velocity only agrees to float32's 1e-7 relative)
    assert _diff(cpu.backend.sensordata[calm], warp.backend.sensordata[calm]) < 1e-4
    a = torch.zeros(N, cpu.num_actions)
    rc, rw = cpu.step(a), warp.step(a)
    assert cpu.backend.unstable.tolist() == warp.backend.unstable.tolist() == [False, False, True, False]
    assert int(rw.info["blowups"]) == int(rc.info["blowups"]) == 1 and bool(rw.terminated[2])
    assert torch.isfinite(rw.obs).all() and torch.isfinite(warp.backend.qpos).all()
    # the pair runs without automatic resets: the blown-up world restarts as an evaluation loop restarts it
    restarted = warp.restart(torch.tensor([2]), torch.zeros(1, dtype=torch.long), torch.tensor([STARTS[1]]))
    assert torch.isfinite(restarted).all()
    rw = warp.step(a)
    assert torch.isfinite(rw.obs).all() and not warp.backend.unstable.any()


def test_warp_backend_takes_several_bodies(standing_clip):
    """Clips of two bodies share one batched model (tests/test_warp_bodies.py compares them with CPU)."""
    from motionlib.sim.tracking_config import TrackingConfig
    from motionlib.sim.tracking_env import TrackingEnv

    tall = standing_clip.copy()
    tall.body_scale = 1.1
    env = TrackingEnv([standing_clip, tall], TrackingConfig(num_envs=2), backend="warp", device="cpu")
    assert len(env.models) == 2 and env.backend.m.body_mass.shape[0] == 2
    env.restart(torch.arange(2), torch.tensor([1, 0]), torch.tensor([0, 0]))
    assert env.backend.model_of_env.tolist() == [1, 0]
    heavy = torch.as_tensor(env.models[1].body_mass, dtype=torch.float32)
    assert torch.equal(env.backend._body_rows["body_mass"][0], heavy)
    env.close()


@pytest.mark.slow
def test_policy_rollout_on_warp_matches_cpu():
    """Evaluation/refinement rollouts (``--backend warp``) run the shipped policy
    through the same code and stay with the CPU result (closed loop, frames 5-29;
    the policy loses this walk at frame 28 on both backends alike)."""
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.default import default_policy_path
    from motionlib.policies.rollout import rollout

    clip = bvh_to_motion(SAMPLES / "dataset-1_walk_normal_001.bvh")
    policy = TrackingPolicy.load(default_policy_path())
    clip = clip.resample(policy.tracking.control_fps)[:30]
    starts = [(0, 5)]
    rc = rollout(policy, [clip], starts=starts)[0]
    rw = rollout(policy, [clip], starts=starts, backend="warp")[0]
    assert (rc.success, rc.fail_frame) == (rw.success, rw.fail_frame)
    assert rc.body_pos.shape == rw.body_pos.shape and len(rw.body_pos) > 20
    assert np.abs(rc.body_pos - rw.body_pos).max() < 1e-3  # measured 5e-6 m
