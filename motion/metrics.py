"""Kinematic plausibility and pose-error metrics, shared by every stage.

All lengths are reported in millimetres. Functions work on global joint
positions ``(T, 24, 3)`` (and rotations ``(T, 24, 3, 3)``) in metres (z-up,
ground plane z = 0), so a simulated trajectory can be scored exactly like a
kinematic clip;
``plausibility(motion)`` / ``compare(a, b)`` wrap them for Motion clips.

Ground contact is measured on the body's shape, not on its joints: SMPL's
ankle and toe joints sit above the skin, and a foot on its toes reaches the
floor with the front of the foot while its joints are high. The shape is the
humanoid's collision primitives posed with the clip's global joint rotations
(:mod:`body_shape`: the boxes and capsules the simulator collides with, scaled
with the body), so kinematic clips and the simulated humanoid are measured
against the same surface.

Definitions (after PhysDiff, Yuan et al., ICCV 2023, with its 5 mm tolerance;
PhysDiff uses the lowest vertex of the body mesh, here the lowest point of the
primitives):

* ``penetration_mm``: mean over frames of how far the body's lowest point is
  below the ground beyond the tolerance, ``max(0, -h - tol)``.
* ``float_mm``: mean over frames of ``max(0, h - tol)`` for the body's lowest
  point (a body that never touches the ground floats).
* ``skate_mm``: mean over consecutive frame pairs of the horizontal
  displacement of the foot joints (ankle, toe) in contact in both frames, the
  larger of the two per foot, summed over the feet. Contact is PhysDiff's: the
  joint is low, i.e. its level-sole point (``sole_heights``) is below
  ``contact_height``. (On the posed shape instead, a foot rolling over its
  toes counts as planted while its joints move: clean mocap would "skate" by
  33 mm per frame on the WHAM-artifact benchmark's clips instead of ~14.)
* ``jitter``: mean jerk magnitude of all joints, m/s^3 (third finite
  difference x fps^3), as video-based estimators (TRAM, WHAM) report it.
* ``mpjpe_mm`` / ``pa_mpjpe_mm``: mean joint position error, without and with
  per-frame Procrustes alignment (rotation, translation, scale).
* ``accel_err``: mean acceleration error, mm/frame^2; ``vel_err`` mm/frame
  (PHC's definitions).
"""

from __future__ import annotations

import numpy as np

from .body_shape import lowest_points as ground_heights  # (T, 24) lowest point of each body part
from .body_shape import upright_drops
from .clip import Motion
from .skeleton import FOOT_JOINTS, Skeleton

TOLERANCE_M = 0.005  # PhysDiff's 5 mm
CONTACT_HEIGHT_M = 0.025  # a sole point lower than this is in contact
# FOOT_JOINTS (skeleton): left/right ankle, left/right toe
# joint -> bottom of its foot box for a level foot, mean body (``smpl_neutral_humanoid.json``, posed
# upright by ``body_shape``): the level-sole proxy of ``sole_heights``
SOLE_OFFSET_M = upright_drops()[list(FOOT_JOINTS)]
FEET = ((0, 2), (1, 3))  # (ankle, toe) columns of FOOT_JOINTS / sole_heights: left foot, right foot


def ramp_down(x, lo: float, hi: float):
    """1 below ``lo``, 0 above ``hi``, linear between: the soft contact weights of a height or a
    speed (numpy arrays and torch tensors alike)."""
    return ((hi - x) / max(hi - lo, 1e-9)).clip(0.0, 1.0)


def offsets_scale(offsets: np.ndarray) -> float:
    """Body scale of bone offsets (24, 3): their summed lengths against the mean body's."""
    return float(np.linalg.norm(offsets, axis=1).sum() / np.linalg.norm(Skeleton.default().offsets, axis=1).sum())


def body_scale_of(motion: Motion) -> float:
    return motion.body_scale if motion.offsets is None else offsets_scale(motion.offsets)


def sole_heights(pos: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(T, 4) heights of the sole points under the ankles and toes, for level feet: the proxy where
    only joint positions are known (grounding at ingest, clean-up, foot locking, the tracking
    reward's contact weights). Plausibility uses the posed shape (``ground_heights``)."""
    return pos[:, FOOT_JOINTS, 2] - SOLE_OFFSET_M * scale


def penetration_mm(low: np.ndarray, tol: float = TOLERANCE_M) -> float:
    """``low``: (T, 24) ``ground_heights``."""
    return float(np.maximum(0.0, -low.min(axis=1) - tol).mean() * 1000.0)


def float_mm(low: np.ndarray, tol: float = TOLERANCE_M) -> float:
    """``low``: (T, 24) ``ground_heights``."""
    return float(np.maximum(0.0, low.min(axis=1) - tol).mean() * 1000.0)


def skate_mm(pos: np.ndarray, scale: float = 1.0, contact_height: float = CONTACT_HEIGHT_M) -> float:
    h = sole_heights(pos, scale)
    contact = (h[:-1] < contact_height) & (h[1:] < contact_height)  # (T-1, 4)
    disp = np.linalg.norm(pos[1:, FOOT_JOINTS, :2] - pos[:-1, FOOT_JOINTS, :2], axis=-1)
    # per frame pair: the feet (the larger of the ankle and toe joint) that slide while planted
    per_foot = np.stack([(disp[:, list(f)] * contact[:, list(f)]).max(1) for f in FEET], 1)
    return float(per_foot.sum(axis=1).mean() * 1000.0)


def jitter(pos: np.ndarray, fps: float) -> float:
    if pos.shape[0] < 4:
        return 0.0
    jerk = np.diff(pos, n=3, axis=0) * fps**3
    return float(np.linalg.norm(jerk, axis=-1).mean())


def plausibility_from_joints(pos: np.ndarray, glob: np.ndarray, fps: float, scale: float = 1.0) -> dict[str, float]:
    """Penetration, float, skate (mm) and jitter of global joint positions (T, 24, 3) and
    rotations (T, 24, 3, 3) (``Motion.joints()``)."""
    low = ground_heights(pos, glob, scale)
    return {"penetration_mm": penetration_mm(low), "float_mm": float_mm(low),
            "skate_mm": skate_mm(pos, scale), "jitter": jitter(pos, fps)}


def plausibility(motion: Motion) -> dict[str, float]:
    return plausibility_from_joints(*motion.joints(), motion.fps, body_scale_of(motion))


# --------------------------------------------------------------------- errors
def mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.linalg.norm(pred - gt, axis=-1).mean() * 1000.0)


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Align each frame of ``pred`` (T,J,3) to ``gt`` with the similarity
    transform (rotation, translation, scale) that minimises squared error."""
    mu_p, mu_g = pred.mean(1, keepdims=True), gt.mean(1, keepdims=True)
    p, g = pred - mu_p, gt - mu_g
    cov = np.einsum("tji,tjk->tik", p, g)  # (T,3,3)
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(np.einsum("tij,tjk->tik", u, vt)))
    s[:, 2] *= d
    u[:, :, 2] *= d[:, None]
    rot = np.einsum("tij,tjk->tik", u, vt)  # maps p (row vectors) onto g: p @ rot
    var = (p**2).sum(axis=(1, 2))
    scale = s.sum(1) / np.maximum(var, 1e-12)
    return scale[:, None, None] * np.einsum("tji,tik->tjk", p, rot) + mu_g


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    return mpjpe(procrustes_align(pred, gt), gt)


def accel_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean |second difference| error, mm/frame^2."""
    if pred.shape[0] < 3:
        return 0.0
    return float(np.linalg.norm(np.diff(pred, 2, axis=0) - np.diff(gt, 2, axis=0), axis=-1).mean() * 1000.0)


def vel_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean |first difference| error, mm/frame."""
    return float(np.linalg.norm(np.diff(pred, 1, axis=0) - np.diff(gt, 1, axis=0), axis=-1).mean() * 1000.0)


def tracking_errors(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """PHC's tracking metrics: global MPJPE, root-relative (local) MPJPE,
    PA-MPJPE (mm), acceleration (mm/frame^2) and velocity (mm/frame) error."""
    return {"g_mpjpe_mm": mpjpe(pred, gt), "l_mpjpe_mm": mpjpe(pred - pred[:, :1], gt - gt[:, :1]),
            "pa_mpjpe_mm": pa_mpjpe(pred, gt), "accel_err": accel_error(pred, gt), "vel_err": vel_error(pred, gt)}


def compare(a: Motion, b: Motion) -> dict[str, float]:
    """Errors of clip ``a`` against reference ``b`` (same length and fps)."""
    if a.num_frames != b.num_frames:
        raise ValueError(f"clips differ in length ({a.num_frames} vs {b.num_frames} frames); resample or slice first")
    pa, pb = a.positions(), b.positions()
    return {"mpjpe_mm": mpjpe(pa, pb), "pa_mpjpe_mm": pa_mpjpe(pa, pb), "accel_err": accel_error(pa, pb),
            **{k: v for k, v in tracking_errors(pa, pb).items() if k in ("l_mpjpe_mm", "vel_err")}}
