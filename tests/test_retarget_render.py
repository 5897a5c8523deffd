"""Robot clips rendered by MuJoCo: videos of the right frame count and size, stills that show the robot
standing on the floor inside the frame, the human skeleton beside it, and the CLI (``render-robot``,
``retarget --video``). Skipped where no offscreen OpenGL context can be made."""

import json

import numpy as np
import pytest

from walk_fixture import make_walking_clip

from motionlib.motion.errors import MotionError
from motionlib.retarget.render import offscreen_gl_available

iio = pytest.importorskip("imageio.v3")
needs_gl = pytest.mark.skipif(not offscreen_gl_available(), reason="no offscreen OpenGL (EGL/OSMesa) here")


def test_no_offscreen_gl_is_a_clear_error(monkeypatch, tmp_path, capsys):
    """Every backend failing gives one error naming each attempt, and the CLI reports it without a trace."""
    from motionlib.cli.main import main
    from motionlib.retarget import render

    def fail(backend, width, height):
        raise ImportError(f"lib{backend} not found")

    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(render, "_make_context", fail)
    with pytest.raises(render.OffscreenGLError, match="egl: ImportError: libegl not found; osmesa"):
        render.open_gl_context(64, 64)
    assert not render.offscreen_gl_available()
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    with pytest.raises(render.OffscreenGLError, match="osmesa: ImportError") as e:
        render.open_gl_context(64, 64)
    assert "egl:" not in str(e.value)
    assert main(["retarget", str(tmp_path / "none.npz"), "--out", str(tmp_path), "--video"]) == 2
    assert "no offscreen OpenGL for MuJoCo" in capsys.readouterr().err


@pytest.fixture(scope="module")
def walk():
    """A 0.5 s walk (16 frames) and its G1 retarget."""
    from motionlib.retarget.description import load_description
    from motionlib.retarget.ik import Retargeter
    from motionlib.retarget.robot_clip import from_qpos

    human = make_walking_clip(0.5)
    rt = Retargeter(load_description("g1"))
    res = rt.run(human)
    return human, from_qpos(rt.robot, res.qpos, human.fps, {"retarget": {"robot": "g1"}})


def _read_video(path):
    return [np.asarray(f) for f in iio.imiter(path, extension=".mp4")]


@needs_gl
def test_video_frame_count_and_size(walk, tmp_path):
    from motionlib.retarget.render import RobotRenderConfig, render_robot_video

    _, clip = walk
    out = tmp_path / "walk_robot.mp4"
    info = render_robot_video(clip, out, RobotRenderConfig(size=(161, 120), stride=2), progress=False)
    assert info["frames"] == 8 and info["size"] == [160, 120] and info["fps"] == pytest.approx(15.0)
    frames = _read_video(out)
    assert len(frames) == 8 and frames[0].shape == (120, 160, 3)
    assert not np.array_equal(frames[0], frames[-1])  # the robot moves (and the camera with it)
    assert not list(tmp_path.glob(".*.tmp"))


def _robot_mask(renderer, f):
    """Pixels where the robot is: the frame against the same frame with the robot's geoms hidden."""
    from motionlib.retarget.render import VISUAL_GROUP

    with_robot = renderer.draw_frame(f).astype(int)
    renderer.opt.geomgroup[VISUAL_GROUP] = 0
    try:
        without = renderer.draw_frame(f).astype(int)
    finally:
        renderer.opt.geomgroup[VISUAL_GROUP] = 1
    return np.abs(with_robot - without).sum(axis=2) > 24


@needs_gl
@pytest.mark.parametrize("robot", ["g1", "h1"])
def test_still_shows_the_robot_on_the_floor_in_frame(robot, tmp_path):
    """A standing robot fills a good part of the frame, whole (not cut by an edge), horizontally centred,
    its feet in the lower part of the image; the PNG is that image."""
    from motionlib.retarget.description import load_description
    from motionlib.retarget.render import RobotRenderConfig, RobotRenderer, render_robot_png
    from motionlib.retarget.robot_clip import from_qpos
    from motionlib.retarget.robot_model import RobotModel

    model = RobotModel(load_description(robot))
    q = np.tile(model.desc.default_qpos(model.model), (3, 1))
    model.set_qpos(q[0])
    q[:, model.root_qpos + 2] -= model.lowest_point()  # feet on the floor
    q[:, model.root_qpos] += np.array([0.0, 0.3, 0.6])  # walking along +x
    clip = from_qpos(model, q, 30.0)
    cfg = RobotRenderConfig(size=(160, 120), label=False)
    r = RobotRenderer(clip, 160, 120, cfg)
    try:
        mask = _robot_mask(r, 2)
        still = r.draw_frame(2).copy()
    finally:
        r.close()
    rows, cols = np.nonzero(mask)
    assert mask.mean() > 0.03  # not all background
    assert rows.min() > 0 and rows.max() < 119 and cols.min() > 0 and cols.max() < 159  # whole robot in frame
    assert abs(cols.mean() - 80) < 20  # followed: centred
    assert rows.max() > 60  # its feet below the middle of the image (a camera looking slightly down)
    png = render_robot_png(clip, 2, tmp_path / "still.png", cfg)
    img = iio.imread(png)
    assert img.shape == (120, 160, 3) and np.array_equal(img, still)
    with pytest.raises(MotionError, match="out of range"):
        render_robot_png(clip, 3, tmp_path / "bad.png", cfg)


@needs_gl
def test_beside_the_human_skeleton(walk, tmp_path):
    from motionlib.motion.render import RenderConfig, SkeletonRenderer
    from motionlib.retarget.render import RobotRenderConfig, RobotVideoRenderer, render_robot_png

    human, clip = walk
    r = RobotVideoRenderer(clip, RobotRenderConfig(size=(320, 120)), human)
    try:
        img = r.draw(5)
        robot_only = r.robot.draw_frame(5).copy()
    finally:
        r.close()
    assert img.shape == (120, 320, 3)
    assert np.array_equal(img[:, :160], robot_only)
    skel = SkeletonRenderer([human], RenderConfig(size=(160, 120)))
    try:
        assert np.array_equal(img[:, 160:], skel.draw(5 / human.fps))
    finally:
        skel.close()
    with pytest.raises(MotionError, match="does not match"):
        render_robot_png(clip, 0, tmp_path / "x.png", RobotRenderConfig(size=(320, 120)), make_walking_clip(1.0))


@needs_gl
def test_cli_render_robot(walk, tmp_path, capsys):
    from dataclasses import replace

    from motionlib.cli.main import main
    from motionlib.motion.io import save_motion
    from motionlib.retarget.robot_clip import save_robot_clip, to_csv

    human, clip = walk
    hpath = save_motion(human, tmp_path / "walk.npz")
    clip = replace(clip, meta={"retarget": {"robot": "g1", "source": str(hpath)}})
    cpath = save_robot_clip(clip, tmp_path / "robot" / "walk.npz")
    rc = main(["render-robot", str(cpath), "--beside", "--png", str(tmp_path / "f.png"), "--frame", "3",
               "--size", "240x100", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["human"] == str(hpath) and iio.imread(tmp_path / "f.png").shape == (100, 240, 3)
    csv = to_csv(clip, tmp_path / "walk.csv")
    rc = main(["render-robot", str(csv), "--robot", "g1", "--fps", "30", "-o", str(tmp_path / "csv.mp4"),
               "--size", "96x96", "--stride", "4", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["frames"] == 4 and len(_read_video(tmp_path / "csv.mp4")) == 4
    assert main(["render-robot", str(csv), "-o", str(tmp_path / "no.mp4")]) == 2  # a CSV needs --robot, --fps
    assert "--robot" in capsys.readouterr().err


@needs_gl
def test_cli_retarget_video(walk, tmp_path, capsys):
    from motionlib.cli.main import main
    from motionlib.motion.io import save_motion

    human, _ = walk
    hpath = save_motion(human, tmp_path / "walk.npz")
    out = tmp_path / "out"
    rc = main(["retarget", str(hpath), "--robot", "g1", "--out", str(out), "--video", "side-by-side", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["videos"] == 1
    frames = _read_video(out / "walk_robot.mp4")
    assert len(frames) == human.num_frames and frames[0].shape == (480, 960, 3)
    stamp = (out / "walk_robot.mp4").stat().st_mtime_ns
    rc = main(["retarget", str(hpath), "--robot", "g1", "--out", str(out), "--video", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["kept"] == 1 and res["videos"] == 0  # a kept clip keeps its video
    assert (out / "walk_robot.mp4").stat().st_mtime_ns == stamp
