"""Robot tracking: the MJCF robot body (G1, H1), its reference from a retargeted clip, the env stepping it,
playback; and the SMPL humanoid's observation and reward unchanged by the body interface."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from walk_fixture import make_walking_clip

from motionlib.motion.errors import MotionError


@pytest.fixture(scope="module")
def g1_npz(tmp_path_factory):
    """A short walk retargeted onto the G1, saved as a robot clip."""
    from motionlib.retarget.description import load_description
    from motionlib.retarget.ik import Retargeter
    from motionlib.retarget.robot_clip import from_qpos, save_robot_clip

    rt = Retargeter(load_description("g1"))
    clip = make_walking_clip(1.0)
    res = rt.run(clip)
    path = tmp_path_factory.mktemp("g1") / "walk.npz"
    return save_robot_clip(from_qpos(rt.robot, res.qpos, clip.fps, {"source": "walk"}), path)


@pytest.mark.parametrize("robot", ["g1", "h1"])
def test_robot_body_loads_with_actuators_and_limits(robot):
    from motionlib.retarget.description import load_description
    from motionlib.sim.body_planes import NCH

    desc = load_description(robot)
    body = desc.sim_body()
    m = body.model(1.0 / 120.0)
    assert m.nu == len(desc.joint_names) and abs(m.opt.timestep - 1.0 / 120.0) < 1e-12
    names = [m.joint(int(j)).name for j in m.actuator_trnid[:, 0]]
    assert names == desc.joint_names
    on = desc.effort_limit > 0  # H1's placeholder joint has no torque
    np.testing.assert_allclose(m.actuator_gainprm[on, 0], desc.kp[on])
    np.testing.assert_allclose(-m.actuator_biasprm[on, 1], desc.kp[on])  # position actuator: kp (ctrl - q)
    np.testing.assert_allclose(-m.actuator_biasprm[on, 2], desc.kd[on])  # - kd qdot
    np.testing.assert_allclose(m.actuator_forcerange[on, 1], desc.effort_limit[on])
    assert m.actuator_forcelimited[on].all() and not m.actuator_ctrllimited.any()
    assert m.nsensordata == NCH * body.num_bodies and body.spec.tracked_bodies[0] == desc.root_body
    assert m.geom("floor").id >= 0


def test_a_description_naming_a_missing_body_or_joint_is_a_clear_error(tmp_path):
    from motionlib.retarget.description import ROBOTS_DIR, load_description
    from motionlib.sim.robot_body import MjcfRobotBody

    spec = load_description("g1").body_spec()
    with pytest.raises(ValueError, match="no_such_link.*g1_29dof.xml"):
        MjcfRobotBody(replace(spec, tracked_bodies=spec.tracked_bodies + ("no_such_link",)))
    with pytest.raises(ValueError, match="no_such_joint.*g1_29dof.xml"):
        MjcfRobotBody(replace(spec, joint_names=spec.joint_names[:-1] + ("no_such_joint",)))
    raw = json.loads((ROBOTS_DIR / "g1" / "g1.json").read_text())
    raw["mjcf"] = str(ROBOTS_DIR / "g1" / raw["mjcf"])
    raw["tracked_bodies"] = ["pelvis", "no_such_link"]
    path = tmp_path / "g1_bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(MotionError, match="g1_bad.json: tracked_bodies names body 'no_such_link'.*g1_29dof.xml"):
        load_description(path)


def _standing_env(body, n=2, terms="mjcf_robot"):
    """The env on a reference that stands still in the robot's default pose, feet on the floor."""
    import mujoco

    from motionlib.sim.reference import ReferenceClip, ReferenceLibrary
    from motionlib.sim.tracking_config import TrackingConfig
    from motionlib.sim.tracking_env import TrackingEnv

    m = body.model()
    q = body.standing_qpos(m)
    d = mujoco.MjData(m)
    d.qpos[:] = q
    mujoco.mj_kinematics(m, d)
    ids = [m.body(b).id for b in body.spec.tracked_bodies]
    T, nb = 60, len(ids)
    ref = ReferenceClip(qpos=np.tile(q, (T, 1)), qvel=np.zeros((T, m.nv)), pos=np.tile(d.xpos[ids], (T, 1, 1)),
                        quat=np.tile(d.xquat[ids], (T, 1, 1)), lin=np.zeros((T, nb, 3)), ang=np.zeros((T, nb, 3)))
    cfg = TrackingConfig(num_envs=n, terms=terms, early_termination=False)
    env = TrackingEnv(ReferenceLibrary.from_states([ref], cfg.control_fps), cfg, body=body)
    env.restart(torch.arange(n), torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long))
    return env


def _pelvis_drop_after_one_second(env) -> float:
    z0 = env.backend.qpos[:, 2].clone()
    for _ in range(int(env.cfg.control_fps)):
        res = env.step(torch.zeros(env.num_envs, env.num_actions))
        assert torch.isfinite(res.obs).all() and not res.info["blowups"]
    return float((z0 - env.backend.qpos[:, 2]).abs().max())


def test_env_steps_the_g1_and_pd_holds_the_standing_pose_for_a_second():
    """Zero actions: the PD targets are the standing pose. With the description's (BeyondMimic's) gains the
    stance is an inverted pendulum the ankles cannot hold alone (it tips forward after about 1.5 s: a
    policy balances it), but over the first second the pelvis stays within a few cm; without the PD
    (zero gains) the robot collapses in that second."""
    from motionlib.retarget.description import load_description
    from motionlib.sim.robot_body import MjcfRobotBody

    spec = load_description("g1").body_spec()
    env = _standing_env(MjcfRobotBody(spec))
    assert env.num_actions == 29 and env.num_obs == env.obs_layout.dim
    assert set(env.reward_terms) >= {"r_anchor_pos", "r_anchor_rot", "r_rel_pos", "r_rel_rot", "r_vel", "r_angvel",
                                     "p_action_rate", "p_joint_limit"}
    assert _pelvis_drop_after_one_second(env) < 0.06
    limp = MjcfRobotBody(replace(spec, kp=(0.0,) * 29, kd=(0.0,) * 29))
    assert _pelvis_drop_after_one_second(_standing_env(limp)) > 0.2


def test_the_world_terms_score_a_robot_standing_off_its_reference_far_lower():
    """The same robot 0.15 m beside the reference pose: BeyondMimic's terms (world anchor, the other bodies
    relative to it, 0.3 m widths) hardly tell it apart from the robot on the reference; the world-frame terms
    with the humanoid's kernels (mjcf_robot_world) lose most of their position reward (0.45 exp(-100 0.15^2))."""
    from motionlib.retarget.description import load_description
    from motionlib.sim.robot_body import MjcfRobotBody

    body = MjcfRobotBody(load_description("g1").body_spec())
    gaps = {}
    for terms in ("mjcf_robot", "mjcf_robot_world"):
        env = _standing_env(body, terms=terms)
        qpos, qvel = env.backend.qpos.clone(), env.backend.qvel.clone()
        qpos[1, 0] += 0.15
        env.backend.set_state(torch.tensor([1]), qpos[1:], qvel[1:])
        res = env.step(torch.zeros(env.num_actions).expand(2, -1))
        gaps[terms] = float(res.reward[0] - res.reward[1])
    assert set(_standing_env(body, terms="mjcf_robot_world").reward_terms) >= {
        "r_pos", "r_rot", "r_vel", "r_angvel", "r_height", "p_action_rate", "p_joint_limit"}
    assert gaps["mjcf_robot"] < 0.05
    assert 0.3 < gaps["mjcf_robot_world"] < 0.45
    with pytest.raises(ValueError, match="observes another body"):  # the env refuses the humanoid's set
        _standing_env(body, terms="smpl_humanoid")


def test_reference_from_a_retargeted_npz_matches_its_body_states(g1_npz):
    from motionlib.retarget.robot_clip import load_robot_clip
    from motionlib.retarget.tracking import robot_reference, robot_tracking_body
    from motionlib.sim.tracking_config import TrackingConfig
    from motionlib.sim.tracking_env import TrackingEnv

    body = robot_tracking_body("g1")
    clip = load_robot_clip(g1_npz)
    ref = robot_reference([g1_npz], body, 30.0)
    ids = [clip.body_names.index(b) for b in body.spec.tracked_bodies]
    assert ref.num_frames == clip.num_frames
    np.testing.assert_allclose(ref.body_pos.numpy(), clip.body_pos_w[:, ids], atol=1e-6)
    np.testing.assert_allclose(ref.qpos[:, 7:].numpy(), clip.joint_pos, atol=1e-6)
    # the env restarted at a frame puts the robot there: its sensed bodies are the clip's (lifted clear of the floor)
    env = TrackingEnv(ref, TrackingConfig(num_envs=2, terms="mjcf_robot"), body=body)
    env.restart(torch.arange(2), torch.zeros(2, dtype=torch.long), torch.tensor([0, 20]))
    s, r = env.body_state(), env.ref_state(0)
    lift = (s.pos[:, 0, 2] - r.pos[:, 0, 2])[:, None]
    assert (lift >= 0).all() and (lift < 0.02).all()
    assert float((s.pos[..., :2] - r.pos[..., :2]).abs().max()) < 1e-5
    assert float((s.pos[..., 2] - r.pos[..., 2] - lift).abs().max()) < 1e-5
    # the 30 fps clip at another control rate: resampled, the same body positions at the shared times
    half = robot_reference([g1_npz], body, 15.0)
    np.testing.assert_allclose(half.body_pos.numpy(), clip.body_pos_w[::2][:, ids], atol=1e-5)


def test_playback_with_a_tiny_untrained_policy_gives_a_well_formed_report(g1_npz, tmp_path):
    from motionlib.policies.actor import TrackingActor, TrackingPolicy
    from motionlib.retarget.playback import TOTAL_KEYS, playback_clips
    from motionlib.retarget.robot_clip import load_robot_clip
    from motionlib.retarget.tracking import robot_tracking_body
    from motionlib.sim.humanoid import HumanoidConfig
    from motionlib.sim.observation_terms import ObservationLayout
    from motionlib.sim.term_sets import term_set
    from motionlib.sim.tracking_config import TrackingConfig

    body = robot_tracking_body("g1")
    tracking = TrackingConfig(terms="mjcf_robot")
    num_obs = ObservationLayout(term_set("mjcf_robot").observation, len(tracking.future_frames), body.num_bodies).dim
    torch.manual_seed(0)
    policy = TrackingPolicy(TrackingActor(num_obs, 29, (16,)), tracking, HumanoidConfig(), {"name": "tiny"},
                            {"kind": "mjcf_robot", "robot": "g1"})
    path = policy.save(tmp_path / "tiny.pt")
    assert TrackingPolicy.load(path).robot == "g1"
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a clip")
    out = playback_clips([g1_npz, bad], "g1", policy_path=path, out_dir=tmp_path / "out")
    assert out["robot"] == "g1" and out["policy"] == str(path) and "0.5 m" in out["success_rule"]
    assert [f["file"] for f in out["failures"]] == [str(bad)]
    rep = out["clips"]["walk"]
    assert isinstance(rep["success"], bool) and 1 <= rep["frames"] <= 31
    assert rep["success"] == (rep["fail_frame"] is None)
    assert out["total"]["clips"] == 1 and out["total"]["frames"] == rep["frames"]
    for k in TOTAL_KEYS:
        assert np.isfinite(rep[k]) and rep[k] >= 0.0 and out["total"][k] == pytest.approx(rep[k])
    tracked = load_robot_clip(tmp_path / "out" / "walk.npz")
    src = load_robot_clip(g1_npz)
    assert tracked.num_frames == rep["frames"] and tracked.joint_names == src.joint_names
    assert tracked.body_names == src.body_names and tracked.meta["playback"]["frames"] == rep["frames"]
    assert json.loads((tmp_path / "out" / "walk.playback.json").read_text())["frames"] == rep["frames"]
    # a humanoid policy cannot drive the robot
    human = TrackingPolicy(TrackingActor(num_obs, 29, (16,)), tracking, HumanoidConfig(), {})
    with pytest.raises(MotionError, match="SMPL humanoid"):
        playback_clips([g1_npz], "g1", policy_path=human.save(tmp_path / "human.pt"))


# The SMPL humanoid's observation and reward for a fixed state, computed before the body interface
# existed (the procedural walk, worlds restarted at frames 0, 10, 30, one step of fixed random actions).
HUMAN_OBS0_SUM, HUMAN_OBS0_ABS = 499.7669947973975, 886.2119388097703
HUMAN_OBS1_SUM, HUMAN_OBS1_ABS = 418.84005321309087, 2631.9197222597722
HUMAN_OBS0_FIRST = [0.919995, -0.0068, 0.0695, -0.0914, -0.0043, -0.0677, -0.0905, -0.0267]
HUMAN_REWARD = [0.744877815246582, 0.7374692559242249, 0.7152215242385864]
HUMAN_TERMS = {"r_pos": 0.40532615780830383, "r_rot": 0.18470507860183716, "r_vel": 0.08554943650960922,
               "r_angvel": 0.004986731335520744, "r_height": 0.09963934868574142, "p_power": -0.04444992542266846,
               "p_action_rate": -0.003233918221667409, "p_feet_slip": 0.0}


def test_the_humanoid_observation_and_reward_are_unchanged():
    from motionlib.sim.tracking_config import TrackingConfig
    from motionlib.sim.tracking_env import TrackingEnv

    env = TrackingEnv([make_walking_clip(2.0)], TrackingConfig(num_envs=3))
    assert (env.num_obs, env.num_actions) == (1222, 69)
    obs = env.restart(torch.arange(3), torch.zeros(3, dtype=torch.long), torch.tensor([0, 10, 30]))
    act = torch.rand(3, env.num_actions, generator=torch.Generator().manual_seed(1)) * 2 - 1
    res = env.step(act)
    assert float(obs.double().sum()) == pytest.approx(HUMAN_OBS0_SUM, rel=1e-6)
    assert float(obs.double().abs().sum()) == pytest.approx(HUMAN_OBS0_ABS, rel=1e-6)
    np.testing.assert_allclose(obs[1, :8].numpy(), HUMAN_OBS0_FIRST, atol=2e-6)
    assert float(res.obs.double().sum()) == pytest.approx(HUMAN_OBS1_SUM, rel=1e-5)
    assert float(res.obs.double().abs().sum()) == pytest.approx(HUMAN_OBS1_ABS, rel=1e-5)
    np.testing.assert_allclose(res.reward.numpy(), HUMAN_REWARD, rtol=1e-5)
    for k, v in HUMAN_TERMS.items():
        assert float(res.info["terms"][k]) == pytest.approx(v, rel=1e-5, abs=1e-8)


@pytest.mark.slow
def test_train_tracker_takes_the_robot_world_terms_and_refuses_another_bodys(g1_npz, tmp_path, capsys):
    """``train-tracker --robot g1 --terms mjcf_robot_world --termination-distance 0.4`` trains with them and the
    policy file records both (playback builds its env from it); the humanoid's set observes another body and is
    refused, as is a distance <= 0."""
    from motionlib.cli.main import main
    from motionlib.policies.actor import TrackingPolicy

    base = ["train-tracker", "--robot", "g1", "--clips", str(g1_npz), "--envs", "4", "--threads", "1",
            "--horizon", "8", "--minibatches", "2", "--units", "32", "--minutes", "1e-6", "--eval-every", "1",
            "--json"]
    assert main([*base, "--out", str(tmp_path / "run"), "--terms", "mjcf_robot_world",
                 "--termination-distance", "0.4"]) == 0
    capsys.readouterr()
    tracking = TrackingPolicy.load(tmp_path / "run" / "policy_best.pt").tracking
    assert (tracking.terms, tracking.termination_distance) == ("mjcf_robot_world", 0.4)
    with pytest.raises(SystemExit, match="must be > 0"):
        main([*base, "--out", str(tmp_path / "bad"), "--termination-distance", "0"])
    with pytest.raises(SystemExit, match="observes another body"):
        main([*base, "--out", str(tmp_path / "bad"), "--terms", "smpl_humanoid"])
    with pytest.raises(SystemExit, match="unknown term set"):
        main([*base, "--out", str(tmp_path / "bad"), "--terms", "nope"])
