"""Skeleton rendering: videos decode with the right frame count and size, stills
show the body where its joints project, side-by-side panels share one clock."""

import numpy as np
import pytest

from motionlib.motion.errors import MotionError
from motionlib.motion.metrics import ground_heights
from motionlib.motion.render import RenderConfig, SkeletonRenderer, render_frame_png, render_video
from walk_fixture import make_walking_clip

iio = pytest.importorskip("imageio.v3")


def _read_video(path):
    return [np.asarray(f) for f in iio.imiter(path, extension=".mp4")]


def test_walking_fixture_is_a_walk():
    clip = make_walking_clip(seconds=2.0)
    pos, glob = clip.joints()
    low = ground_heights(pos, glob)
    assert abs(low.min(axis=1)).max() < 1e-6  # the body touches the ground every frame
    assert set(low.argmin(axis=1)) <= {7, 8, 10, 11}  # with a foot
    assert (pos[:, 15, 2] > 1.2).all()  # upright: head well above the pelvis
    fwd = pos[:, 7, 0] - pos[:, 8, 0]  # left minus right ankle along the walking direction
    assert fwd.max() > 0.15 and fwd.min() < -0.15  # legs alternate
    assert clip.trans[-1, 0] - clip.trans[0, 0] > 1.5


def test_video_decodes_with_right_count_and_size(tmp_path):
    clip = make_walking_clip(seconds=1.0)  # 31 frames at 30 fps
    out = tmp_path / "walk.mp4"
    info = render_video(clip, out, RenderConfig(size=(161, 120), stride=2), progress=False)
    assert info["frames"] == 16 and info["size"] == [160, 120] and info["fps"] == pytest.approx(15.0)
    frames = _read_video(out)
    assert len(frames) == 16
    assert frames[0].shape == (120, 160, 3)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic: no temporary left behind


def test_side_by_side_shares_time(tmp_path):
    long, short = make_walking_clip(seconds=1.0), make_walking_clip(seconds=0.5)
    out = tmp_path / "pair.mp4"
    info = render_video([long, short], out, RenderConfig(size=(320, 160), fps=10), titles=["a", "b"], progress=False)
    frames = _read_video(out)
    assert len(frames) == info["frames"] == long.num_frames  # the longer clip sets the length
    assert frames[0].shape == (160, 320, 3)
    r = SkeletonRenderer([long, short], RenderConfig(size=(320, 160)))
    r.draw(long.duration)
    assert r.panels[1].frame_at(long.duration) == short.num_frames - 1  # the short clip holds its last frame


def _pixel_of(renderer, panel, point):
    from mpl_toolkits.mplot3d import proj3d

    ax = panel.ax
    x, y, _ = proj3d.proj_transform(*point, ax.get_proj())
    px, py = ax.transData.transform((x, y))
    return int(round(renderer.cfg.size[1] - py)), int(round(px))


def _near(img, rc, colour, radius=4, tol=60):
    r, c = rc
    patch = img[max(r - radius, 0): r + radius + 1, max(c - radius, 0): c + radius + 1].astype(int)
    return (np.abs(patch - np.array(colour)).sum(-1) < tol).any()


@pytest.mark.parametrize("follow", [True, False])
def test_still_shows_the_body_where_it_is(tmp_path, follow):
    clip = make_walking_clip(seconds=1.0)
    cfg = RenderConfig(size=(320, 240), follow=follow)
    path = render_frame_png(clip, 12, tmp_path / "still.png", cfg, caption="a person walks")
    img = iio.imread(path)[..., :3]
    assert img.shape == (240, 320, 3)
    r = SkeletonRenderer([clip], cfg, caption="a person walks")
    again = r.draw(12 / clip.fps)
    assert np.array_equal(again, img)  # the PNG is exactly the rendered frame
    panel = r.panels[0]
    pos = panel.pos[12]
    blue, red = (0x1F, 0x5F, 0xBF), (0xD0, 0x31, 0x2D)
    # the midpoints of the thighs are drawn in their side's colour
    assert _near(img, _pixel_of(r, panel, (pos[1] + pos[4]) / 2), blue)
    assert _near(img, _pixel_of(r, panel, (pos[2] + pos[5]) / 2), red)
    # far from the body (a corner of the sky) the image is white background
    assert (img[:20, :20] == 255).all()
    # the body occupies a reasonable number of pixels in each side colour
    for colour in (blue, red):
        assert (np.abs(img.astype(int) - np.array(colour)).sum(-1) < 60).sum() > 100
    # a later frame looks different (the body moved / legs swapped)
    other = r.draw(20 / clip.fps)
    assert (np.abs(other.astype(int) - img.astype(int)).sum(-1) > 100).sum() > 200


def test_follow_camera_keeps_the_walker_in_view():
    clip = make_walking_clip(seconds=3.0)
    r = SkeletonRenderer([clip], RenderConfig(size=(320, 240), follow=True))
    panel = r.panels[0]
    cols = []
    for f in (0, clip.num_frames - 1):
        r.draw(f / clip.fps)
        cols.append(_pixel_of(r, panel, panel.pos[f, 0])[1])
    assert abs(cols[0] - cols[1]) < 8  # the pelvis stays put on screen while it walks 3 m


def test_bad_render_arguments(tmp_path):
    clip = make_walking_clip(seconds=0.5)
    with pytest.raises(ValueError, match="stride"):
        RenderConfig(stride=0)
    with pytest.raises(ValueError, match="size"):
        RenderConfig(size=(10, 10))
    with pytest.raises(MotionError, match="out of range"):
        render_frame_png(clip, clip.num_frames, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
