import os
import pickle
import sys

import numpy as np
import pytest
import torch
from smpl_fixture import KNEES, synthetic_smpl_arrays, write_chumpy_pkl, write_npz_model

from motionlib.motion import Motion, Skeleton
from motionlib.motion import rotations as R
from motionlib.motion.errors import MotionError
from motionlib.motion.smpl_model import joint_rest_positions, load_smpl_model, skeleton_from_betas


@pytest.fixture(params=["pkl", "npz"])
def model_path(request, tmp_path):
    arrays = synthetic_smpl_arrays()
    if request.param == "pkl":
        return write_chumpy_pkl(tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl", arrays)
    return write_npz_model(tmp_path / "SMPL_NEUTRAL.npz", arrays)


def test_chumpy_pkl_loads_without_chumpy(tmp_path):
    arrays = synthetic_smpl_arrays()
    path = write_chumpy_pkl(tmp_path / "model.pkl", arrays)
    assert "chumpy" not in sys.modules  # the stand-in modules were only there while writing
    assert b"chumpy.ch" in path.read_bytes() and b"csc_matrix" in path.read_bytes()
    m = load_smpl_model(path)
    np.testing.assert_array_equal(m.v_template, arrays["v_template"])
    np.testing.assert_array_equal(m.shapedirs, arrays["shapedirs"])
    np.testing.assert_array_equal(m.J_regressor, arrays["J_regressor"])  # sparse -> dense
    assert m.posedirs.shape == (len(arrays["v_template"]), 3, 207)  # chumpy transpose evaluated
    assert m.parents == Skeleton.default().parents
    assert m.faces.dtype == np.int64 and m.faces.shape == arrays["f"].shape


def test_zero_betas_reproduce_the_default_body(model_path):
    sk = skeleton_from_betas(load_smpl_model(model_path), np.zeros(10))
    default = Skeleton.default()
    np.testing.assert_allclose(sk.offsets, default.offsets, atol=1e-12)
    np.testing.assert_allclose(sk.pelvis_rest, default.pelvis_rest, atol=1e-12)


def test_betas_change_offsets_as_designed(model_path):
    model = load_smpl_model(model_path)
    default = Skeleton.default()
    scaled = skeleton_from_betas(model, [1.0])  # short betas are zero-padded
    np.testing.assert_allclose(scaled.offsets, 1.1 * default.offsets, atol=1e-12)
    np.testing.assert_allclose(scaled.pelvis_rest, 1.1 * default.pelvis_rest, atol=1e-12)
    legs = skeleton_from_betas(model, [0.0, 2.0])
    delta = legs.offsets - default.offsets
    expect = np.zeros((24, 3))
    expect[list(KNEES), 1] = -0.10  # knees 2 * 5 cm lower
    expect[[7, 8], 1] = -0.10  # ankles another 10 cm below the knees
    np.testing.assert_allclose(delta, expect, atol=1e-12)  # feet move with the ankles: no change
    with pytest.raises(MotionError, match="shape components"):
        skeleton_from_betas(model, np.ones(11))


def test_matches_smplx_lbs(model_path):
    """Our joints equal smplx's own functions on the same arrays, rest and posed."""
    from smplx.lbs import blend_shapes, lbs, vertices2joints

    model = load_smpl_model(model_path)
    rng = np.random.default_rng(1)
    betas = rng.normal(size=10)
    t = lambda a: torch.as_tensor(np.array(a), dtype=torch.float64)  # noqa: E731
    v_shaped = t(model.v_template)[None] + blend_shapes(t(betas)[None], t(model.shapedirs))
    j_smplx = vertices2joints(t(model.J_regressor), v_shaped)[0].numpy()
    np.testing.assert_allclose(joint_rest_positions(model, betas), j_smplx, atol=1e-12)

    # posed: smplx lbs (root rotates about J0, then transl) vs motionlib FK with trans = transl + J0
    pose = rng.normal(scale=0.4, size=(3, 72))
    transl = rng.normal(size=(3, 3))
    parents = torch.tensor([-1] + list(model.parents[1:]))
    posedirs = t(model.posedirs.reshape(-1, model.posedirs.shape[2]).T)
    _, joints = lbs(t(np.tile(betas, (3, 1))), t(pose), t(model.v_template), t(model.shapedirs), posedirs,
                    t(model.J_regressor), parents, t(model.weights))
    sk = skeleton_from_betas(model, betas)
    clip = Motion.from_axis_angle(30.0, transl + sk.pelvis_rest, pose, offsets=sk.offsets, betas=betas)
    np.testing.assert_allclose(clip.positions(), joints.numpy() + transl[:, None], atol=1e-9)


def test_model_errors(tmp_path):
    arrays = synthetic_smpl_arrays()
    bad = dict(arrays)
    del bad["J_regressor"]
    with pytest.raises(MotionError, match="missing keys"):
        load_smpl_model(write_npz_model(tmp_path / "a.npz", bad))
    bad = dict(arrays, weights=arrays["weights"][:, :5])
    with pytest.raises(MotionError, match="weights"):
        load_smpl_model(write_npz_model(tmp_path / "b.npz", bad))
    kt = arrays["kintree_table"].copy()
    kt[0, 4] = 2
    with pytest.raises(MotionError, match="kinematic tree"):
        load_smpl_model(write_npz_model(tmp_path / "c.npz", dict(arrays, kintree_table=kt)))
    obj = dict(arrays, J_regressor=np.array([None, 1], dtype=object))
    np.savez(tmp_path / "d.npz", **obj)
    with pytest.raises(MotionError, match="Python objects"):
        load_smpl_model(tmp_path / "d.npz")
    with pytest.raises(MotionError, match="no such"):
        load_smpl_model(tmp_path / "none.pkl")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_malicious_model_pickle_refused(tmp_path):
    doc = dict(synthetic_smpl_arrays(), extra=_Evil())
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(doc, protocol=2))
    with pytest.raises(MotionError, match=r"model\.pkl.*system"):
        load_smpl_model(path)


def test_smplh_sized_model_uses_body_joints(tmp_path):
    """52-joint models: joints 0-21 from the model, SMPL's hand joints from the default body."""
    a = synthetic_smpl_arrays()
    extra = 52 - 22
    jreg = np.zeros((52, a["J_regressor"].shape[1]))
    jreg[:22] = a["J_regressor"][:22]
    jreg[22:] = a["J_regressor"][20]  # fingers placed at the left wrist (values unused)
    kt = np.array([list(a["kintree_table"][0, :22]) + [20] * extra, list(range(52))])
    weights = np.zeros((len(a["v_template"]), 52))
    weights[:, :22] = a["weights"][:, :22]
    arrays = dict(a, J_regressor=jreg, kintree_table=kt, weights=weights)
    sk = skeleton_from_betas(load_smpl_model(write_npz_model(tmp_path / "h.npz", arrays)), np.zeros(16))
    np.testing.assert_allclose(sk.offsets, Skeleton.default().offsets, atol=1e-12)
    q = R.axis_angle_to_quat(np.zeros((2, 24, 3)))
    assert Motion(30.0, np.zeros((2, 3)), q, offsets=sk.offsets).positions().shape == (2, 24, 3)
