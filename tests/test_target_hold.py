"""How the PD target moves over a control step's substeps (TrackingConfig.target_hold): the held target
("zoh"), the ramp from the previous step's target ("foh") and the ramp half a step ahead ("foh_lead");
the per-substep targets the backends take, and the setting (and refine's joint armature) reaching the env
from refine and the CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from conftest import SAMPLES


@pytest.fixture(scope="module")
def walk():
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion

    return bvh_to_motion(SAMPLES / "dataset-1_walk_normal_001.bvh")[:60]  # 2 s


def _env(walk, hold: str, substeps: int, n: int = 3):
    from motionlib.sim.tracking_config import EvalConfig, TrackingConfig
    from motionlib.sim.tracking_env import TrackingEnv

    cfg = TrackingConfig(num_envs=n, substeps=substeps, target_hold=hold, rsi=False)
    return TrackingEnv([walk], cfg, evaluation=EvalConfig())


def _run(env, starts, steps: int, seed: int = 0) -> tuple[list[torch.Tensor], list[np.ndarray]]:
    """Restart the worlds at ``starts``, step seeded random actions; the PD targets each backend step got
    and the qpos after each step."""
    got: list[torch.Tensor] = []
    backend_step = env.backend.step

    def recording_step(ctrl, substeps, active=None):
        got.append(ctrl.clone())
        backend_step(ctrl, substeps, active=active)

    env.backend.step = recording_step
    n = env.num_envs
    env.restart(torch.arange(n), torch.zeros(n, dtype=torch.long), torch.tensor(starts))
    gen = torch.Generator().manual_seed(seed)
    qpos = []
    for _ in range(steps):
        env.step(torch.rand(n, env.num_actions, generator=gen) * 0.6 - 0.3)
        qpos.append(env.backend.qpos.numpy().copy())
    return got, qpos


def test_hold_weights():
    from motionlib.sim.tracking_env import hold_weights

    assert hold_weights("zoh", 4) is None and hold_weights("foh", 1) is None and hold_weights("foh_lead", 1) is None
    assert hold_weights("foh", 4).tolist() == [0.25, 0.5, 0.75, 1.0]
    assert hold_weights("foh_lead", 4).tolist() == [0.625, 0.875, 1.125, 1.375]
    for s in (2, 5, 6, 8):  # the lead's mean weight is 1: over the step the target is the new one on average
        assert float(hold_weights("foh_lead", s).double().mean()) == pytest.approx(1.0, abs=1e-7)
        assert float(hold_weights("foh", s)[-1]) == 1.0


def test_foh_with_one_substep_is_zoh(walk):
    runs = {}
    for hold in ("zoh", "foh", "foh_lead"):
        env = _env(walk, hold, substeps=1)
        runs[hold] = _run(env, [0, 10, 20], steps=8)
        env.close()
    for hold in ("foh", "foh_lead"):
        assert all(a.dim() == 2 and torch.equal(a, b) for a, b in zip(runs[hold][0], runs["zoh"][0]))
        assert all(np.array_equal(a, b) for a, b in zip(runs[hold][1], runs["zoh"][1]))


def test_the_ramp_starts_at_the_previous_target_and_ends_at_the_new_one(walk):
    from motionlib.sim.tracking_env import hold_weights

    zoh = _env(walk, "zoh", substeps=4)
    held, zoh_q = _run(zoh, [0, 10, 20], steps=3)
    zoh.close()
    env = _env(walk, "foh", substeps=4)
    ramps, foh_q = _run(env, [0, 10, 20], steps=3)
    assert all(r.shape == (3, 4, env.num_actions) for r in ramps) and all(h.dim() == 2 for h in held)
    # before the first step the previous target is the start frame's, with zero residual
    start = env.reference_target(env.ref.index(torch.zeros(3, dtype=torch.long), torch.tensor([0, 10, 20])))
    # the first step: the same new target as the held one (same state, same actions); the ramp from the start
    # frame's target reaches it at the last substep, exactly
    assert torch.equal(ramps[0][:, -1], held[0])
    assert torch.allclose(ramps[0][:, 0], start + (held[0] - start) / 4, atol=1e-6)
    assert torch.allclose(ramps[0][:, 1], (start + held[0]) / 2, atol=1e-6)
    # later steps start from the previous step's target and end at their own
    for prev, cur in zip(ramps[:-1], ramps[1:]):
        assert torch.allclose(cur[:, 0], prev[:, -1] + (cur[:, -1] - prev[:, -1]) / 4, atol=1e-6)
    assert not np.allclose(foh_q[-1], zoh_q[-1])  # the ramp changes the trajectory
    # a restart starts its world's ramp at its new start frame's target
    env.restart(torch.tensor([1]), torch.zeros(1, dtype=torch.long), torch.tensor([30]))
    at_30 = env.reference_target(env.ref.index(torch.tensor([0]), torch.tensor([30])))
    assert torch.equal(env.prev_target[1], at_30[0])
    env.close()
    # the lead: the same ramp half a control step ahead
    lead = _env(walk, "foh_lead", substeps=4)
    lramps, _ = _run(lead, [0, 10, 20], steps=1)
    w = hold_weights("foh_lead", 4)
    assert torch.allclose(lramps[0], torch.lerp(start[:, None], held[0][:, None], w[None, :, None]), atol=1e-6)
    lead.close()


def test_unknown_hold_is_refused(walk):
    with pytest.raises(ValueError, match="target_hold 'soh'"):
        _env(walk, "soh", substeps=4)


def test_cpu_backend_per_substep_targets(walk):
    """(N, S, nu) targets all alike are the held (N, nu) target bit for bit; different ones act per substep."""
    env = _env(walk, "zoh", substeps=4)
    env.restart(torch.arange(3), torch.zeros(3, dtype=torch.long), torch.tensor([0, 10, 20]))
    b = env.backend
    q0, v0 = b.qpos.clone(), b.qvel.clone()
    target = env.reference_target(env.ref.index(env.clip, env.frame + 1))
    b.step(target, 4)
    held = b.qpos.clone()
    b.set_state(torch.arange(3), q0, v0)
    b.step(target[:, None, :].expand(3, 4, -1), 4)
    assert torch.equal(b.qpos, held)
    b.set_state(torch.arange(3), q0, v0)
    late = target[:, None, :].repeat(1, 4, 1)
    late[:, :2] += 0.2  # the first two substeps aim elsewhere
    b.step(late, 4)
    assert not torch.allclose(b.qpos, held)
    env.close()


def test_warp_backend_takes_per_substep_targets_as_the_cpu_one(walk):
    pytest.importorskip("mujoco_warp")
    from motionlib.sim.backend_warp import WarpBackendConfig
    from motionlib.sim.tracking_config import EvalConfig, TrackingConfig
    from motionlib.sim.tracking_env import TrackingEnv

    cfg = TrackingConfig(num_envs=2, substeps=4, target_hold="foh", rsi=False)
    cpu = TrackingEnv([walk], cfg, evaluation=EvalConfig())
    warp = TrackingEnv([walk], cfg, backend="warp", backend_cfg=WarpBackendConfig(device="cpu", graph=False),
                       evaluation=EvalConfig())
    qs = []
    for env in (cpu, warp):
        env.restart(torch.arange(2), torch.zeros(2, dtype=torch.long), torch.tensor([5, 40]))  # no self-contact
        for _ in range(3):
            env.step(torch.full((2, env.num_actions), 0.1))
        qs.append(env.backend.qpos.double().cpu().numpy())
        env.close()
    assert np.abs(qs[0] - qs[1]).max() < 1e-4  # float32 round-off (tests/test_warp_parity.py)


def test_target_hold_reaches_the_env(walk, tmp_path, capsys, monkeypatch):
    import motionlib.policies.rollout as rollout_module
    from motionlib.cli.main import main
    from motionlib.motion.io import save_motion
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.default import default_policy_path
    from motionlib.policies.refine import ARMATURE_SCALE, refine_clips
    from motionlib.policies.rollout import with_armature

    seen: list = []
    armature: list = []
    env_class = rollout_module.TrackingEnv

    def recording_env(*args, **kwargs):  # the real env; its hold and substeps are noted, and a hinge's armature
        env = env_class(*args, **kwargs)
        seen.append((env.cfg.target_hold, env.cfg.substeps))
        armature.append(float(env.models[0].dof_armature[6]))
        return env

    monkeypatch.setattr(rollout_module, "TrackingEnv", recording_env)
    policy = TrackingPolicy.load(default_policy_path())
    short = walk[:20]
    _, totals = refine_clips([short], policy, threads=1, lanes=1, target_hold="foh")
    assert seen[-1] == ("foh", policy.tracking.substeps) and totals["target_hold"] == "foh"
    # a policy file's own hold is the default
    ramped = dataclasses.replace(policy, tracking=dataclasses.replace(policy.tracking, target_hold="foh_lead"))
    refine_clips([short], ramped, threads=1, lanes=1)
    assert seen[-1][0] == "foh_lead"

    save_motion(short, tmp_path / "in" / "walk.npz")
    common = ["--threads", "1", "--lanes", "1", "--json"]
    assert main(["refine", str(tmp_path / "in"), "--out", str(tmp_path / "r"), "--target-hold", "foh", "--substeps",
                 "6", *common]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert seen[-1] == ("foh", 6) and doc["totals"]["target_hold"] == "foh"
    assert main(["eval-tracker", str(tmp_path / "in"), "--target-hold", "foh_lead", *common]) == 0
    tot = json.loads(capsys.readouterr().out)["totals"]
    assert seen[-1][0] == "foh_lead" and tot["target_hold"] == "foh_lead"

    # the armature: refine's and evaluation's default (ARMATURE_SCALE) x the policy file's, or the flag's
    own = policy.humanoid.armature
    assert armature[-1] == pytest.approx(own * ARMATURE_SCALE)
    assert tot.get("armature_scale", 1.0) == ARMATURE_SCALE
    assert main(["eval-tracker", str(tmp_path / "in"), "--armature-scale", "1", *common]) == 0
    assert "armature_scale" not in json.loads(capsys.readouterr().out)["totals"] and armature[-1] == pytest.approx(own)
    assert main(["refine", str(tmp_path / "in"), "--out", str(tmp_path / "r"), "--armature-scale", "2.5", *common]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["armature_scale"] == 2.5
    assert armature[-1] == pytest.approx(own * 2.5)
    refine_clips([short], policy, threads=1, lanes=1, armature_scale=3.0)
    assert armature[-1] == pytest.approx(own * 3.0)
    assert with_armature(policy, 2.0).humanoid.light_armature == pytest.approx(policy.humanoid.light_armature * 2.0)
    assert policy.humanoid.armature == own  # the policy itself is left as it is


@pytest.mark.slow
def test_train_tracker_trains_with_the_ramp_and_the_policy_file_records_it(walk, tmp_path, capsys):
    """``train-tracker --target-hold foh``: the run trains with the ramp and the exported policy carries the hold,
    so refine and eval-tracker run it with the ramp it learnt."""
    from motionlib.cli.main import main
    from motionlib.motion.io import save_motion
    from motionlib.policies.actor import TrackingPolicy

    save_motion(walk[:40], tmp_path / "clips" / "walk.npz")
    args = ["train-tracker", "--clips", str(tmp_path / "clips"), "--out", str(tmp_path / "run"), "--envs", "4",
            "--threads", "1", "--horizon", "8", "--minibatches", "2", "--units", "32", "--minutes", "1e-6",
            "--eval-every", "1", "--target-hold", "foh", "--json"]
    assert main(args) == 0
    capsys.readouterr()
    policy = TrackingPolicy.load(tmp_path / "run" / "policy_best.pt")
    assert policy.tracking.target_hold == "foh"
