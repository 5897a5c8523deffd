"""SMPL-D135: layout, exact round trip, canonicalisation, torch decoder, statistics."""

import json

import numpy as np
import pytest
import torch

from motionlib.cli.main import main
from motionlib.motion import Motion, save_motion
from motionlib.motion import features as F
from motionlib.motion import rotations as R
from motionlib.motion.feature_stats import FeatureStats, StatsAccumulator


def _long_clip(rng, T=3000):
    t = np.arange(T) / 30.0
    aa = 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 1.5, (1, 24, 3)) * t[:, None, None] + rng.uniform(0, 6, (1, 24, 3)))
    from motionlib.motion.skeleton import SMPL_TO_ZUP

    q = R.axis_angle_to_quat(aa)
    q[:, 0] = R.matrix_to_quat(R.rot_z(0.3 * t + 2.0) @ SMPL_TO_ZUP @ R.quat_to_matrix(q[:, 0]))
    trans = np.stack([5 + np.cumsum(np.cos(0.3 * t)) / 30, -3 + np.cumsum(np.sin(0.3 * t)) / 30,
                      0.9 + 0.05 * np.sin(t)], -1)
    return Motion(30.0, trans, q, body_scale=1.07)


def test_layout_and_roundtrip(random_clip):
    feats, origin = F.encode(random_clip)
    assert feats.shape == (random_clip.num_frames, 135) and feats.dtype == np.float32
    assert F.joint_slice(1) == slice(9, 15) and F.joint_slice(21) == slice(129, 135)
    assert np.allclose(feats[:, F.ROOT_H][:, 0], random_clip.trans[:, 2], atol=1e-6)
    # hand-made: the 6D of joint 5 is the first two columns of its local rotation
    m = random_clip.rotmats()[:, 5]
    assert np.allclose(feats[:, F.joint_slice(5)], np.concatenate([m[:, :, 0], m[:, :, 1]], -1), atol=1e-6)
    err = F.roundtrip_error(random_clip)
    assert err["max_joint_err_m"] < 1e-4 and err["max_rot_err_rad"] < 1e-5


def test_long_clip_does_not_drift(rng):
    clip = _long_clip(rng)
    err = F.roundtrip_error(clip)
    assert err["max_joint_err_m"] < 1e-4, err
    assert err["max_rot_err_rad"] < 1e-5


def test_features_are_canonical(random_clip):
    """Turning and moving the whole clip changes only the stored origin."""
    yaw, shift = 1.1, np.array([3.0, -2.0, 0.0])
    rz = R.rot_z(yaw)
    moved = random_clip.copy(trans=random_clip.trans @ rz.T + shift,
                             rotations=R.matrix_to_quat(rz @ random_clip.rotmats()[:, 0])[:, None].repeat(24, 1))
    moved.rotations[:, 1:] = random_clip.rotations[:, 1:]
    f0, o0 = F.encode(random_clip)
    f1, o1 = F.encode(moved)
    assert np.abs(f0 - f1).max() < 1e-5
    assert np.isclose((o1["yaw"] - o0["yaw"] - yaw + np.pi) % (2 * np.pi) - np.pi, 0, atol=1e-9)
    canon = F.decode(f1, moved.fps)  # no origin: starts at the origin facing +x
    assert np.allclose(canon.trans[0, :2], 0, atol=1e-9)


def test_hands_are_identity_on_decode(random_clip):
    feats, origin = F.encode(random_clip)
    back = F.decode(feats, random_clip.fps, origin)
    assert np.allclose(np.abs(back.rotations[:, 22:, 0]), 1.0)
    assert np.abs(back.positions() - random_clip.positions()).max() < 1e-4


def test_torch_decoder_matches_numpy_and_has_gradients(random_clip):
    feats, _ = F.encode(random_clip)
    off = torch.tensor(random_clip.skeleton().offsets)
    x = torch.tensor(feats[None], dtype=torch.float64, requires_grad=True)
    pos = F.decode_positions_t(x, off, random_clip.fps)
    ref = F.positions_numpy(feats, random_clip.skeleton().offsets, random_clip.fps)
    assert np.abs(pos[0].detach().numpy() - ref).max() < 1e-9
    pos.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_bad_feature_shape():
    with pytest.raises(ValueError, match=r"\(T, 135\)"):
        F.decode(np.zeros((10, 134)), 30.0)


def test_stats_streaming_and_save(tmp_path, rng, random_clip):
    a, b = rng.normal(size=(100, 135)), rng.normal(loc=2.0, size=(50, 135))
    acc = StatsAccumulator()
    acc.add(a)
    acc.add(b)
    st = acc.result(std_floor=1e-6)
    both = np.concatenate([a, b])
    assert np.allclose(st.mean, both.mean(0)) and np.allclose(st.std, both.std(0))
    assert np.allclose(st.denormalize(st.normalize(both)), both)
    const = StatsAccumulator()
    const.add(np.ones((10, 135)))
    assert const.result().std.min() == pytest.approx(1e-2)
    path = st.save(tmp_path / "stats.npz")
    back = FeatureStats.load(path)
    assert np.array_equal(back.mean, st.mean) and back.frames == 150 and back.clips == 2


def test_cli_check_and_stats(tmp_path, random_clip, capsys):
    save_motion(random_clip, tmp_path / "clips" / "a.npz")
    save_motion(random_clip.mirrored(), tmp_path / "clips" / "b.npz")
    assert main(["features", str(tmp_path / "clips" / "a.npz"), "--check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["roundtrip_max_joint_err_m"] < 1e-4 and out["frames"] == random_clip.num_frames
    assert main(["features", str(tmp_path / "clips"), "--stats", "--out", str(tmp_path / "s.npz"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert FeatureStats.load(tmp_path / "s.npz").clips == 2 and out["clips"] == 2
