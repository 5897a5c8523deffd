"""Offscreen skeleton rendering: one clip or several side by side to .mp4, or a
single still to .png (matplotlib Agg + imageio-ffmpeg; no display needed).

Each panel is a perspective 3D view of the z-up world: bones as thick
round-capped strokes (left side blue, right side red, spine/head grey), a head
marker, a ground grid on z = 0, the pelvis ground shadow and its trajectory.
The camera follows the pelvis (``follow=True``) or frames the whole clip.
Several clips share one clock (frame k shows time k * stride / fps of the
first clip in every panel; shorter clips hold their last frame).

Speed: the figure and its artists are built once; per frame only the artists'
data change (``set_data_3d``) before one ``canvas.draw()``.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .atomic import atomic_path
from .clip import Motion
from .errors import MotionError
from .skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS

LEFT_COLOR, RIGHT_COLOR, CENTER_COLOR = "#1f5fbf", "#d0312d", "#555555"
HEAD = 15


@dataclass
class RenderConfig:
    """How to render. ``size`` is the whole frame in pixels (rounded down to
    even numbers for the H.264 encoder); ``fps`` is the playback rate of the
    video (default: clip fps / stride, i.e. real time)."""

    size: tuple[int, int] = (640, 480)
    fps: float | None = None
    stride: int = 1
    follow: bool = True
    radius: float = 1.2  # half-width of the followed view, metres
    height: float = 1.9  # top of the view, metres
    elev: float = 12.0
    zoom: float = 1.45
    azim: float = -62.0
    grid_step: float = 0.5
    bone_width: float = 5.0
    dpi: int = 100
    trajectory: bool = True

    def __post_init__(self) -> None:
        self.size, self.stride = checked_video_options(self.size, self.stride, self.fps)


def checked_video_options(size, stride, fps) -> tuple[tuple[int, int], int]:
    """(size rounded down to even pixels, stride as int) of a video's options; ValueError for a size under
    64x64 pixels, a stride under 1 or an fps (None: the clip's) that is not > 0."""
    w, h = (int(v) for v in size)
    if w < 64 or h < 64:
        raise ValueError(f"render size must be at least 64x64 pixels, got {w}x{h}")
    if int(stride) < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be > 0, got {fps}")
    return (w - w % 2, h - h % 2), int(stride)


def parse_size(text: str) -> tuple[int, int]:
    """'640x480' -> (640, 480)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size must look like WIDTHxHEIGHT (e.g. 640x480), got {text!r}") from None
    return w, h


def _bones() -> dict[str, list[tuple[int, int]]]:
    sides: dict[str, list[tuple[int, int]]] = {"left": [], "right": [], "center": []}
    for j in range(1, len(SMPL_PARENTS)):
        name = SMPL_JOINT_NAMES[j]
        side = "left" if name.startswith("left") else "right" if name.startswith("right") else "center"
        sides[side].append((SMPL_PARENTS[j], j))
    return sides


BONES = _bones()


def _segments(pos: np.ndarray, bones: list[tuple[int, int]]) -> np.ndarray:
    """(3, 3 * n_bones) coordinates: parent, child, NaN break per bone."""
    out = np.full((len(bones), 3, 3), np.nan)
    idx = np.array(bones)
    out[:, 0] = pos[idx[:, 0]]
    out[:, 1] = pos[idx[:, 1]]
    return out.reshape(-1, 3).T


def _grid_lines(x0: float, x1: float, y0: float, y1: float, step: float) -> np.ndarray:
    """Ground lines on world multiples of ``step`` inside the rectangle (NaN-separated)."""
    xs = np.arange(np.ceil(x0 / step), np.floor(x1 / step) + 1) * step
    ys = np.arange(np.ceil(y0 / step), np.floor(y1 / step) + 1) * step
    pts = []
    for x in xs:
        pts += [(x, y0, 0.0), (x, y1, 0.0), (np.nan, np.nan, np.nan)]
    for y in ys:
        pts += [(x0, y, 0.0), (x1, y, 0.0), (np.nan, np.nan, np.nan)]
    return np.array(pts).T if pts else np.full((3, 1), np.nan)


def clip_name(clip: Motion) -> str:
    src = clip.source
    return Path(str(src).split(":")[-1]).stem if src else "clip"


class _Panel:
    """One clip in one 3D axes; artists are created once and updated per frame."""

    def __init__(self, fig, rect, clip: Motion, cfg: RenderConfig, title: str | None) -> None:
        self.clip, self.cfg = clip, cfg
        self.pos = clip.joints()[0]
        self.name = title or clip_name(clip)
        ax = fig.add_axes(rect, projection="3d")
        self.ax = ax
        ax.set_axis_off()
        ax.computed_zorder = False
        ax.view_init(elev=cfg.elev, azim=cfg.azim)
        ax.set_proj_type("persp", focal_length=0.35)
        el, az = np.radians(cfg.elev), np.radians(cfg.azim)
        self.eye = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        lo, hi = self.pos.min(axis=(0, 1)), self.pos.max(axis=(0, 1))
        if cfg.follow:
            self.half = cfg.radius
            self.ztop = max(cfg.height, float(hi[2]) + 0.1)
        else:
            centre = (lo[:2] + hi[:2]) / 2
            self.half = max(float(np.max(hi[:2] - lo[:2])) / 2 + 0.5, cfg.radius)
            self.ztop = max(cfg.height, float(hi[2]) + 0.1)
            self._set_view(centre)
        ax.set_box_aspect((2 * self.half, 2 * self.half, self.ztop), zoom=self.cfg.zoom)
        lw = cfg.bone_width * cfg.size[1] / 480
        self.grid = ax.plot([], [], [], color="#b8b8b8", lw=0.8, zorder=1)[0]
        self.traj = ax.plot([], [], [], color="#7a7a7a", lw=1.2, alpha=0.8, zorder=2)[0]
        self.shadow = ax.plot([], [], [], "o", color="black", alpha=0.22, ms=4.0 * lw, mec="none", zorder=3)[0]
        self.bones = {side: ax.plot([], [], [], color=c, lw=lw, solid_capstyle="round",
                                    solid_joinstyle="round", zorder=5)[0]
                      for side, c in (("left", LEFT_COLOR), ("right", RIGHT_COLOR), ("center", CENTER_COLOR))}
        self.head = ax.plot([], [], [], "o", color=CENTER_COLOR, ms=3.2 * lw, mec="#333333", zorder=7)[0]
        self.label = ax.text2D(0.5, 0.97, "", transform=ax.transAxes, ha="center", va="top", fontsize=10)
        if not cfg.follow:
            self.grid.set_data_3d(*_grid_lines(*self.xlim, *self.ylim, cfg.grid_step))

    def _set_view(self, centre: np.ndarray) -> None:
        h = self.half if hasattr(self, "half") else self.cfg.radius
        self.xlim = (float(centre[0] - h), float(centre[0] + h))
        self.ylim = (float(centre[1] - h), float(centre[1] + h))
        self.ax.set_xlim(*self.xlim)
        self.ax.set_ylim(*self.ylim)
        self.ax.set_zlim(0.0, self.ztop)

    def frame_at(self, t: float) -> int:
        return int(min(round(t * self.clip.fps), self.clip.num_frames - 1))

    def update(self, t: float) -> None:
        f = self.frame_at(t)
        p = self.pos[f]
        root = p[0]
        if self.cfg.follow:
            self._set_view(root[:2])
            self.grid.set_data_3d(*_grid_lines(*self.xlim, *self.ylim, self.cfg.grid_step))
        if self.cfg.trajectory:
            tr = self.pos[: f + 1, 0].copy()
            tr[:, 2] = 0.0
            out = ((tr[:, 0] < self.xlim[0]) | (tr[:, 0] > self.xlim[1])
                   | (tr[:, 1] < self.ylim[0]) | (tr[:, 1] > self.ylim[1]))
            tr[out] = np.nan
            self.traj.set_data_3d(tr[:, 0], tr[:, 1], tr[:, 2])
        self.shadow.set_data_3d([root[0]], [root[1]], [0.0])
        depth = {}
        for side, line in self.bones.items():
            seg = _segments(p, BONES[side])
            line.set_data_3d(seg[0], seg[1], seg[2])
            depth[side] = float(np.nanmean(seg.T @ self.eye))
        # painter's order: the side nearer the camera is drawn last
        near, far = ("left", "right") if depth["left"] > depth["right"] else ("right", "left")
        self.bones[far].set_zorder(4)
        self.bones["center"].set_zorder(5)
        self.bones[near].set_zorder(6)
        neck_dir = p[HEAD] - p[12]
        head = p[HEAD] + 0.5 * neck_dir
        self.head.set_data_3d([head[0]], [head[1]], [head[2]])
        self.label.set_text(f"{self.name}   frame {f}/{self.clip.num_frames - 1}")


class SkeletonRenderer:
    """A figure with one panel per clip, reused for every frame."""

    def __init__(self, clips: Sequence[Motion], cfg: RenderConfig | None = None,
                 titles: Sequence[str] | None = None, caption: str | None = None) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if not clips:
            raise MotionError("nothing to render (no clips given)")
        self.cfg = cfg or RenderConfig()
        self.clips = list(clips)
        w, h = self.cfg.size
        self.fig = Figure(figsize=(w / self.cfg.dpi, h / self.cfg.dpi), dpi=self.cfg.dpi, facecolor="white")
        self.canvas = FigureCanvasAgg(self.fig)
        n = len(self.clips)
        bottom = 0.09 if caption else 0.03
        self.panels = [
            _Panel(self.fig, (i / n, bottom, 1.0 / n, 0.93 - bottom), c, self.cfg,
                   titles[i] if titles and i < len(titles) else None)
            for i, c in enumerate(self.clips)
        ]
        self.clock = self.fig.text(0.5, 0.985, "", ha="center", va="top", fontsize=11, weight="bold")
        if caption:
            width = max(20, int(w / 7.5))
            self.fig.text(0.5, 0.015, textwrap.shorten(caption, width * 2, placeholder="..."),
                          ha="center", va="bottom", fontsize=10, style="italic", wrap=True)
        self.base_fps = self.clips[0].fps
        self.duration = max(c.duration for c in self.clips)

    def frame_times(self) -> np.ndarray:
        n = int(np.floor(self.duration * self.base_fps / self.cfg.stride + 1e-6)) + 1
        return np.arange(n) * self.cfg.stride / self.base_fps

    def draw(self, t: float) -> np.ndarray:
        """Render time ``t`` (seconds) and return the (H, W, 3) uint8 image."""
        for p in self.panels:
            p.update(t)
        frame = self.panels[0].frame_at(t)
        self.clock.set_text(f"t = {t:5.2f} s   (frame {frame})")
        self.canvas.draw()
        return np.ascontiguousarray(np.asarray(self.canvas.buffer_rgba())[..., :3])

    def close(self) -> None:
        self.fig.clear()


def render_video(clips: Motion | Sequence[Motion], path: str | Path, cfg: RenderConfig | None = None,
                 titles: Sequence[str] | None = None, caption: str | None = None,
                 progress: bool = True) -> dict:
    """Render ``clips`` (one, or several side by side) to an .mp4 at ``path``
    (written atomically). Returns ``{"path", "frames", "fps", "size", "seconds"}``."""
    clips = [clips] if isinstance(clips, Motion) else list(clips)
    cfg = cfg or RenderConfig()
    r = SkeletonRenderer(clips, cfg, titles, caption)
    times = r.frame_times()
    fps = cfg.fps or r.base_fps / cfg.stride
    try:
        return write_mp4(path, cfg.size, fps, (r.draw(float(t)) for t in times), len(times), progress)
    finally:
        r.close()


def write_mp4(path: str | Path, size: Sequence[int], fps: float, images, count: int, progress: bool = True) -> dict:
    """Encode ``count`` RGB images (H, W, 3 uint8, ``size`` = (W, H)) from the iterable ``images`` into the
    H.264 .mp4 ``path``, atomically, with a progress bar. Returns ``{"path", "frames", "fps", "size",
    "seconds", "render_fps"}`` (the rate counts the drawing the iterable does)."""
    import time

    import imageio_ffmpeg
    from tqdm import tqdm

    path = Path(path)
    t0 = time.perf_counter()
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(str(tmp), tuple(size), fps=fps, codec="libx264", macro_block_size=2,
                                             quality=7, ffmpeg_log_level="error", output_params=["-f", "mp4"])
        writer.send(None)
        try:
            for img in tqdm(images, total=count, desc=f"render {path.name}", unit="frame", disable=not progress):
                writer.send(img)
        finally:
            writer.close()
    secs = time.perf_counter() - t0
    return {"path": str(path), "frames": int(count), "fps": float(fps), "size": list(size),
            "seconds": secs, "render_fps": count / max(secs, 1e-9)}


def render_frame_png(clip: Motion | Sequence[Motion], frame: int, path: str | Path,
                     cfg: RenderConfig | None = None, titles: Sequence[str] | None = None,
                     caption: str | None = None) -> Path:
    """Save one still of ``frame`` (of the first clip; others at the same time) as PNG."""
    clips = [clip] if isinstance(clip, Motion) else list(clip)
    n = clips[0].num_frames
    if not -n <= frame < n:
        raise MotionError(f"frame {frame} is out of range (clip has {n} frames)", clips[0].source)
    frame = frame % n
    r = SkeletonRenderer(clips, cfg, titles, caption)
    try:
        img = r.draw(frame / r.base_fps)
    finally:
        r.close()
    return write_png(path, img)


def write_png(path: str | Path, img) -> Path:
    """Save the RGB image ``img`` as the PNG ``path``, atomically."""
    import imageio.v3 as iio

    path = Path(path)
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, img, extension=".png")
    return path
