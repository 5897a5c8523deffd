"""Kinematic clean-up of estimated motion before physics refinement.

Video estimates (WHAM and the like) jitter from frame to frame and float above
or sink into the ground by a few centimetres that vary slowly. A tracking
policy started from such a reference begins in the air or in the floor, and
its finite-difference velocities are large; every restart after a loss brings
that state back. Three light filters, applied to the reference the policy tracks
(never to the clip the report calls "before"):

* ``smooth``: a Gaussian low-pass over time on the root translation and on
  every joint's rotation (quaternion components after a sign-continuity fix,
  renormalised; for the small kernels used here that is the usual
  approximation of a rotation average). WHAM itself reports ~60 mm world-frame
  jitter; a sigma of 1 frame at 30 fps keeps motion below ~5 Hz.
* ``ground``: put the feet back on the floor. Per frame, the lowest sole point
  (``metrics.sole_heights``, the surface contact is measured on) is the
  candidate floor contact; the floor offset is a low percentile of it over a
  sliding window (a walk or a run touches down at least every second, so the
  window finds contact frames), low-passed, and subtracted from the root
  height. Flight phases keep their height above that floor.
* ``unslide``: take the sliding of planted feet out of the root path. A foot
  that is low and slow is taken as planted (soft weights on its lowest sole
  point's height and speed); the root's horizontal velocity loses the
  weighted velocity of the planted feet, so a whole-body slide or drift
  during stance (what monocular depth and drift errors do) is undone. This is
  the contact-aware root refinement of WHAM (Shin et al., CVPR 2024, which
  subtracts the contact-weighted foot velocity from the root velocity), with
  contact inferred from the clip itself instead of a network. Summed over a
  clip, the small bias of rolling feet (heel strike, toe-off) would pull the
  whole path along; the accumulated correction is therefore high-passed, so
  the clip's path over several seconds stays its own.

The first and the last step are for estimates. On clean capture they cost
tracking: on the 174 dataset-1 mocap clips, tracked from frame 0 without
restarts by the shipped policy, success was 46.0% with no clean-up, 44.8%
grounded only, 37.9% with smoothing (+ grounding) or with unslide (+
grounding), and 33.9% with all three (docs/tracking.md). Smoothing rounds
off the swing leg's knee and lowers the swinging foot by about a centimetre,
so its toe catches the floor; unslide takes the rolling of real feet for
sliding. The clean-up therefore adapts (``adaptive``): ``rotation_noise_deg``
estimates the clip's white frame-to-frame rotation noise, and smoothing and
unslide apply in proportion to where that estimate falls between
``noise_ramp_deg`` (none below the first figure, in full above the second).
Clips known to be video estimates (the WHAM ingest and ``corrupt`` record
the estimator in the clip's meta) always get all of it. Grounding always applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from . import metrics as M
from . import rotations as R
from .clip import ESTIMATE_META, Motion
from .footlock import lock_feet


@dataclass
class CleanupConfig:
    # Defaults chosen on the WHAM-artifact benchmark (20 corrupted dataset-1 clips, see docs/tracking.md):
    # distance to the clean clip 189.9 -> 167.2 mm, float 36.0 -> 5.8 mm, penetration 17.7 -> 0.7 mm,
    # jitter 5,218 -> 215 m/s^3; a clean mocap clip moves by 8.1 mm (mostly the smoothing).
    # Unslide's, on other clips (the first 40 dataset-2 tracker clips, corrupted with seeds 100..139): the
    # reference 131.5 -> 125.5 mm from the clean clip, skate 36.5 -> 22.8 mm, jitter 205 -> 240 m/s^3; it moves
    # clean mocap by 12-22 mm in all (it takes part of the rolling of real feet for sliding).
    smooth_sigma_frames: float = 1.5  # Gaussian sigma on trans and rotations (0: off)
    ground: bool = True
    ground_window_s: float = 1.0  # sliding window of the floor estimate
    ground_percentile: float = 25.0  # of the lowest sole point over the window
    ground_smooth_s: float = 0.5  # sigma of the low-pass on the floor offset
    unslide: bool = True
    # a foot counts as planted below the first height / speed and not at all above the second (linear between);
    # speeds are those of the lowest sole point of the foot, m/s
    contact_height_m: tuple[float, float] = (0.03, 0.06)
    contact_speed_m_s: tuple[float, float] = (0.8, 1.6)
    unslide_highpass_s: float = 0.5  # sigma (s) of the low-pass subtracted from the accumulated correction
    unslide_smooth_frames: float = 1.0  # Gaussian sigma (frames) on the per-frame correction (less jerk, more skate)
    # foot locking (motion/footlock.py): off by default. It takes the reference's skate from 23.8 to 14.1 mm on
    # the WHAM-artifact benchmark, but the tracking policy's output did not follow (its own foot chatter
    # dominates; docs/tracking.md)
    footlock: bool = False
    # adaptive strength (see the module text): smoothing and unslide scale from 0 at the first figure of
    # ``noise_ramp_deg`` to 1 at the second. Measured with ``rotation_noise_deg``: all 2,793 Bandai capture clips
    # 0.01-0.96 deg (median 0.22; the highest are dashes); the same clips corrupted with 0.75 / 1.5 / 3 deg of
    # rotation jitter (``motionlib corrupt``'s default is 3) 0.75-1.38 / 1.43-2.02 / 2.83-3.44 deg
    adaptive: bool = True
    noise_ramp_deg: tuple[float, float] = (1.0, 2.0)


def gaussian_filter_time(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass along axis 0 with edge padding; ``sigma`` in samples (<= 0: copy)."""
    x = np.asarray(x, dtype=np.float64)
    if sigma <= 0 or x.shape[0] < 2:
        return x.copy()
    return ndimage.gaussian_filter1d(x, sigma, axis=0, mode="nearest")


def rotation_noise_deg(clip: Motion) -> float:
    """Estimated std (deg, per axis) of white noise on the joint rotations, from frame to frame.

    The per-frame rotation step of every joint (the rotation vector of ``q[t]^-1 q[t+1]``) is
    differenced twice more; white noise of std s per axis gives components of std sqrt(20) s there,
    while smooth motion gives little. The median absolute value over frames, joints and axes,
    / 0.6745, is a robust std: the finest-scale noise estimate of Donoho & Johnstone (1994), which
    isolated fast events (a foot strike) barely move. 0 for clips under 5 frames."""
    if clip.num_frames < 5:
        return 0.0
    q = R.quat_fix_continuity(clip.rotations, axis=0)
    step = R.quat_to_axis_angle(R.quat_mul(R.quat_conj(q[:-1]), q[1:]))  # (T-1, J, 3)
    d3 = np.diff(step, n=2, axis=0)
    return float(np.degrees(np.median(np.abs(d3)) / (0.6745 * np.sqrt(20.0))))


def cleanup_strength(clip: Motion, cfg: CleanupConfig = CleanupConfig(), noise_deg: float | None = None) -> float:
    """How much of the smoothing and the unslide ``clean_for_tracking`` applies to ``clip``, in [0, 1]:
    1 without ``cfg.adaptive`` or for a clip whose meta names the video estimator that made it
    (``ESTIMATE_META``, set by the WHAM ingest: a smooth estimate still floats, drifts and slides),
    else from its ``rotation_noise_deg`` (given, or estimated here): 0 at ``cfg.noise_ramp_deg[0]``, 1 at
    ``cfg.noise_ramp_deg[1]``."""
    if not cfg.adaptive or clip.meta.get(ESTIMATE_META):
        return 1.0
    noise = rotation_noise_deg(clip) if noise_deg is None else noise_deg
    return float(1.0 - M.ramp_down(np.float64(noise), *cfg.noise_ramp_deg))


def smooth(clip: Motion, sigma_frames: float) -> Motion:
    """Gaussian-smoothed root translation and joint rotations."""
    if sigma_frames <= 0:
        return clip
    q = R.quat_fix_continuity(clip.rotations, axis=0)
    q = R.quat_normalize(gaussian_filter_time(q, sigma_frames))
    return clip.copy(trans=gaussian_filter_time(clip.trans, sigma_frames), rotations=q)


def floor_offset(clip: Motion, window_s: float = 1.0, percentile: float = 25.0, smooth_s: float = 0.5) -> np.ndarray:
    """(T,) height of the floor the clip's soles imply at each frame (0 for a grounded clip)."""
    low = M.sole_heights(clip.positions(), M.body_scale_of(clip)).min(axis=1)
    size = 2 * max(1, int(round(window_s * clip.fps / 2))) + 1
    est = ndimage.percentile_filter(low, percentile, size=size, mode="nearest")
    return gaussian_filter_time(est, smooth_s * clip.fps)


def ground(clip: Motion, window_s: float = 1.0, percentile: float = 25.0, smooth_s: float = 0.5) -> Motion:
    """The clip shifted vertically, frame by frame, so its implied floor is at z = 0."""
    trans = clip.trans.copy()
    trans[:, 2] -= floor_offset(clip, window_s, percentile, smooth_s)
    return clip.copy(trans=trans)


def planted_feet(clip: Motion, height_m: tuple[float, float] = (0.03, 0.06),
                 speed_m_s: tuple[float, float] = (0.8, 1.6)) -> tuple[np.ndarray, np.ndarray]:
    """Per frame step t -> t+1 and foot (left, right): the weight in [0, 1] that the
    foot is planted, and the horizontal displacement (m) of its lowest sole point
    (ankle or toe, whichever is lower over the step). Shapes (T-1, 2), (T-1, 2, 2)."""
    pos = clip.positions()
    h = M.sole_heights(pos, M.body_scale_of(clip))  # (T, 4): ankles, then toes
    xy = pos[:, M.FOOT_JOINTS, :2]
    steps = np.arange(pos.shape[0] - 1)
    weights, disp = [], []
    for ankle, toe in M.FEET:  # left foot, right foot
        low = np.minimum(h[:-1, [ankle, toe]], h[1:, [ankle, toe]])  # (T-1, 2) over the step
        point = np.where(low[:, 0] <= low[:, 1], ankle, toe)
        d = xy[steps + 1, point] - xy[steps, point]
        speed = np.linalg.norm(d, axis=1) * clip.fps
        weights.append(M.ramp_down(low.min(axis=1), *height_m) * M.ramp_down(speed, *speed_m_s))
        disp.append(d)
    return np.stack(weights, axis=1), np.stack(disp, axis=1)


def unslide(clip: Motion, height_m: tuple[float, float] = (0.03, 0.06), speed_m_s: tuple[float, float] = (0.8, 1.6),
            highpass_s: float = 0.5, smooth_frames: float = 1.0, amount: float = 1.0) -> Motion:
    """The clip with the slide of its planted feet taken out of the root's horizontal path
    (``amount`` of that correction, 1: all of it)."""
    if clip.num_frames < 2 or amount <= 0:
        return clip
    w, d = planted_feet(clip, height_m, speed_m_s)
    # the weighted mean slide of the planted feet, in full once one foot is fully planted
    slide = (w[:, :, None] * d).sum(axis=1) / np.maximum(w.sum(axis=1), 1.0)[:, None]
    slide = gaussian_filter_time(slide, smooth_frames)  # contact weights switch within a frame: no jerk from it
    shift = np.concatenate([np.zeros((1, 2)), -np.cumsum(slide, axis=0)])
    if highpass_s > 0:
        shift -= gaussian_filter_time(shift, highpass_s * clip.fps)
    trans = clip.trans.copy()
    trans[:, :2] += amount * shift
    return clip.copy(trans=trans)


def clean_for_tracking(clip: Motion, cfg: CleanupConfig = CleanupConfig(), strength: float | None = None) -> Motion:
    """``smooth``, ``ground``, ``unslide``, then ``footlock`` (:mod:`footlock`), as configured;
    smoothing and unslide at ``strength`` (default: ``cleanup_strength(clip, cfg)``)."""
    s = cleanup_strength(clip, cfg) if strength is None else strength
    out = smooth(clip, cfg.smooth_sigma_frames * s)
    if cfg.ground:
        out = ground(out, cfg.ground_window_s, cfg.ground_percentile, cfg.ground_smooth_s)
    if cfg.unslide:
        out = unslide(out, cfg.contact_height_m, cfg.contact_speed_m_s, cfg.unslide_highpass_s,
                      cfg.unslide_smooth_frames, amount=s)
    if cfg.footlock:
        out = lock_feet(out, cfg.contact_height_m, cfg.contact_speed_m_s)
    return out
