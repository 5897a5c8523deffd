import collections
import os

import joblib
import numpy as np
import pytest
import torch
from conftest import make_standing_clip
from smpl_fixture import synthetic_smpl_arrays, write_chumpy_pkl
from walk_fixture import make_walking_clip

from motionlib.motion import Motion, Skeleton
from motionlib.motion import metrics as M
from motionlib.motion import rotations as R
from motionlib.motion.clip import ESTIMATE_META
from motionlib.motion.errors import MotionError
from motionlib.motion.ingest.amass import load_amass, save_amass
from motionlib.motion.floor import FLOOR_META
from motionlib.motion.ingest.wham import load_wham, read_wham

# z-up world -> y-up world (WHAM): y_new = z, z_new = -y. Written independently of the reader.
ZUP_TO_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _smplx_joints(model_arrays, betas, pose, transl):
    """Posed joint positions from smplx's own lbs (world = lbs joints + transl)."""
    from smplx.lbs import lbs

    t = lambda a: torch.as_tensor(np.array(a), dtype=torch.float64)  # noqa: E731
    n = len(pose)
    pd = model_arrays["posedirs"]
    parents = torch.tensor([-1] + [int(p) for p in model_arrays["kintree_table"][0, 1:]])
    _, joints = lbs(t(np.broadcast_to(betas, (n, len(betas)))), t(pose), t(model_arrays["v_template"]),
                    t(model_arrays["shapedirs"][:, :, : len(betas)]), t(pd.reshape(-1, pd.shape[2]).T),
                    t(model_arrays["J_regressor"]), parents, t(model_arrays["weights"]))
    return joints.numpy() + transl[:, None]


# ------------------------------------------------------------------- AMASS
def test_amass_round_trip_is_exact(tmp_path, random_clip):
    clip = random_clip.copy(betas=np.linspace(-1, 1, 16), gender="female")
    path = save_amass(clip, tmp_path / "sub" / "clip.npz")
    with np.load(path) as z:
        assert z["poses"].shape == (clip.num_frames, 72)
        np.testing.assert_allclose(z["trans"], clip.trans - Skeleton.default().pelvis_rest)
        assert float(z["mocap_framerate"]) == clip.fps
    back = load_amass(path)
    assert back.fps == clip.fps and back.gender == "female"
    np.testing.assert_array_equal(back.betas, clip.betas)
    np.testing.assert_allclose(back.trans, clip.trans, atol=1e-12)
    np.testing.assert_allclose(back.positions(), clip.positions(), atol=1e-9)
    dots = np.abs(np.sum(back.rotations * clip.rotations, axis=-1))
    np.testing.assert_allclose(dots, 1.0, atol=1e-9)


def test_amass_round_trip_custom_body(tmp_path, random_clip):
    off = Skeleton.default().offsets * np.linspace(0.9, 1.1, 24)[:, None]
    clip = random_clip.copy(offsets=off, body_scale=1.2)
    back = load_amass(save_amass(clip, tmp_path / "c.npz"))
    np.testing.assert_allclose(back.offsets, off)
    np.testing.assert_allclose(back.positions(), clip.positions(), atol=1e-9)


@pytest.mark.parametrize("width,fps_key", [(156, "mocap_framerate"), (165, "mocap_frame_rate")])
def test_amass_smplh_smplx_widths(tmp_path, rng, width, fps_key):
    t = 6
    poses = rng.normal(scale=0.3, size=(t, width))
    trans = rng.normal(size=(t, 3))
    path = tmp_path / "x.npz"
    np.savez(path, poses=poses, trans=trans, betas=np.zeros(16), gender=np.array(b"male"),
             **{fps_key: np.array(120.0)})
    clip = load_amass(path)
    assert clip.fps == 120.0 and clip.gender == "male"
    np.testing.assert_allclose(clip.trans, trans + Skeleton.default().pelvis_rest)
    np.testing.assert_allclose(clip.rotations_axis_angle()[:, :22].reshape(t, 66), poses[:, :66], atol=1e-9)
    np.testing.assert_allclose(clip.rotations[:, 22:], np.broadcast_to([1.0, 0, 0, 0], (t, 2, 4)))


def test_amass_with_smpl_model_matches_smplx(tmp_path, rng):
    arrays = synthetic_smpl_arrays()
    model = write_chumpy_pkl(tmp_path / "model.pkl", arrays)
    t = 5
    betas = np.array([0.5, -1.0])
    pose = rng.normal(scale=0.4, size=(t, 72))
    trans = rng.normal(size=(t, 3))
    path = tmp_path / "a.npz"
    np.savez(path, poses=pose, trans=trans, betas=betas, gender=np.array("neutral"), mocap_framerate=30.0)
    clip = load_amass(path, smpl_model=model)
    np.testing.assert_allclose(clip.positions(), _smplx_joints(arrays, betas, pose, trans), atol=1e-9)
    default = load_amass(path)  # without the model: mean body, pelvis still trans + J0
    np.testing.assert_allclose(default.trans, trans + Skeleton.default().pelvis_rest)


def _amass_bad(tmp_path, **over):
    d = dict(poses=np.zeros((4, 72)), trans=np.zeros((4, 3)), betas=np.zeros(10), mocap_framerate=30.0)
    d.update(over)
    d = {k: v for k, v in d.items() if v is not None}
    path = tmp_path / "bad.npz"
    np.savez(path, **d)
    return path


@pytest.mark.parametrize("over,needle", [
    ({"trans": None}, "lacks"),
    ({"poses": np.zeros((4, 70))}, "poses must have shape"),
    ({"trans": np.zeros((3, 3))}, "trans must have shape"),
    ({"poses": np.where(np.eye(4, 72) > 0, np.nan, 0.0)}, "NaN"),
    ({"mocap_framerate": 0.0}, "frame rate must be > 0"),
    ({"mocap_framerate": None}, "no frame rate"),
    ({"poses": np.zeros((1, 72)), "trans": np.zeros((1, 3))}, "at least 2 frames"),
])
def test_amass_errors(tmp_path, over, needle):
    path = _amass_bad(tmp_path, **over)
    with pytest.raises(MotionError, match=needle) as e:
        load_amass(path)
    assert str(path) in str(e.value)


# -------------------------------------------------------------------- WHAM
def _to_wham(clip: Motion, j0: np.ndarray, betas: np.ndarray) -> dict:
    """Our z-up clip in WHAM's y-up convention: root and pelvis rotated into
    the y-up world, trans_world = pelvis - J0 (SMPL transl)."""
    aa = clip.rotations_axis_angle()
    root = ZUP_TO_YUP @ R.quat_to_matrix(clip.rotations[:, 0])
    aa[:, 0] = R.matrix_to_axis_angle(root)
    t = clip.num_frames
    return {"pose_world": aa.reshape(t, 72).astype(np.float32).astype(np.float64),
            "trans_world": clip.trans @ ZUP_TO_YUP.T - j0,
            "betas": np.tile(betas, (t, 1)), "frame_ids": np.arange(10, 10 + t),
            "pose": np.zeros((t, 72)), "trans": np.zeros((t, 3)), "verts": np.zeros((t, 4, 3), np.float32)}


@pytest.mark.parametrize("compress", [0, 3])
def test_wham_tracks_load_back(tmp_path, random_clip, standing_clip, compress):
    j0 = Skeleton.default().pelvis_rest
    results = collections.defaultdict(dict)
    results[1] = _to_wham(random_clip, j0, np.zeros(10))
    results[4] = _to_wham(standing_clip, j0, np.zeros(10))
    results[9] = {"pose_world": np.zeros((1, 72)), "trans_world": np.zeros((1, 3)), "betas": np.zeros((1, 10)),
                  "frame_ids": np.array([3])}  # too short: skipped
    path = tmp_path / "wham_output.pkl"
    joblib.dump(results, path, compress=compress)
    with pytest.warns(UserWarning, match="track 9"):
        clips = load_wham(path, fps=30.0)
    assert [c.meta["track_id"] for c in clips] == [1, 4]
    assert all(c.meta[ESTIMATE_META] == "wham" for c in clips)  # the clean-up treats them as estimates
    for src, got in zip((random_clip, standing_clip), clips):
        assert got.fps == 30.0 and got.meta["frame_ids"] == [10, 10 + src.num_frames - 1]
        # put on the estimated floor: a vertical shift, recorded in meta
        shift = got.meta[FLOOR_META]["shift_m"]
        np.testing.assert_allclose(got.positions(), src.positions() + [0.0, 0.0, shift], atol=1e-5)  # float32 poses
    assert abs(clips[1].meta[FLOOR_META]["shift_m"]) < 0.01  # the standing clip was on the floor already
    raw = read_wham(path, fps=30.0, ground=False).clips  # WHAM's own world height
    np.testing.assert_allclose(raw[0].positions(), random_clip.positions(), atol=1e-5)
    assert FLOOR_META not in raw[0].meta
    # the standing clip is upright in our z-up world after the conversion
    pos = clips[1].positions()
    assert np.all(pos[:, 15, 2] > pos[:, 0, 2] + 0.3)
    res = read_wham(path, fps=30.0)
    assert res.skipped == [{"track_id": 9, "reason": "only 1 frame(s)"}]


def _wham_file(tmp_path, clip: Motion, name: str = "wham_output.pkl"):
    path = tmp_path / name
    joblib.dump({0: _to_wham(clip, Skeleton.default().pelvis_rest, np.zeros(10))}, path)
    return path


def _lowest(clip: Motion) -> np.ndarray:
    """(T,) the body's lowest point per frame (the posed collision shapes)."""
    return M.ground_heights(*clip.joints()).min(axis=1)


@pytest.mark.parametrize("offset,glitch", [(-1.14, False), (0.5, False), (-1.14, True)])
def test_wham_clip_is_put_on_the_floor(tmp_path, offset, glitch):
    """WHAM's world origin is the first frame's pelvis: a walk on the floor comes out 1.14 m below it
    (real WHAM output) or above it. At ingest it lands on the floor; a few frames of an estimate far
    below (``glitch``) do not move the floor."""
    walk = make_walking_clip(seconds=3.0)  # its lowest point touches z = 0 in every frame
    trans = walk.trans + [0.0, 0.0, offset]
    if glitch:
        trans[40:43, 2] -= 0.6
    (clip,) = load_wham(_wham_file(tmp_path, walk.copy(trans=trans)), fps=30.0)
    floor = clip.meta[FLOOR_META]
    assert floor["from"] == "planted feet" and floor["frames"] >= 10
    assert abs(floor["shift_m"] + offset) < 0.005
    low = np.delete(_lowest(clip), range(40, 43) if glitch else [])
    assert np.abs(low).max() < 0.01  # on the floor in every frame
    assert M.plausibility(clip)["penetration_mm"] < (60.0 if glitch else 1.0)  # 3 glitch frames of 90: ~0.6 m


def _jump(frames_before: int = 30, flight_s: float = 0.5, frames_after: int = 30) -> tuple[Motion, slice]:
    """A standing body that jumps straight up (a ballistic flight of ``flight_s``) and lands."""
    fps = 30.0
    stand = make_standing_clip(frames_before + int(flight_s * fps) + frames_after, fps)
    t = (np.arange(stand.num_frames) - frames_before) / fps
    rise = np.where((t > 0) & (t < flight_s), 0.5 * 9.81 * t * (flight_s - t), 0.0)  # apex 0.31 m
    flight = slice(frames_before + 1, frames_before + int(flight_s * fps))
    return stand.copy(trans=stand.trans + np.c_[0 * rise, 0 * rise, rise]), flight


def test_wham_jump_keeps_its_flight(tmp_path):
    """A jump is put on the floor by its standing frames: the flight stays in the air."""
    jump, flight = _jump()
    floor0 = float(np.median(_lowest(jump)[: flight.start - 1]))  # where the source's feet stand
    (clip,) = load_wham(_wham_file(tmp_path, jump.copy(trans=jump.trans - [0.0, 0.0, 1.14])), fps=30.0)
    assert clip.meta[FLOOR_META]["from"] == "planted feet"
    assert abs(clip.meta[FLOOR_META]["shift_m"] - (1.14 - floor0)) < 0.005
    low = _lowest(clip)
    assert np.abs(np.r_[low[: flight.start - 1], low[flight.stop + 1 :]]).max() < 0.005
    assert low[flight].max() > 0.28  # the apex, 0.31 m up, is not pulled down to the floor


def test_wham_clip_all_in_the_air(tmp_path):
    """A track that is all flight (its feet are never planted) puts its lowest points on the floor."""
    jump, flight = _jump()
    part = slice(flight.start + 2, flight.stop - 2)
    air = jump[part].copy(trans=jump.trans[part] + [0.0, 0.0, 0.5])
    (clip,) = load_wham(_wham_file(tmp_path, air), fps=30.0)
    assert clip.meta[FLOOR_META]["from"] == "lowest points"
    low = _lowest(clip)
    assert -0.01 < low.min() and np.percentile(low, 5) == pytest.approx(0.0, abs=1e-6)
    assert M.plausibility(clip)["penetration_mm"] < 1.0


def test_wham_with_model_matches_smplx_in_y_up(tmp_path, rng):
    """Build WHAM arrays directly in y-up, pose them with smplx's lbs, rotate the
    joints to z-up: the loaded clip must give the same joints."""
    arrays = synthetic_smpl_arrays()
    model = write_chumpy_pkl(tmp_path / "model.pkl", arrays)
    t = 8
    betas = rng.normal(scale=0.5, size=(t, 10))
    pose = rng.normal(scale=0.3, size=(t, 72))
    trans = rng.normal(size=(t, 3))
    path = tmp_path / "w.pkl"
    joblib.dump({0: {"pose_world": pose, "trans_world": trans, "betas": betas, "frame_ids": np.arange(t)}}, path)
    (clip,) = load_wham(path, fps=25.0, smpl_model=model, ground=False)  # WHAM's world, as smplx poses it
    expected_yup = _smplx_joints(arrays, betas.mean(0), pose, trans)
    np.testing.assert_allclose(clip.positions(), expected_yup @ ZUP_TO_YUP, atol=1e-9)  # inverse rotation
    np.testing.assert_allclose(clip.betas, betas.mean(0))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_wham_malicious_pickle_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "wham_output.pkl"
    joblib.dump({0: {"pose_world": np.zeros((3, 72)), "trans_world": np.zeros((3, 3)), "x": _Evil(marker)}}, path)
    with pytest.raises(MotionError, match=r"wham_output\.pkl.*system"):
        load_wham(path, fps=30)
    assert not marker.exists()


def test_wham_errors(tmp_path):
    path = tmp_path / "w.pkl"
    joblib.dump({0: {"pose_world": np.zeros((3, 72)), "trans_world": np.zeros((3, 3))}}, path)
    for fps in (0, -5, float("nan")):
        with pytest.raises(MotionError, match="fps must be > 0"):
            load_wham(path, fps=fps)
    joblib.dump({0: {"pose_world": np.zeros((1, 72)), "trans_world": np.zeros((1, 3))}}, path)
    with pytest.raises(MotionError, match="no usable track"):
        load_wham(path, fps=30)
    joblib.dump({0: {"pose": np.zeros((3, 72))}}, path)
    with pytest.raises(MotionError, match="lacks 'pose_world'"):
        load_wham(path, fps=30)
    joblib.dump({0: {"pose_world": np.zeros((3, 69)), "trans_world": np.zeros((3, 3))}}, path)
    with pytest.raises(MotionError, match=r"track 0: pose_world must have shape"):
        load_wham(path, fps=30)
    joblib.dump([1, 2], path)
    with pytest.raises(MotionError, match="dict of tracks"):
        load_wham(path, fps=30)
