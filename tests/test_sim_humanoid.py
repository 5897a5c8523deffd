"""The SMPL humanoid MJCF and the Motion <-> MuJoCo state conversions."""

import mujoco
import numpy as np

from motionlib.motion import Skeleton
from motionlib.motion.skeleton import reference_humanoid
from motionlib.sim.humanoid import build_mjcf, humanoid_xml
from motionlib.motion import rotations as R
from motionlib.sim.smpl_state import (
    HINGE_SMPL,
    C,
    Q_C,
    euler_xyz_to_matrix,
    euler_xyz_to_quat,
    matrix_to_euler_xyz,
    motion_to_qpos,
    qpos_to_motion,
    qpos_to_rotations,
    quat_to_euler_xyz,
    qvel_from_qpos,
)

NAMES = [j["name"] for j in sorted(reference_humanoid()["joints"], key=lambda j: j["smpl_index"])]


def test_model_structure():
    m = mujoco.MjModel.from_xml_string(build_mjcf())
    assert m.nbody == 25 and m.nu == 69 and m.nq == 76 and m.nv == 75
    assert m.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    assert 55 < m.body_subtreemass[1] < 75  # a plausible adult mass (kg)
    # actuator i drives qpos[7 + i]
    for i in range(m.nu):
        assert m.jnt_qposadr[m.actuator_trnid[i, 0]] == 7 + i
    # light links get lower gains
    kp = {m.actuator(i).name: m.actuator_gainprm[i, 0] for i in range(m.nu)}
    assert kp["L_Toe_x"] < kp["L_Knee_x"]


def _contacts(cfg, pose):
    """Body pairs in contact for hinge angles ``pose`` (name -> rad), standing 1 m up."""
    m = mujoco.MjModel.from_xml_string(build_mjcf(cfg=cfg))
    d = mujoco.MjData(m)
    d.qpos[2] = 1.0
    for name, angle in pose.items():
        d.qpos[m.jnt_qposadr[m.joint(name).id]] = angle
    mujoco.mj_forward(m, d)
    pairs = set()
    for i in range(d.ncon):
        b1, b2 = (m.body(m.geom_bodyid[g]).name for g in (d.contact[i].geom1, d.contact[i].geom2))
        pairs.add(tuple(sorted((b1, b2))))
    return pairs


def test_self_collision_switch():
    """Default: bodies collide with the floor only; self_collision=True adds
    body-body contacts (thighs pressed together here), the floor stays."""
    from motionlib.sim.humanoid import HumanoidConfig

    crossed = {"L_Hip_x": -0.35, "R_Hip_x": 0.35}  # both thighs swung inwards: they meet
    assert _contacts(HumanoidConfig(), crossed) == set()
    on = _contacts(HumanoidConfig(self_collision=True), crossed)
    assert ("L_Hip", "R_Hip") in on or ("L_Knee", "R_Knee") in on
    # floor contact with either setting: drop the standing body onto the floor
    for flag in (False, True):
        m = mujoco.MjModel.from_xml_string(build_mjcf(cfg=HumanoidConfig(self_collision=flag)))
        d = mujoco.MjData(m)
        d.qpos[2] = 0.9
        mujoco.mj_forward(m, d)
        floor = m.geom("floor").id
        assert any(floor in (d.contact[i].geom1, d.contact[i].geom2) for i in range(d.ncon))


def test_scaled_body_and_cache(tmp_path):
    big = Skeleton.default().scaled(1.1)
    xml = humanoid_xml(big, cache_dir=tmp_path)
    assert humanoid_xml(big, cache_dir=tmp_path) is xml  # built once
    assert len(list(tmp_path.glob("smpl_humanoid_*.xml"))) == 1
    m0 = mujoco.MjModel.from_xml_string(build_mjcf())
    m1 = mujoco.MjModel.from_xml_string(xml)
    assert m1.body_subtreemass[1] > 1.25 * m0.body_subtreemass[1]  # ~1.1^3


def test_euler_round_trip(rng):
    e = rng.uniform(-1.4, 1.4, size=(100, 3))
    assert np.allclose(matrix_to_euler_xyz(euler_xyz_to_matrix(e)), e, atol=1e-10)


def test_quaternion_conversions_match_the_matrix_definitions(rng, random_clip):
    """The conversions work on quaternions; the definitions are the matrix products in the module doc."""
    q = R.quat_normalize(rng.normal(size=(200, 4)))
    assert np.abs(quat_to_euler_xyz(q) - matrix_to_euler_xyz(R.quat_to_matrix(q))).max() < 1e-12
    e = rng.uniform(-3.0, 3.0, size=(200, 3))
    assert np.abs(R.quat_to_matrix(euler_xyz_to_quat(e)) - euler_xyz_to_matrix(e)).max() < 1e-12
    assert np.abs(R.quat_to_matrix(Q_C) - C).max() < 1e-15
    # motion_to_qpos: R_sim_root = R_root C^T, hinge angles of C R_local C^T
    qpos = motion_to_qpos(random_clip)
    rm = random_clip.rotmats()
    assert np.abs(R.quat_to_matrix(qpos[:, 3:7]) - rm[:, 0] @ C.T).max() < 1e-12
    eul = matrix_to_euler_xyz(C @ rm[:, 1:] @ C.T)
    assert np.abs(qpos[:, 7:] - eul[:, [j - 1 for j in HINGE_SMPL]].reshape(len(qpos), -1)).max() < 1e-12
    # qpos_to_rotations inverts it, with matrix_to_quat's sign (w >= 0), also for an unnormalised root
    qpos[:, 3:7] *= 1.7
    back = qpos_to_rotations(qpos)
    assert (back[..., 0] >= 0).all()
    assert np.abs(R.quat_to_matrix(back) - rm).max() < 1e-12


def test_mujoco_fk_matches_motion_fk(random_clip):
    m = mujoco.MjModel.from_xml_string(humanoid_xml(random_clip.skeleton()))
    d = mujoco.MjData(m)
    qpos = motion_to_qpos(random_clip)
    pos = random_clip.positions()
    ids = [m.body(n).id for n in NAMES]
    for t in range(0, random_clip.num_frames, 7):
        d.qpos[:] = qpos[t]
        mujoco.mj_kinematics(m, d)
        assert np.abs(d.xpos[ids] - pos[t]).max() < 1e-9
    back = qpos_to_motion(qpos, random_clip.fps, like=random_clip)
    assert np.abs(back.positions() - pos).max() < 1e-9


def test_qvel_integrates_to_next_frame(random_clip):
    m = mujoco.MjModel.from_xml_string(build_mjcf())
    fine = random_clip.resample(240)
    qpos = motion_to_qpos(fine)
    qvel = qvel_from_qpos(qpos, fine.fps)
    for t in (10, 50, 100):
        q = qpos[t].copy()
        mujoco.mj_integratePos(m, q, qvel[t], 1.0 / fine.fps)
        assert np.abs(q[:3] - qpos[t + 1, :3]).max() < 1e-3
        assert np.abs(np.abs(q[3:7] @ qpos[t + 1, 3:7]) - 1) < 1e-5
        assert np.abs(q[7:] - qpos[t + 1, 7:]).max() < 5e-3


def test_plausibility_shape_is_the_simulators_collision_shape(random_clip):
    """metrics.ground_heights (posed primitives, no simulator) = the lowest point of each MuJoCo geom."""
    import itertools

    from motionlib.motion import metrics as M

    clip = random_clip.copy(offsets=random_clip.skeleton().offsets * 1.1)  # a scaled body
    m = mujoco.MjModel.from_xml_string(humanoid_xml(clip.skeleton()))
    d = mujoco.MjData(m)
    qpos = motion_to_qpos(clip)
    low = M.ground_heights(*clip.joints(), M.body_scale_of(clip))
    geoms = [m.geom(f"{n}_geom").id for n in NAMES]
    corners = np.array(list(itertools.product([-1.0, 1.0], repeat=3)))
    for t in range(0, clip.num_frames, 11):
        d.qpos[:] = qpos[t]
        mujoco.mj_kinematics(m, d)
        for j, g in enumerate(geoms):
            rot, size = d.geom_xmat[g].reshape(3, 3), m.geom_size[g]
            if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX:
                z = (d.geom_xpos[g] + (corners * size) @ rot.T)[:, 2].min()
            else:  # capsule along its z axis: half length size[1], radius size[0]
                z = d.geom_xpos[g][2] - abs(rot[2, 2]) * size[1] - size[0]
            assert abs(low[t, j] - z) < 1e-9, (t, NAMES[j])


def _deepest_floor_contact(cfg) -> float:
    """Deepest floor penetration (m) of the body dropped from 5 cm onto its feet, held upright by its
    actuators (knees bent 0.5 rad, so the legs press), over 1 s."""
    m = mujoco.MjModel.from_xml_string(build_mjcf(cfg=cfg))
    d = mujoco.MjData(m)
    pose = {"L_Hip_y": -0.25, "R_Hip_y": -0.25, "L_Knee_y": 0.5, "R_Knee_y": 0.5, "L_Ankle_y": -0.25, "R_Ankle_y": -0.25}
    for name, angle in pose.items():
        d.qpos[m.jnt_qposadr[m.joint(name).id]] = angle
    d.ctrl[:] = d.qpos[7:]
    d.qpos[2] = 1.0
    mujoco.mj_kinematics(m, d)
    lowest = min(d.geom_xpos[g][2] - m.geom_rbound[g] for g in range(1, m.ngeom))  # bounding spheres
    d.qpos[2] -= lowest - 0.05
    deepest = 0.0
    for _ in range(int(1.0 / m.opt.timestep)):
        mujoco.mj_step(m, d)
        if d.ncon:
            deepest = max(deepest, float(-d.contact.dist[: d.ncon].min()))
    return deepest


def test_direct_contact_stiffness_keeps_feet_out_of_the_floor():
    from dataclasses import replace

    from motionlib.sim.humanoid import HumanoidConfig

    cfg = HumanoidConfig()
    assert cfg.contact_stiffness > 0
    xml = build_mjcf(cfg=cfg)
    assert f'solref="{-cfg.contact_stiffness:g} {-cfg.contact_damping:g}"' in xml
    soft = replace(cfg, contact_stiffness=0.0)  # MuJoCo's time-constant form (0.02 s)
    assert f'solref="{cfg.solref_timeconst:g} 1"' in build_mjcf(cfg=soft)
    assert _deepest_floor_contact(cfg) < 0.5 * _deepest_floor_contact(soft)


def test_geoms_follow_a_bodys_own_bones():
    from motionlib.sim.humanoid import body_scale_of, bone_maps

    mean = Skeleton.default().scaled(0.9)
    # a uniformly scaled mean body: every geom is the scaled mean's, nothing is mapped
    assert all(m is None for m in bone_maps(mean, body_scale_of(mean)))
    # longer thighs (hip -> knee), a collar bone turned inwards and shortened (a narrower shoulder girdle)
    off = mean.offsets.copy()
    off[4] *= 1.25  # L_Knee: the left thigh 25 % longer
    off[16] = off[16] * np.array([0.5, 1.0, 1.0])  # L_Shoulder
    own = Skeleton(off)
    m_mean = mujoco.MjModel.from_xml_string(build_mjcf(mean))
    m_own = mujoco.MjModel.from_xml_string(build_mjcf(own))
    scale = body_scale_of(own)

    def child_pos(m, name):
        return np.asarray(m.body_pos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, name)])

    def ends(m, geom):
        g = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, geom)
        half, axis = m.geom_size[g, 1], _axis(m.geom_quat[g])
        return m.geom_pos[g] - half * axis, m.geom_pos[g] + half * axis, m.geom_size[g, 0]

    # the thigh capsule spans the longer bone as the mean one spans its own: its ends at the same fractions
    for m, sk in ((m_mean, mean), (m_own, own)):
        a, b, radius = ends(m, "L_Hip_geom")
        knee = child_pos(m, "L_Knee")
        frac = sorted(float(np.dot(e, knee) / np.dot(knee, knee)) for e in (a, b))
        if m is m_mean:
            frac_mean = frac
        else:
            assert np.allclose(frac, frac_mean, atol=1e-4)
            # the radius is the body's overall size, not the bone's
            assert np.isclose(radius, reference_humanoid()["joints"][1]["geom"]["size"][0] * scale, rtol=1e-4)
    # the collar capsule turns with its bone: its axis makes the same angle with the (moved) shoulder
    cos = []
    for m in (m_mean, m_own):
        a, b, _ = ends(m, "L_Thorax_geom")
        shoulder = child_pos(m, "L_Shoulder")
        cos.append(abs(np.dot(b - a, shoulder)) / np.linalg.norm(b - a) / np.linalg.norm(shoulder))
    assert abs(cos[0] - cos[1]) < 1e-3
    # a bone left as it was (the right shin) keeps its capsule's ends; only the radius follows the overall size
    a0, b0, r0 = ends(m_mean, "R_Knee_geom")
    a1, b1, r1 = ends(m_own, "R_Knee_geom")
    assert np.allclose([a1, b1], [a0, b0], atol=1e-5) and np.isclose(r1, r0 * scale / body_scale_of(mean), rtol=1e-4)


def _axis(quat) -> np.ndarray:
    """The local z axis (a capsule's axis) of a wxyz orientation."""
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat, dtype=np.float64))
    return mat.reshape(3, 3)[:, 2]
