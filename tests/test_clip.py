import numpy as np
import pytest

from motionlib.motion import Motion, MotionError, load_motion, save_motion
from motionlib.motion import rotations as R
from motionlib.motion.skeleton import SMPL_MIRROR


def _clip(T=10, fps=30.0, **kw):
    return Motion(fps, np.zeros((T, 3)), R.quat_identity((T, 24)), **kw)


@pytest.mark.parametrize("kw,msg", [
    (dict(fps=0), "fps must be > 0"),
    (dict(fps=-5), "fps must be > 0"),
    (dict(T=1), "at least 2 frames"),
    (dict(T=0), "at least 2 frames"),
])
def test_validation_errors(kw, msg):
    with pytest.raises(MotionError, match=msg):
        _clip(**kw)


def test_validation_shapes_nan_and_norms():
    q = R.quat_identity((5, 24))
    with pytest.raises(MotionError, match=r"trans must have shape"):
        Motion(30, np.zeros((5, 2)), q)
    with pytest.raises(MotionError, match=r"rotations must have shape"):
        Motion(30, np.zeros((5, 3)), q[:, :22])
    bad = np.zeros((5, 3)); bad[3, 1] = np.nan
    with pytest.raises(MotionError, match=r"NaN/inf.*frame 3"):
        Motion(30, bad, q, meta={"source": "x.bvh"})
    with pytest.raises(MotionError, match="not unit quaternions"):
        Motion(30, np.zeros((5, 3)), q * 1.5)
    with pytest.raises(MotionError, match="x.npz: .*gender"):
        Motion(30, np.zeros((5, 3)), q, gender="robot", meta={"source": "x.npz"})


def test_save_load_round_trip(tmp_path, random_clip):
    random_clip.meta["texts"] = {"captions": ["a person walks"], "body_parts": {"left_leg": ["steps"]}}
    path = save_motion(random_clip, tmp_path / "c.npz")
    back = load_motion(path)
    assert np.array_equal(back.trans, random_clip.trans)
    assert np.allclose(back.rotations, random_clip.rotations, atol=1e-15)
    assert back.meta["texts"] == random_clip.meta["texts"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_load_errors_name_the_file(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_bytes(b"not a zip")
    with pytest.raises(MotionError, match=r"junk.npz: not a readable .npz clip \(not a zip archive\)"):
        load_motion(p)
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(MotionError, match="other.npz: not a motionlib clip"):
        load_motion(tmp_path / "other.npz")
    c = _clip()
    np.savez(tmp_path / "nan.npz", format="motionlib.motion", version=1, fps=30.0,
             trans=np.full((4, 3), np.nan), rotations=R.quat_identity((4, 24)))
    with pytest.raises(MotionError, match="nan.npz: trans has NaN"):
        load_motion(tmp_path / "nan.npz")
    assert c.num_frames == 10


def test_resample_slerp_and_linear(random_clip):
    up = random_clip.resample(60.0)
    assert up.num_frames == 2 * random_clip.num_frames - 1
    assert np.allclose(up.trans[::2], random_clip.trans)
    assert np.allclose(up.trans[1::2], 0.5 * (random_clip.trans[:-1] + random_clip.trans[1:]))
    mid = R.quat_slerp(random_clip.rotations[:-1], random_clip.rotations[1:], 0.5)
    assert np.allclose(np.abs(np.sum(up.rotations[1::2] * mid, -1)), 1, atol=1e-9)
    down = random_clip.resample(15.0)
    assert down.num_frames == 45 and np.allclose(down.trans, random_clip.trans[::2])
    assert abs(down.duration - 88 / 30) < 1e-9


def test_slice_concat(random_clip):
    part = random_clip[10:40]
    assert part.num_frames == 30 and np.array_equal(part.trans, random_clip.trans[10:40])
    with pytest.raises(MotionError):
        random_clip[5:6]
    both = Motion.concatenate([part, random_clip[40:]])
    assert np.array_equal(both.trans, random_clip.trans[10:])
    with pytest.raises(MotionError, match="resample first"):
        Motion.concatenate([part, part.resample(60)])


def test_mirror_reflects_positions(random_clip):
    p = random_clip.positions()
    pm = random_clip.mirrored().positions()
    assert np.allclose(pm, p[:, list(SMPL_MIRROR)] * [1, -1, 1], atol=1e-10)
    assert np.allclose(random_clip.mirrored().mirrored().positions(), p, atol=1e-10)


def test_reversed_plays_backwards(random_clip):
    r = random_clip.reversed()
    p = random_clip.positions()
    assert np.allclose(r.positions(), p[::-1], atol=1e-12) and r.meta["reversed"] is True
    # every velocity flips sign: a forward walk becomes a backward one
    assert np.allclose(np.diff(r.trans, axis=0), -np.diff(random_clip.trans, axis=0)[::-1])
    back = r.reversed()
    assert np.allclose(back.rotations, random_clip.rotations, atol=1e-12) and back.meta["reversed"] is False


def test_derived_clips_drop_the_feature_origin_and_leave_the_source_meta(random_clip):
    clip = random_clip.copy(meta={"source": "a.npz", "d135_origin": {"yaw": 0.1, "xy": [0, 0]}, "labels": {"c": 1}})
    for derived in (clip.reversed(), clip.mirrored(), clip.resample(15.0), Motion.concatenate([clip, clip])):
        assert "d135_origin" not in derived.meta and derived.meta["labels"] == {"c": 1}
        derived.meta["labels"]["c"] = 2  # a deep copy: the source clip's meta stays as it was
        assert clip.meta["labels"] == {"c": 1} and "d135_origin" in clip.meta


def test_a_saved_config_with_a_field_this_version_does_not_know_is_refused_by_name():
    from dataclasses import dataclass

    from motionlib.motion.config_fields import known_fields

    @dataclass
    class Cfg:
        a: int = 1

    assert known_fields(Cfg, {"a": 2}, "toy config") == {"a": 2}
    with pytest.raises(ValueError, match=r"unknown toy config field\(s\) \['b'\]"):
        known_fields(Cfg, {"a": 2, "b": 3}, "toy config")
