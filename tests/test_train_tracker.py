"""A short rl-games PPO run on one real clip: the tracking reward rises, and the
run leaves what a researcher expects (atomic checkpoints, TensorBoard events,
the evaluation-selected policy, the learning curve)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from conftest import SAMPLES

pytest.importorskip("rl_games")


@pytest.fixture(scope="module")
def walk_clip():
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion

    return bvh_to_motion(SAMPLES / "dataset-1_walk_normal_001.bvh")


@pytest.mark.slow
def test_short_training_raises_the_reward(walk_clip, tmp_path):
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.train import train
    from motionlib.policies.train_config import PPOConfig, TrackerTrainConfig
    from motionlib.sim.tracking_config import TrackingConfig

    cfg = TrackerTrainConfig(out=str(tmp_path / "run"), max_env_steps=32 * 16 * 40, eval_every_epochs=20, threads=2,
                      tracking=TrackingConfig(num_envs=32, seed=0),
                      ppo=PPOConfig(units=(128, 64), horizon_length=16, learning_rate=5e-4, minibatches=2))
    summary = train(cfg, [walk_clip], progress=False)

    hist = summary["train_history"]
    assert len(hist) == 40 and hist[-1]["env_steps"] >= 19000
    # the reward an episode collects (tracking reward summed until the humanoid
    # strays 0.25 m or the clip ends); epoch 1 is skipped: its episodes all
    # started fresh, before any early termination
    returns = np.array([h["episode_return"] for h in hist])
    lengths = np.array([h["episode_length"] for h in hist])
    assert np.isfinite(returns).all()
    first, last = returns[1:11].mean(), returns[-10:].mean()
    assert last > 1.05 * first, f"episode return did not rise: {np.round(returns, 2)}"
    assert lengths[-10:].mean() > lengths[1:11].mean()

    run = tmp_path / "run"
    assert (run / "policy_best.pt").is_file() and (run / "policy_last.pt").is_file()
    assert list((run / "rl" / "summaries").glob("events.out.tfevents.*"))
    rows = list(csv.DictReader(open(run / "curve.csv")))
    assert [int(r["epoch"]) for r in rows] == [20, 40]
    kept = sorted(p.name for p in (run / "policies").glob("*.pt"))  # every evaluated policy, to rank later
    assert kept == ["policy_ep000020.pt", "policy_ep000040.pt"]
    assert not list(run.rglob("*.tmp"))  # checkpoints were written atomically
    policy = TrackingPolicy.load(run / "policy_best.pt")
    assert policy.info["env_steps"] > 0
    # the exploration noise stayed fixed (rl-games' fixed_sigma alone still trains it)
    import torch

    ckpt = torch.load(next((run / "rl" / "nn").glob("last_*.pth")), map_location="cpu", weights_only=False)
    sigma = ckpt["model"]["a2c_network.sigma"]
    assert torch.allclose(sigma, torch.full_like(sigma, cfg.ppo.sigma_init))


@pytest.mark.slow
def test_warp_backend_training_stops_at_the_time_limit(walk_clip, tmp_path):
    """train-tracker on the MuJoCo Warp backend (warp's CPU device): a time limit
    that has already passed after epoch 1 ends the run cleanly there, with the
    checkpoint, the evaluation, the exported policy and the device in TensorBoard."""
    pytest.importorskip("mujoco_warp")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from motionlib.policies.train import train
    from motionlib.policies.train_config import PPOConfig, preset
    from motionlib.sim.tracking_config import TrackingConfig

    cfg = preset("gpu", device="cpu", out=str(tmp_path / "run"), max_minutes=1e-6, eval_every_epochs=50, threads=2,
                 tracking=TrackingConfig(num_envs=4), ppo=PPOConfig(units=(32,), horizon_length=8, minibatches=2),
                 clip_weights=["_bow_=0.5", "_walk_=3"])
    assert cfg.backend == "warp"
    summary = train(cfg, [walk_clip], progress=False)
    assert summary["clip_weights"] == [3.0]  # the config's rules, matched on the clip's source file name
    assert [h["epoch"] for h in summary["train_history"]] == [1]
    assert [r["epoch"] for r in summary["history"]] == [1]  # evaluated when it stopped
    run = tmp_path / "run"
    assert (run / "policy_best.pt").is_file() and list((run / "rl" / "nn").glob("last_*ep_1_*.pth"))
    acc = EventAccumulator(str(next((run / "rl" / "summaries").glob("events.out.tfevents.*"))))
    acc.Reload()
    assert "perf/env_steps_per_s" in acc.Tags()["scalars"]
    assert "run/device/text_summary" in acc.Tags()["tensors"]


@pytest.mark.slow
def test_fine_tuning_starts_from_an_exported_policy(walk_clip, tmp_path):
    """--init-policy: the actor and its observation statistics start as the given policy's and
    stay frozen while the new value head warms up; after the warm-up the actor trains."""
    import torch

    from motionlib.policies.actor import TrackingActor, TrackingPolicy
    from motionlib.policies.train import train
    from motionlib.policies.train_config import PPOConfig, TrackerTrainConfig
    from motionlib.sim.humanoid import HumanoidConfig
    from motionlib.sim.tracking_config import RewardConfig, TrackingConfig
    from motionlib.sim.tracking_terms import self_obs_dim, task_obs_dim

    torch.manual_seed(1)
    tracking = TrackingConfig(num_envs=8, seed=0, reward=RewardConfig(feet_slip_coef=0.5, action_rate_coef=0.5))
    actor = TrackingActor(self_obs_dim() + task_obs_dim(len(tracking.future_frames)), 69, (32,))
    with torch.no_grad():
        actor.mu.weight.normal_(0.0, 0.05)
        actor.obs_mean.normal_(0.0, 0.1)
        actor.obs_var.uniform_(0.5, 2.0)
    init = tmp_path / "init.pt"
    TrackingPolicy(actor, tracking, HumanoidConfig(self_collision=False), {"env_steps": 10**9}).save(init)

    def run(epochs: int) -> TrackingPolicy:
        out = tmp_path / f"run{epochs}"
        cfg = TrackerTrainConfig(out=str(out), max_env_steps=8 * 8 * epochs, eval_every_epochs=epochs, threads=2,
                          init_policy=str(init), critic_warmup_epochs=2, tracking=tracking,
                          humanoid=HumanoidConfig(self_collision=False),
                          ppo=PPOConfig(units=(32,), horizon_length=8, minibatches=2))
        train(cfg, [walk_clip], progress=False)
        return TrackingPolicy.load(out / "policy_last.pt")

    warm, tuned = run(2), run(3)
    start = actor.state_dict()
    for k, v in warm.actor.state_dict().items():  # the warm-up left the actor as it was
        if k.startswith("obs_"):  # the running statistics keep updating, slowly at the policy's sample count
            torch.testing.assert_close(v, start[k], atol=1e-3, rtol=1e-2, msg=k)
        else:
            torch.testing.assert_close(v, start[k], atol=0.0, rtol=0.0, msg=k)
    assert not torch.allclose(tuned.actor.mu.weight, start["mu.weight"])  # then it trained
    assert tuned.tracking.reward.feet_slip_coef == 0.5


def test_a_gpu_runs_checkpoint_resumes_on_the_cpu(tmp_path, monkeypatch):
    """rl-games loads a checkpoint onto the device it was saved from; a CUDA run's checkpoint is mapped
    to the CPU once (written beside the run), a CPU one is used as it is."""
    import torch.serialization as ser

    from motionlib.policies.rlgames_adapter import resume_checkpoint_for

    blob = {"model": {"w": torch.arange(6.0).reshape(2, 3)}, "epoch": 363, "optimizer": {"lr": 1e-4}}
    cpu_ckpt = tmp_path / "cpu.pth"
    torch.save(blob, cpu_ckpt)
    assert resume_checkpoint_for(cpu_ckpt, "cpu", tmp_path) == (str(cpu_ckpt), 363)
    if torch.cuda.is_available():
        pytest.skip("the mapping is only needed without CUDA")
    tag = ser.location_tag
    monkeypatch.setattr(ser, "location_tag", lambda storage: "cuda:0")  # as saved by a CUDA run
    gpu_ckpt = tmp_path / "gpu.pth"
    torch.save(blob, gpu_ckpt)
    monkeypatch.setattr(ser, "location_tag", tag)
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(gpu_ckpt, weights_only=True)  # what rl-games would do
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    mapped, epoch = resume_checkpoint_for(gpu_ckpt, "cpu", run_dir)
    assert mapped == str(run_dir / "resume_gpu.pth") and epoch == 363
    back = torch.load(mapped, weights_only=True)
    assert back["epoch"] == 363 and torch.equal(back["model"]["w"], blob["model"]["w"])


@pytest.mark.slow
def test_a_resumed_run_trains_its_own_steps(walk_clip, tmp_path):
    """--resume continues the checkpoint's epoch count; --steps are the steps of the resumed run, on top
    of the checkpoint's (they used to count from zero, so a resume of a long run stopped after one epoch)."""
    from motionlib.policies.train import train
    from motionlib.policies.train_config import PPOConfig, TrackerTrainConfig
    from motionlib.sim.humanoid import HumanoidConfig
    from motionlib.sim.tracking_config import TrackingConfig

    def cfg(out: str, epochs: int, resume: str | None = None) -> TrackerTrainConfig:
        return TrackerTrainConfig(out=str(tmp_path / out), max_env_steps=4 * 8 * epochs, eval_every_epochs=100,
                           save_every_epochs=100, threads=1, resume=resume,
                           tracking=TrackingConfig(num_envs=4, seed=0), humanoid=HumanoidConfig(self_collision=False),
                           ppo=PPOConfig(units=(32,), horizon_length=8, minibatches=2))

    train(cfg("first", 3), [walk_clip], progress=False)
    ckpt = next((tmp_path / "first" / "rl" / "nn").glob("last_*ep_3_*.pth"))
    summary = train(cfg("second", 2, str(ckpt)), [walk_clip], progress=False)
    assert [h["epoch"] for h in summary["train_history"]] == [4, 5]
    assert list((tmp_path / "second" / "rl" / "nn").glob("last_*ep_5_*.pth"))


@pytest.mark.slow
def test_training_at_another_armature_ranks_in_its_own_physics(walk_clip, tmp_path, monkeypatch, capsys):
    """--armature-scale trains and validates with the humanoid's armature scaled; the policy file keeps the
    unscaled humanoid and records the scale. A run resumed at another scale measures the kept best again in
    its physics before ranking (a validation at x1 is not compared with one at x4)."""
    from motionlib.policies import train as train_mod
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.export import read_curve
    from motionlib.policies.rollout import rollout
    from motionlib.policies.train_config import PPOConfig, TrackerTrainConfig
    from motionlib.sim.humanoid import HumanoidConfig
    from motionlib.sim.tracking_config import TrackingConfig

    built = []
    real_env = train_mod.TrackingEnv
    monkeypatch.setattr(train_mod, "TrackingEnv",
                        lambda ref, tracking, humanoid, **kw: built.append(humanoid) or real_env(ref, tracking, humanoid, **kw))
    run = tmp_path / "run"

    def cfg(epochs: int, scale: float, resume: str | None = None) -> TrackerTrainConfig:
        return TrackerTrainConfig(out=str(run), max_env_steps=4 * 8 * epochs, eval_every_epochs=1,
                                  save_every_epochs=100, threads=1, resume=resume, armature_scale=scale,
                                  tracking=TrackingConfig(num_envs=4, seed=0), humanoid=HumanoidConfig(),
                                  ppo=PPOConfig(units=(32,), horizon_length=8, minibatches=2))

    train_mod.train(cfg(2, 1.0), [walk_clip], progress=False)
    assert built[-1].armature == HumanoidConfig().armature
    first = read_curve(run / "curve.csv")
    assert [r["armature_scale"] for r in first] == [1.0, 1.0]
    kept = TrackingPolicy.load(run / "policy_best.pt")
    ckpt = next((run / "rl" / "nn").glob("last_*ep_2_*.pth"))
    summary = train_mod.train(cfg(1, 4.0, str(ckpt)), [walk_clip], progress=False)
    assert built[-1].armature == pytest.approx(4 * HumanoidConfig().armature)
    assert built[-1].light_armature == pytest.approx(4 * HumanoidConfig().light_armature)
    curve = read_curve(run / "curve.csv")
    assert [r["armature_scale"] for r in curve] == [1.0, 1.0, 4.0] and curve[:2] == first
    again = rollout(kept, [walk_clip], threads=1, armature_scale=4.0)[0]
    err = float(np.linalg.norm(again.body_pos - again.ref_pos, axis=-1).mean() * 1000.0)
    said = [line for line in capsys.readouterr().out.splitlines() if "the kept best" in line]
    assert len(said) == 1 and f"at armature x4: success {float(again.success):.3f}, {err:.1f} mm" in said[0]
    best = TrackingPolicy.load(run / "policy_best.pt")
    assert best.humanoid == HumanoidConfig() and best.info["armature_scale"] == 4.0
    last = TrackingPolicy.load(run / "policy_last.pt")
    assert last.humanoid == HumanoidConfig() and last.info["armature_scale"] == 4.0 and last.info["epoch"] == 3
    if best.info["epoch"] != 3:  # the kept best, measured again at x4
        assert best.info["remeasured"] and best.info["success_rate"] == float(again.success)
        assert best.info["g_mpjpe_mm"] == pytest.approx(err)
        assert summary["best"]["epoch"] == best.info["epoch"]
    with pytest.raises(ValueError, match="armature scale"):
        HumanoidConfig().with_armature_scale(0.0)
