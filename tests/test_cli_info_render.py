"""`motionlib info` and `motionlib render` run in-process: JSON contract,
figures consistent with the clip, files written, bad input -> exit code 2."""

import json

import numpy as np
import pytest

from motionlib.cli.main import main
from motionlib.motion.io import save_motion
from walk_fixture import make_walking_clip

INFO_KEYS = {"frames", "fps", "duration_s", "fit_error_mm", "penetration_mm", "float_mm", "skate_mm", "jitter",
             "bbox_min", "bbox_max", "texts"}


@pytest.fixture
def walk_file(tmp_path):
    clip = make_walking_clip(seconds=1.0)
    clip.meta["texts"] = {"captions": ["a person walks forward"], "body_parts": {"left_leg": ["the legs step"]}}
    path = tmp_path / "walk.npz"
    save_motion(clip, path)
    return path, clip


def test_info_json(walk_file, capsys):
    path, clip = walk_file
    assert main(["info", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object
    info = json.loads(out)
    assert INFO_KEYS <= set(info)
    assert info["frames"] == clip.num_frames == 31 and info["fps"] == 30.0
    assert info["duration_s"] == pytest.approx(1.0)
    assert info["fit_error_mm"] is None
    pos = clip.joints()[0].reshape(-1, 3)
    np.testing.assert_allclose(info["bbox_min"], pos.min(0), atol=1e-9)
    np.testing.assert_allclose(info["bbox_max"], pos.max(0), atol=1e-9)
    # soles on the floor: the lowest joint (a toe) sits its sole offset above z=0
    assert 0.0 < info["bbox_min"][2] < 0.03
    assert info["texts"] == clip.meta["texts"]
    for k in ("penetration_mm", "float_mm", "skate_mm", "jitter"):
        assert isinstance(info[k], float) and np.isfinite(info[k])
    assert info["penetration_mm"] < 5.0  # feet never go below z = 0


def test_info_reports_fit_error_and_text(walk_file, tmp_path, capsys):
    _, clip = walk_file
    clip.meta["fit_error_mm"] = 12.5
    path = tmp_path / "fit.npz"
    save_motion(clip, path)
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fit_error_mm"] == 12.5
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "31 at 30 fps" in text and "12.5 mm" in text and "a person walks forward" in text


@pytest.mark.parametrize("command", ["info", "render"])
def test_bad_input_exits_2_naming_the_file(tmp_path, capsys, command):
    extra = ["-o", str(tmp_path / "x.mp4")] if command == "render" else []
    missing = tmp_path / "missing.npz"
    assert main([command, str(missing), *extra]) == 2
    assert "missing.npz" in capsys.readouterr().err
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip at all")
    assert main([command, str(garbage), *extra]) == 2
    assert "garbage.npz" in capsys.readouterr().err
    other = tmp_path / "arrays.npz"
    np.savez(other, x=np.zeros(3))
    assert main([command, str(other), *extra]) == 2
    assert "arrays.npz" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()


def test_render_video_and_still(walk_file, tmp_path, capsys):
    import imageio.v3 as iio

    path, clip = walk_file
    out, png = tmp_path / "v.mp4", tmp_path / "s.png"
    rc = main(["render", str(path), str(path), "-o", str(out), "--stride", "3", "--size", "320x160",
               "--frame", "10", "--png", str(png), "--fixed", "--caption", "--titles", "before", "after", "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["frames"] == 11 and res["size"] == [320, 160] and res["fps"] == pytest.approx(10.0)
    frames = list(iio.imiter(out, extension=".mp4"))
    assert len(frames) == 11 and frames[0].shape == (160, 320, 3)
    img = iio.imread(png)
    assert img.shape[:2] == (160, 320) and (img[..., :3] < 200).any()


def test_render_needs_an_output(walk_file, capsys):
    path, _ = walk_file
    assert main(["render", str(path)]) == 2
    assert "-o" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["render", str(path), "-o", "x.mp4", "--follow", "--fixed"])
