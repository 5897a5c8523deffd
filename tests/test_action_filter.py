"""The low-pass filter on the policy's actions (sim/action_filter.py): step responses, resets, the
identity at alpha 1 (refine's output bit for bit), and the command-line flags reaching the env."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import SAMPLES


def _step_response(kind: str, alpha: float, steps: int = 12) -> np.ndarray:
    from motionlib.sim.action_filter import ActionFilter, ActionFilterConfig

    f = ActionFilter(ActionFilterConfig(kind, alpha), num_envs=2, num_actions=3)
    u = torch.ones(2, 3)
    out = np.stack([f(u).numpy().copy() for _ in range(steps)])
    assert np.allclose(out, out[:, :1, :1])  # every world and action alike
    return out[:, 0, 0].astype(np.float64)


def test_first_order_step_response():
    alpha = 0.4
    y = _step_response("lowpass", alpha)
    k = np.arange(1, len(y) + 1)
    assert np.allclose(y, 1 - (1 - alpha) ** k, atol=1e-6)


def test_critically_damped_step_response_has_no_overshoot():
    alpha = 0.4
    y = _step_response("critical", alpha, steps=20)
    k = np.arange(1, len(y) + 1)
    # two equal first-order stages: 1 - (1 - a)^k (1 + k a)
    assert np.allclose(y, 1 - (1 - alpha) ** k * (1 + k * alpha), atol=1e-6)
    assert (np.diff(y) > 0).all() and (y < 1).all() and y[-1] > 0.999
    # slower to start than one stage (the second order's flat start), never above it
    assert (y <= _step_response("lowpass", alpha, steps=20) + 1e-7).all() and y[0] < 0.5 * alpha


def test_alpha_one_and_none_pass_the_actions_through():
    from motionlib.sim.action_filter import ActionFilter, ActionFilterConfig

    a = torch.randn(4, 5)
    for cfg in (ActionFilterConfig(), ActionFilterConfig("lowpass", 1.0), ActionFilterConfig("critical", 1.0)):
        f = ActionFilter(cfg, 4, 5)
        assert not cfg.enabled and not f.enabled and f(a) is a
    for bad in (("lowpass", 0.0), ("lowpass", 1.5), ("median", 0.5)):
        with pytest.raises(ValueError):
            ActionFilterConfig(*bad)


def test_filter_restarts_at_zero_residual_and_idle_worlds_keep_their_state():
    from motionlib.sim.action_filter import ActionFilter, ActionFilterConfig

    f = ActionFilter(ActionFilterConfig("lowpass", 0.5), 3, 2)
    f(torch.ones(3, 2))
    y = f(torch.ones(3, 2), active=torch.tensor([True, False, True]))
    assert torch.allclose(y[:, 0], torch.tensor([0.75, 0.75, 0.75]))  # the output is computed for every row
    assert torch.allclose(f.state[0][:, 0], torch.tensor([0.75, 0.5, 0.75]))  # only active worlds advance
    f.reset_where(torch.tensor([False, True, False]))
    assert torch.allclose(f.state[0][:, 0], torch.tensor([0.75, 0.0, 0.75]))


@pytest.fixture(scope="module")
def shipped_walk():
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.default import default_policy_path

    walk = bvh_to_motion(SAMPLES / "dataset-1_walk_normal_001.bvh")[:60]  # 2 s
    return TrackingPolicy.load(default_policy_path()), walk


def test_refine_with_alpha_one_is_the_unfiltered_output_bit_for_bit(shipped_walk):
    from motionlib.policies.refine import refine_clips
    from motionlib.sim.action_filter import ActionFilterConfig

    policy, walk = shipped_walk
    run = lambda f: refine_clips([walk], policy, threads=1, lanes=1, action_filter=f)  # noqa: E731
    (plain,), totals = run(ActionFilterConfig())
    assert totals["action_filter"] == {"kind": "none", "alpha": 1.0}
    for kind in ("lowpass", "critical"):
        (same,), _ = run(ActionFilterConfig(kind, 1.0))
        assert np.array_equal(same.clip.positions(), plain.clip.positions())
        assert same.report == plain.report
    (filtered,), totals = run(ActionFilterConfig("lowpass", 0.5))
    assert totals["action_filter"] == {"kind": "lowpass", "alpha": 0.5}
    # the filter acts inside the control loop: a different, still simulated, trajectory
    assert not np.allclose(filtered.clip.positions(), plain.clip.positions())


def test_refine_and_eval_tracker_flags_reach_the_env(shipped_walk, tmp_path, capsys, monkeypatch):
    import motionlib.policies.rollout as rollout_module
    from motionlib.cli.main import main
    from motionlib.motion.io import save_motion
    from motionlib.sim.action_filter import ActionFilterConfig

    _, walk = shipped_walk
    save_motion(walk, tmp_path / "in" / "walk.npz")
    seen: list = []
    steps: list = []
    env_class = rollout_module.TrackingEnv

    def recording_env(*args, **kwargs):  # the real env; the filter it was given is noted, and its physics step
        env = env_class(*args, **kwargs)
        seen.append(env.action_filter.cfg)
        steps.append((env.cfg.substeps, env.models[0].opt.timestep))
        return env

    monkeypatch.setattr(rollout_module, "TrackingEnv", recording_env)
    common = ["--threads", "1", "--lanes", "1", "--json"]
    assert main(["refine", str(tmp_path / "in"), "--out", str(tmp_path / "f"), "--action-filter", "critical",
                 "--action-alpha", "0.6", *common]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert seen[-1] == ActionFilterConfig("critical", 0.6)
    assert doc["totals"]["action_filter"] == {"kind": "critical", "alpha": 0.6}
    # the resume key holds the filter: the same run again keeps the clip, another filter refines it again
    assert main(["refine", str(tmp_path / "in"), "--out", str(tmp_path / "f"), "--action-filter", "critical",
                 "--action-alpha", "0.6", *common]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["resumed"] == 1
    assert main(["refine", str(tmp_path / "in"), "--out", str(tmp_path / "f"), "--action-filter", "none", *common]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["resumed"] == 0 and seen[-1] == ActionFilterConfig()

    assert main(["eval-tracker", str(tmp_path / "in"), *common]) == 0
    plain = json.loads(capsys.readouterr().out)["totals"]
    assert "action_filter" not in plain and seen[-1] == ActionFilterConfig()  # eval-tracker: unfiltered by default
    assert main(["eval-tracker", str(tmp_path / "in"), "--action-filter", "lowpass", "--action-alpha", "0.5",
                 *common]) == 0
    filtered = json.loads(capsys.readouterr().out)["totals"]
    assert seen[-1] == ActionFilterConfig("lowpass", 0.5)
    assert filtered["action_filter"] == {"kind": "lowpass", "alpha": 0.5}
    assert filtered["g_mpjpe_mm"] != plain["g_mpjpe_mm"]
    assert {s for s, _ in steps} == {4}  # the shipped policy's substeps unless told

    # --substeps: a finer physics step under the same 30 Hz control, in one lane and in two (shared models)
    for lanes in ("1", "2"):
        assert main(["eval-tracker", str(tmp_path / "in"), "--substeps", "8", "--threads", "2", "--lanes", lanes,
                     "--start-every", "20", "--json"]) == 0  # several jobs, so two lanes run
        assert json.loads(capsys.readouterr().out)["totals"]["substeps"] == 8
        assert steps[-1] == (8, pytest.approx(1 / 240))
    assert main(["refine", str(tmp_path / "in"), "--out", str(tmp_path / "s"), "--substeps", "8", *common]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["substeps"] == 8 and steps[-1] == (8, pytest.approx(1 / 240))
    with pytest.raises(SystemExit):
        main(["eval-tracker", str(tmp_path / "in"), "--action-filter", "lowpass", *common])
