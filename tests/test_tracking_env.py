"""Reset / step / termination logic of the tracking environment on hand-made cases."""

import numpy as np
import pytest
import torch

from motionlib.sim.sampling import FailureWeightedSampler
from motionlib.sim.tracking_config import TrackingConfig
from motionlib.sim.tracking_env import TrackingEnv


def _env(clips, n=4, env_kw=None, **kw):
    cfg = TrackingConfig(num_envs=n, **kw)
    return TrackingEnv(clips, cfg, **(env_kw or {}))


def _start(env, frames, clips=None):
    """Restart every world at these frames (of clip 0 unless ``clips``); their observations."""
    n = env.num_envs
    clips = torch.zeros(n, dtype=torch.long) if clips is None else torch.as_tensor(clips)
    return env.restart(torch.arange(n), clips, torch.as_tensor(frames))


def _zero(env):
    return torch.zeros(env.num_envs, env.num_actions)


def test_reference_state_init_matches_reference(standing_clip):
    env = _env([standing_clip])
    obs = _start(env, [0, 10, 50, 100])
    assert obs.shape == (4, env.num_obs) and torch.isfinite(obs).all()
    s, r = env.body_state(), env.ref_state(0)
    assert (s.pos - r.pos).abs().max() < 1e-5
    assert torch.equal(env.frame, torch.tensor([0, 10, 50, 100]))


def test_body_state_after_a_step_is_the_new_state(standing_clip):
    """mj_step computes sensors before it integrates; the backend's sensors (what observations,
    rewards and terminations read) must still describe the state the step ends in."""
    import mujoco

    env = _env([standing_clip], n=2)
    _start(env, torch.tensor([0, 40]))
    for _ in range(3):
        env.step(torch.rand(2, env.num_actions) * 2 - 1)  # moving: a stale state would differ by cm
    for i in range(2):
        m = env.models[0]
        d = mujoco.MjData(m)
        d.qpos[:], d.qvel[:] = env.backend.qpos[i].numpy(), env.backend.qvel[i].numpy()
        mujoco.mj_forward(m, d)
        assert np.abs(env.backend.sensordata[i].numpy() - d.sensordata).max() < 1e-9


def test_rsi_samples_random_times(standing_clip):
    env = _env([standing_clip, standing_clip[:60]], n=32)
    env.reset()
    assert len(set(env.frame.tolist())) > 10
    assert set(env.clip.tolist()) == {0, 1}
    assert (env.frame <= env.ref.clip_len[env.clip] - 2).all()


def test_zero_residual_tracks_a_standing_clip(standing_clip):
    env = _env([standing_clip])
    _start(env, torch.zeros(4, dtype=torch.long))
    for k in range(20):
        res = env.step(_zero(env))
        assert not res.terminated.any() and not res.truncated.any()
        assert (res.reward > 0.7).all()
    assert (env.frame == 20).all() and (env.steps == 20).all()


def test_far_from_reference_terminates_and_resets(standing_clip):
    env = _env([standing_clip])
    _start(env, torch.full((4,), 30))
    idx = env.ref.index(env.clip, env.frame)
    qpos = env.ref.qpos[idx].clone()
    qpos[:2, 0] += torch.tensor([0.4, 0.1])  # env 0: 0.4 m off, env 1: 0.1 m off
    env.backend.set_state(torch.arange(4), qpos, env.ref.qvel[idx])
    res = env.step(_zero(env))
    assert res.terminated.tolist() == [True, False, False, False]
    assert res.info["max_body_dist"][0] > 0.25 > res.info["max_body_dist"][1]
    # the terminated env was restarted within the step, at its (sampled) new reference start
    assert env.steps[0] == 0 and env.steps[1] == 1
    assert (env.body_state().pos[0] - env.ref_state(0).pos[0]).abs().max() < 1e-5


def test_eval_mode_judges_success_at_half_a_metre(standing_clip):
    from motionlib.sim.tracking_config import EvalConfig

    env = _env([standing_clip], env_kw={"evaluation": EvalConfig()})
    _start(env, torch.full((4,), 30))
    idx = env.ref.index(env.clip, env.frame)
    qpos = env.ref.qpos[idx].clone()
    qpos[0, 0] += 0.4
    qpos[1, 0] += 0.7
    env.backend.set_state(torch.arange(4), qpos, env.ref.qvel[idx])
    res = env.step(_zero(env))
    assert res.terminated.tolist() == [False, True, False, False]
    assert env.steps.tolist() == [1, 1, 1, 1] and int(env.frame[1]) == 31  # lost, and not restarted by the step


def test_clip_end_and_timeout_truncate(standing_clip):
    env = _env([standing_clip], max_episode_steps=3)
    _start(env, torch.tensor([118, 0, 0, 0]))
    res = env.step(_zero(env))
    assert res.truncated.tolist() == [True, False, False, False]
    assert bool(res.info["done_clip_end"][0])
    env.step(_zero(env))
    res = env.step(_zero(env))
    assert res.truncated[1:].all() and not res.terminated.any()


def test_blowup_is_reset_and_counted(standing_clip):
    env = _env([standing_clip])
    env.reset()
    idx = env.ref.index(env.clip, env.frame)
    qvel = env.ref.qvel[idx].clone()
    qvel[2, 10] = 1e7
    env.backend.set_state(torch.arange(4), env.ref.qpos[idx], qvel)
    res = env.step(_zero(env))
    assert res.info["blowups"] >= 1 and bool(res.terminated[2])
    assert torch.isfinite(res.obs).all() and torch.isfinite(res.reward).all()
    assert env.total_blowups >= 1
    res = env.step(_zero(env))
    assert torch.isfinite(res.obs).all()


def test_residual_action_moves_the_joint(standing_clip):
    env = _env([standing_clip], n=2)
    _start(env, torch.zeros(2, dtype=torch.long))
    a = _zero(env)
    a[1, 0] = 1.0  # hinge 0 = L_Hip_x
    env.step(a)
    q = env.backend.qpos
    assert float(q[1, 7] - q[0, 7]) > 0.05


def test_failure_weighted_sampler_prefers_failing_bins():
    s = FailureWeightedSampler(torch.tensor([91, 31]), bin_frames=30, uniform_mix=0.5,
                               generator=torch.Generator().manual_seed(0))
    assert s.num_bins == 4
    p0 = s.probabilities().clone()
    assert np.isclose(float(p0.sum()), 1.0)
    for _ in range(50):
        s.record_failures(torch.tensor([0]), torch.tensor([65]))  # bin 2 of clip 0
    s.attempts += 10
    p1 = s.probabilities()
    assert p1[2] > 2 * p0[2] and (p1 > 0).all()
    clips, frames, bins = s.sample(2000)
    assert (frames < torch.tensor([91, 31])[clips] - 1).all()
    assert (bins == 2).float().mean() > 0.4


def test_clip_weight_samples_like_listing_the_clip_that_many_times():
    """A clip of weight 3 gets the start mass of three copies of it, untrained and after failures;
    the weights come from REGEX=W rules on clip names (first match, 1 elsewhere)."""
    from motionlib.policies.train import clip_weights

    lens = torch.tensor([91, 31])
    weighted = FailureWeightedSampler(lens, bin_frames=30)
    weighted.set_clip_weights(torch.tensor([3.0, 1.0]))
    copies = FailureWeightedSampler(torch.tensor([91, 91, 91, 31]), bin_frames=30)
    per_clip = lambda s, k: torch.zeros(k).index_add_(0, s.bin_clip, s.probabilities())  # noqa: E731
    np.testing.assert_allclose(per_clip(weighted, 2)[0], per_clip(copies, 4)[:3].sum(), rtol=1e-6)
    for s, clips in ((weighted, [1]), (copies, [3])):
        s.record_failures(torch.tensor(clips * 20), torch.tensor([5] * 20))
    np.testing.assert_allclose(per_clip(weighted, 2)[1], per_clip(copies, 4)[3], rtol=1e-6)
    with pytest.raises(ValueError):
        weighted.set_clip_weights(torch.tensor([1.0, -1.0]))
    names = ["0003_dataset-2_run_active_001", "0004_dataset-2_walk-turn-left_x_001", "0005_dataset-2_bow_x_001"]
    assert clip_weights(names, ["_(walk|walk-[a-z-]+|run)_=3", "_bow_=0.5"]) == [3.0, 3.0, 0.5]
    assert clip_weights(names, []) == [1.0, 1.0, 1.0]
    for bad in ("walk", "walk=-1", "(=2", "=2"):
        with pytest.raises(ValueError, match="REGEX=W"):
            clip_weights(names, [bad])


def test_gymnasium_vector_env(standing_clip):
    from motionlib.sim.gym_env import TrackingGymVecEnv

    with pytest.raises(ValueError, match="record_final_obs"):
        TrackingGymVecEnv(_env([standing_clip], n=3))
    venv = TrackingGymVecEnv.make([standing_clip], TrackingConfig(num_envs=3, max_episode_steps=4))
    obs, _ = venv.reset(seed=1)
    assert obs.shape == (3, venv.single_observation_space.shape[0]) and obs.dtype == np.float32
    for t in range(4):
        obs, rew, term, trunc, info = venv.step(np.zeros(venv.action_space.shape, np.float32))
        assert rew.shape == (3,) and np.isfinite(obs).all()
    assert trunc.all() and not term.any()  # timeout after 4 steps, standing still never falls
    assert info["_final_obs"].all() and info["final_obs"].shape == obs.shape
    venv.close()


def test_sampler_counts_only_the_draws_that_start_episodes():
    s = FailureWeightedSampler(torch.tensor([91, 31]), bin_frames=30, generator=torch.Generator().manual_seed(0))
    clips, frames, bins = s.sample(6, count=torch.tensor([True, False, False, True, False, False]))
    assert float(s.attempts.sum()) == 2.0 and clips.shape == frames.shape == (6,)
    s.record_failures(clips, frames, weight=torch.tensor([False, True, False, False, False, False]))
    assert float(s.failures.sum()) == 1.0 and float(s.failures[bins[1]]) == 1.0


def test_masked_reset_leaves_other_envs_alone(standing_clip):
    env = _env([standing_clip], n=4)
    env.reset()
    for _ in range(3):
        env.step(_zero(env))
    clip, frame, steps = env.clip.clone(), env.frame.clone(), env.steps.clone()
    qpos = env.backend.qpos.clone()
    env.reset(torch.tensor([1]))
    keep = torch.tensor([0, 2, 3])
    assert torch.equal(env.clip[keep], clip[keep]) and torch.equal(env.frame[keep], frame[keep])
    assert torch.equal(env.steps[keep], steps[keep]) and int(env.steps[1]) == 0
    assert torch.equal(env.backend.qpos[keep], qpos[keep])
    assert (env.body_state().pos[1] - env.ref_state(0).pos[1]).abs().max() < 2e-3  # at its new reference start


def test_feet_slip_counts_the_speed_of_feet_the_reference_plants():
    from motionlib.motion.metrics import SOLE_OFFSET_M
    from motionlib.sim.body_planes import planes_from_packed
    from motionlib.sim.tracking_terms import feet_slip, reference_foot_contact

    feet = [7, 8, 10, 11]
    pos = torch.zeros(4, 24, 3)
    vel = torch.zeros(4, 24, 3)
    scale = torch.tensor([1.0, 1.0, 1.0, 1.2])
    pos[:, feet, 2] = torch.tensor(SOLE_OFFSET_M, dtype=torch.float32) * scale[:, None]  # soles on the floor
    pos[1, feet, 2] += 0.05  # lifted above the contact band
    vel[2, feet, 0] = 1.0  # sliding fast
    pos[3, feet, 2] += 0.03  # halfway up the (0.02, 0.04) band, at its own scale
    c = reference_foot_contact(pos, vel, scale, (0.02, 0.04), (0.3, 0.6))
    np.testing.assert_allclose(c.numpy(), np.array([[1.0] * 4, [0.0] * 4, [0.0] * 4, [0.5] * 4]), atol=1e-5)

    body = torch.zeros(2, 24, 13)
    body[:, feet, 7] = torch.tensor([[0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])  # left ankle slides at 0.5 m/s
    body[:, feet, 8] = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    body[:, feet, 9] = 3.0  # vertical speed does not count
    slip = feet_slip(planes_from_packed(body), torch.ones(2, 4))
    np.testing.assert_allclose(slip.numpy(), [0.25 / 4, 0.0], atol=1e-7)
    assert float(feet_slip(planes_from_packed(body), torch.zeros(2, 4))[0]) == 0.0


def test_feet_slip_penalty_enters_the_reward(standing_clip):
    from motionlib.sim.tracking_config import RewardConfig

    env = _env([standing_clip], reward=RewardConfig(feet_slip_coef=10.0))
    _start(env, torch.zeros(4, dtype=torch.long))
    a = _zero(env)
    a[1] = 1.0  # one env kicks its legs about
    slips = []
    for _ in range(5):
        res = env.step(a)
        slips.append(float(res.info["terms"]["p_feet_slip"]))
    assert all(s <= 0.0 for s in slips) and min(slips) < 0.0
    assert set(res.info["terms"]) >= {"r_pos", "p_power", "p_action_rate", "p_feet_slip"}


def test_body_jerk_penalty_is_the_jerk_error_against_the_reference(standing_clip):
    from motionlib.sim.tracking_config import EvalConfig, RewardConfig

    coef = 1e-6
    # evaluation: no world restarts in the step, so each keeps its history
    env = _env([standing_clip], reward=RewardConfig(body_jerk_coef=coef), env_kw={"evaluation": EvalConfig()})
    _start(env, torch.tensor([0, 0, 40, 80]))
    kick = _zero(env)
    kick[1] = 0.3  # world 1 swings its limbs back and forth each step: a jerky motion
    vel, got = [], []
    for k in range(7):
        res = env.step(kick if k % 2 == 0 else -kick)
        assert not bool(res.terminated.any())
        vel.append(env.body_state().linvel.clone())
        flat = env.ref.index(env.clip, env.frame)
        ref_v = [env.ref.body_linvel.index_select(0, (flat - j).clamp(min=0)) for j in range(3)]
        got.append(float(res.info["terms"]["p_body_jerk"]))
        if k < 2:  # the history does not reach back into the episode yet
            assert got[-1] == 0.0
            continue
        sim_jerk = (vel[k] - 2 * vel[k - 1] + vel[k - 2]) * 30.0**2
        ref_jerk = (ref_v[0] - 2 * ref_v[1] + ref_v[2]) * 30.0**2
        err = ((sim_jerk - ref_jerk) ** 2).sum(-1).mean(-1)  # (N,)
        np.testing.assert_allclose(got[-1], -coef * float(err.mean()), rtol=1e-4)
        assert float(err[1]) > 10 * float(err[[0, 2, 3]].max())  # the kicking world is the jerky one
    assert set(res.info["terms"]) >= {"p_action_rate", "p_feet_slip", "p_body_jerk"}
    # a restarted world starts its count again
    _start(env, torch.tensor([0, 0, 0, 0]))
    assert float(env.step(kick).info["terms"]["p_body_jerk"]) == 0.0


def test_restart_puts_chosen_worlds_at_chosen_frames(standing_clip):
    env = _env([standing_clip, standing_clip[:60]], n=4)
    env.reset()
    for _ in range(2):
        env.step(_zero(env))
    before = env.clip.clone(), env.frame.clone(), env.steps.clone()
    obs = env.restart(torch.tensor([3, 1]), torch.tensor([1, 0]), torch.tensor([20, 50]))
    assert [int(env.clip[3]), int(env.frame[3]), int(env.clip[1]), int(env.frame[1])] == [1, 20, 0, 50]
    assert int(env.steps[1]) == int(env.steps[3]) == 0
    for t, b in zip((env.clip, env.frame, env.steps), before):
        assert torch.equal(t[[0, 2]], b[[0, 2]])
    assert (env.body_state().pos[[1, 3]] - env.ref_state(0).pos[[1, 3]]).abs().max() < 2e-3
    torch.testing.assert_close(obs, env.observe()[[3, 1]], rtol=0, atol=1e-6)  # in the order asked
    with pytest.raises(ValueError, match="outside its clip"):
        env.restart(torch.tensor([0]), torch.tensor([1]), torch.tensor([60]))
    with pytest.raises(ValueError, match="distinct"):
        env.restart(torch.tensor([0, 0]), torch.tensor([0, 0]), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="clips must be"):
        env.restart(torch.tensor([0]), torch.tensor([2]), torch.tensor([1]))


def test_worlds_not_in_use_hold_their_state_and_observe_nothing(standing_clip):
    from motionlib.sim.tracking_config import EvalConfig

    env = _env([standing_clip], n=3, env_kw={"evaluation": EvalConfig()})
    _start(env, [0, 10, 20])
    q = env.backend.qpos.clone()
    res = env.step(torch.rand(3, env.num_actions) * 2 - 1, active=torch.tensor([True, False, True]))
    assert env.backend.skips_inactive_worlds
    assert torch.equal(env.backend.qpos[1], q[1]) and not torch.equal(env.backend.qpos[0], q[0])
    assert not res.obs[1].any() and res.obs[[0, 2]].abs().sum(-1).min() > 0
    torch.testing.assert_close(res.obs[[0, 2]], env.observe()[[0, 2]], rtol=0, atol=1e-6)


def test_backends_say_what_they_can_do():
    from motionlib.sim.backend_cpu import CpuBackendConfig
    from motionlib.sim.tracking_env import backend_class

    cpu, warp = backend_class("cpu"), backend_class("warp")
    assert cpu.host_memory and cpu.skips_inactive_worlds and cpu.wants_single_thread_torch and cpu.parallel_lanes
    assert not cpu.parallel_worlds and warp.parallel_worlds
    assert not (warp.skips_inactive_worlds or warp.wants_single_thread_torch or warp.parallel_lanes)
    assert cpu.default_config("cpu", threads=3) == CpuBackendConfig(threads=3)
    assert warp.default_config("cuda:1").device == "cuda:1"
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        backend_class("gpu")
