"""Video-estimation-like corruption of clean clips (the WHAM-artifact benchmark).

Monocular estimators such as WHAM produce motion that jitters, drifts,
floats or sinks, slides its feet and is noisy along the camera's depth axis.
``corrupt(clip, cfg, seed)`` adds each of these artifacts, reproducibly from a
seed, so that physics refinement can be scored against the known clean clip.

Artifacts (all sizes configurable, defaults chosen to resemble the errors
reported for video-based estimators, e.g. WHAM's ~60 mm world-frame jitter
and tens of cm of drift over long sequences):

* rotation jitter: white Gaussian noise on every joint's local rotation;
* global drift: a smooth random walk of the root in the ground plane;
* height offset: a constant offset plus a slow sway (floating if > 0,
  ground penetration if < 0);
* foot skating: a smooth horizontal wobble of the whole body that makes
  planted feet slide;
* depth noise: low-pass noise on the root along a random camera viewing
  direction.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass

import numpy as np

from . import rotations as R
from .clip import ESTIMATE_META, Motion


@dataclass
class CorruptConfig:
    rot_jitter_deg: float = 3.0  # std of per-frame, per-joint rotation noise
    drift_m_per_s: float = 0.05  # std of the root drift velocity random walk
    height_offset_m: float = 0.06  # |constant height offset|; sign drawn at random
    height_sway_m: float = 0.02  # amplitude of slow vertical sway
    skate_m: float = 0.04  # amplitude of horizontal wobble (foot sliding)
    skate_hz: float = 0.7
    depth_noise_m: float = 0.03  # std of low-pass noise along the camera axis
    depth_cutoff_hz: float = 3.0


def _lowpass_noise(rng: np.random.Generator, n: int, fps: float, cutoff_hz: float, dims: int) -> np.ndarray:
    """Unit-variance Gaussian noise low-passed with a moving average (~cutoff)."""
    width = max(1, int(round(fps / max(cutoff_hz, 1e-6))))
    x = rng.normal(size=(n + width, dims))
    kernel = np.ones(width) / width
    y = np.stack([np.convolve(x[:, d], kernel, mode="valid")[:n] for d in range(dims)], axis=-1)
    return y / max(y.std(), 1e-9)


def clip_seed(seed: int, name: str) -> int:
    """The corruption seed of the clip called ``name`` (file stem) in a run seeded ``seed``: each clip of a
    folder gets its own noise, the same on every rerun (``motionlib corrupt``)."""
    return seed * 1_000_003 + zlib.crc32(name.encode())


def corrupt(clip: Motion, cfg: CorruptConfig = CorruptConfig(), seed: int = 0) -> Motion:
    rng = np.random.default_rng(seed)
    t = clip.num_frames
    fps = clip.fps
    time_s = np.arange(t) / fps

    # rotation jitter on every joint (root included)
    noise = rng.normal(scale=np.radians(cfg.rot_jitter_deg), size=(t, 24, 3))
    rots = R.quat_mul(clip.rotations, R.axis_angle_to_quat(noise))

    trans = clip.trans.copy()
    # global drift: integrated smooth velocity
    vel = _lowpass_noise(rng, t, fps, 0.5, 2) * cfg.drift_m_per_s
    trans[:, :2] += np.cumsum(vel, axis=0) / fps
    # height offset (floating or penetration) + sway
    sign = rng.choice([-1.0, 1.0])
    phase = rng.uniform(0, 2 * np.pi)
    trans[:, 2] += sign * cfg.height_offset_m + cfg.height_sway_m * np.sin(2 * np.pi * 0.3 * time_s + phase)
    # foot skating: horizontal wobble of the whole body
    ph = rng.uniform(0, 2 * np.pi, size=2)
    trans[:, 0] += cfg.skate_m * np.sin(2 * np.pi * cfg.skate_hz * time_s + ph[0])
    trans[:, 1] += cfg.skate_m * np.sin(2 * np.pi * cfg.skate_hz * 1.3 * time_s + ph[1])
    # depth noise along a random camera direction in the ground plane
    yaw = rng.uniform(0, 2 * np.pi)
    cam = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    trans += _lowpass_noise(rng, t, fps, cfg.depth_cutoff_hz, 1) * cfg.depth_noise_m * cam

    # it stands in for a video estimate (ESTIMATE_META): refine's clean-up treats it as one
    meta = clip.derived_meta(corruption={"seed": int(seed), **asdict(cfg), "height_sign": float(sign)},
                             **{ESTIMATE_META: "motionlib corrupt"})
    return clip.copy(trans=trans, rotations=R.quat_fix_continuity(rots, axis=0), meta=meta)
