"""Robot clips: the NPZ round trip replays through MuJoCo kinematics; the CSV layout; robot descriptions
are validated against their MJCF."""

import json

import numpy as np
import pytest

from walk_fixture import make_walking_clip

from motionlib.motion.errors import MotionError


@pytest.fixture(scope="module")
def g1_clip():
    from motionlib.retarget.description import load_description
    from motionlib.retarget.ik import Retargeter
    from motionlib.retarget.robot_clip import from_qpos

    rt = Retargeter(load_description("g1"))
    clip = make_walking_clip(0.5)
    res = rt.run(clip)
    return rt.robot, from_qpos(rt.robot, res.qpos, clip.fps, {"source": "walk", "texts": {"captions": ["a walk"]}})


def test_npz_round_trip_replays_body_states(g1_clip, tmp_path):
    import mujoco

    from motionlib.retarget.robot_clip import load_robot_clip, save_robot_clip

    robot, clip = g1_clip
    path = save_robot_clip(clip, tmp_path / "walk.npz")
    with np.load(path, allow_pickle=False) as z:  # no pickled objects inside
        assert {"fps", "joint_names", "joint_pos", "joint_vel", "body_names", "body_pos_w", "body_quat_w",
                "body_lin_vel_w", "body_ang_vel_w"} <= set(z.files)
    back = load_robot_clip(path)
    assert back.joint_names == clip.joint_names and len(back.joint_names) == 29
    assert back.meta["texts"]["captions"] == ["a walk"]
    m = robot.model
    d = mujoco.MjData(m)
    names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b) for b in range(1, m.nbody)]
    assert back.body_names == names
    for f in range(back.num_frames):
        d.qpos[robot.root_qpos:robot.root_qpos + 3] = back.root_pos[f]
        d.qpos[robot.root_qpos + 3:robot.root_qpos + 7] = back.root_quat[f]
        for name, v in zip(back.joint_names, back.joint_pos[f]):
            d.qpos[m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)]] = v
        mujoco.mj_kinematics(m, d)
        np.testing.assert_allclose(d.xpos[1:], back.body_pos_w[f], atol=1e-4)
        # quaternions up to sign
        dots = np.abs((d.xquat[1:] * back.body_quat_w[f]).sum(-1))
        np.testing.assert_allclose(dots, 1.0, atol=1e-4)


def test_velocities_match_finite_differences(g1_clip):
    _, clip = g1_clip
    np.testing.assert_allclose(clip.body_lin_vel_w[5], (clip.body_pos_w[6] - clip.body_pos_w[4]) * clip.fps / 2,
                               atol=1e-9)
    # a body turning about z at a known rate
    from motionlib.motion import rotations as R
    from motionlib.retarget.robot_clip import angular_velocity

    yaw = np.linspace(0, 1, 11)
    q = R.matrix_to_quat(R.rot_z(yaw))
    np.testing.assert_allclose(angular_velocity(q, 10.0)[3], [0, 0, 1.0], atol=1e-6)


def test_csv_layout(g1_clip, tmp_path):
    from motionlib.retarget.robot_clip import to_csv

    _, clip = g1_clip
    rows = np.loadtxt(to_csv(clip, tmp_path / "walk.csv"), delimiter=",")
    assert rows.shape == (clip.num_frames, 3 + 4 + 29)
    np.testing.assert_allclose(rows[:, :3], clip.root_pos, atol=1e-6)
    np.testing.assert_allclose(rows[:, 3:7], clip.root_quat[:, [1, 2, 3, 0]], atol=1e-6)  # x y z w
    np.testing.assert_allclose(rows[:, 7:], clip.joint_pos, atol=1e-6)


def test_description_naming_a_missing_body(tmp_path):
    from motionlib.retarget.description import description_path, load_description

    shipped = description_path("g1")
    raw = json.loads(shipped.read_text())
    raw["mjcf"] = str(shipped.parent / raw["mjcf"])
    raw["targets"][2]["body"] = "left_kneecap_link"
    path = tmp_path / "g1_typo.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(MotionError) as e:
        load_description(path)
    msg = str(e.value)
    assert "left_kneecap_link" in msg and "g1_29dof.xml" in msg and "g1_typo.json" in msg


def test_description_values():
    from motionlib.retarget.description import available_robots, load_description

    assert {"g1", "h1"} <= set(available_robots())
    g1 = load_description("g1")
    assert len(g1.joint_names) == 29 and g1.joint_names[0] == "left_hip_pitch_joint"
    assert g1.effort_limit[g1.joint_names.index("left_knee_joint")] == 139.0  # the MJCF actuator's range
    assert g1.kp[g1.joint_names.index("left_knee_joint")] == pytest.approx(99.098, abs=1e-2)
    h1 = load_description("h1")
    assert len(h1.joint_names) == 20
    with pytest.raises(MotionError, match="unknown robot"):
        load_description("t800")


def test_shipped_collision_geometry_is_the_original(tmp_path):
    """The shipped meshes: collision hulls give the original MJCF's collision extents; needs ../shared."""
    from conftest import SHARED

    from motionlib.retarget.description import ROBOTS_DIR
    from motionlib.retarget.robot_assets import check_same_collision

    src = SHARED / "robots" / "unitree_g1" / "g1_29dof.xml"
    if not src.is_file():
        pytest.skip("../shared/robots is not available")
    assert check_same_collision(src, ROBOTS_DIR / "g1" / "g1_29dof.xml", poses=5) < 1e-5


def test_hull_and_decimation(tmp_path):
    from motionlib.retarget.robot_assets import cluster_decimate, convex_hull, read_stl, write_stl

    rng = np.random.default_rng(0)
    pts = rng.normal(size=(400, 3))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    hv, hf = convex_hull(np.r_[pts, 0.5 * pts])  # the inner points are not on the hull
    assert len(hv) == 400
    write_stl(tmp_path / "h.stl", hv, hf)
    v, f = read_stl(tmp_path / "h.stl")
    assert len(v) == 400 and len(f) == len(hf)
    dv, df = cluster_decimate(v, f, 200)
    assert 0 < len(df) <= 200
    assert np.abs(np.linalg.norm(dv, axis=1) - 1).max() < 0.5
