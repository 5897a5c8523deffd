"""AMASS / SMPL ``.npz`` clips: read and write.

AMASS files hold ``poses`` (T, 72 | 156 | 165) axis-angle (SMPL / SMPL+H /
SMPL-X joint order; 66 = body only is accepted too), ``trans`` (T, 3),
``betas``, ``gender`` and ``mocap_framerate`` (``mocap_frame_rate`` in the
SMPL-X release). The world is z-up already, so the root orientation is used
as is. Joints 0-21 are SMPL's body joints in every variant; SMPL's hand joints
22/23 only exist in 72-wide poses (SMPL+H/SMPL-X put fingers, jaw and eyes
there), so they are set to identity otherwise.

SMPL rotates the root about the rest pelvis J0, so the pelvis joint in the
world is exactly ``trans + J0``; J0 comes from the SMPL model and betas when a
model file is given, else from the default body (scaled by ``body_scale``).
:func:`save_amass` inverts this (``trans = pelvis - J0``) so clips export to
SMPL tools; it also stores the J0 and body it used (``motionlib_*`` keys), so
our own round trip is exact for any body.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..clip import GENDERS, Motion
from ..errors import MotionError
from ..io import require_zip
from ..skeleton import Skeleton

POSE_WIDTHS = {72: "smpl", 156: "smplh", 165: "smplx", 66: "body"}
FPS_KEYS = ("mocap_framerate", "mocap_frame_rate")
PELVIS_REST_META = "smpl_pelvis_rest"  # meta key: J0 (body frame) that relates trans to the pelvis


def _load_npz(path: Path, src: str) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise MotionError("no such AMASS file", src)
    require_zip(path, "file")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = list(z.files)
            out = {}
            for k in files:
                try:
                    out[k] = z[k]
                except ValueError:  # object arrays: we never unpickle them
                    if k in ("poses", "trans", "betas", *FPS_KEYS):
                        raise MotionError(f"key {k!r} holds pickled Python objects; refusing to unpickle it",
                                          src) from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise MotionError(f"not a readable .npz file ({e})", src) from None
    return out


def _scalar_str(v: Any) -> str:
    v = np.asarray(v)
    v = v.item() if v.size == 1 else v
    if isinstance(v, bytes):
        v = v.decode("latin1")
    return str(v).strip().lower()


def pelvis_rest_of(motion: Motion) -> np.ndarray:
    """J0 for ``motion``: the one recorded in meta, else the default body's (scaled)."""
    if PELVIS_REST_META in motion.meta:
        j0 = np.asarray(motion.meta[PELVIS_REST_META], dtype=np.float64)
        if j0.shape != (3,) or not np.all(np.isfinite(j0)):
            raise MotionError(f"meta[{PELVIS_REST_META!r}] must be 3 finite numbers", motion.source)
        return j0
    return Skeleton.default().pelvis_rest * motion.body_scale


def load_amass(path: str | os.PathLike, smpl_model: str | os.PathLike | None = None,
               fps: float | None = None) -> Motion:
    """Read an AMASS-style ``.npz`` clip.

    ``smpl_model``: optional SMPL model file; the clip then gets the skeleton of
    its own betas (offsets and J0). ``fps`` overrides/replaces the file's rate.
    """
    path = Path(path)
    src = str(path)
    d = _load_npz(path, src)
    missing = [k for k in ("poses", "trans") if k not in d]
    if missing:
        raise MotionError(f"AMASS file lacks {missing} (keys: {sorted(d)[:10]})", src)
    poses = np.asarray(d["poses"], dtype=np.float64)
    trans = np.asarray(d["trans"], dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] not in POSE_WIDTHS:
        raise MotionError(f"poses must have shape (T, 72|156|165), got {poses.shape}", src)
    t = poses.shape[0]
    if trans.shape != (t, 3):
        raise MotionError(f"trans must have shape ({t}, 3) to match poses, got {trans.shape}", src)
    if t < 2:
        raise MotionError(f"a clip needs at least 2 frames, the file has {t}", src)
    for name, arr in (("poses", poses), ("trans", trans)):
        bad = ~np.isfinite(arr).all(axis=1)
        if bad.any():
            raise MotionError(f"{name} has NaN/inf values ({int(bad.sum())} frames, first at frame "
                              f"{int(np.flatnonzero(bad)[0])})", src)
    if fps is None:
        key = next((k for k in FPS_KEYS if k in d), None)
        if key is None:
            raise MotionError(f"no frame rate ({' or '.join(FPS_KEYS)}) in the file; pass fps", src)
        try:
            fps = float(np.asarray(d[key]).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            raise MotionError(f"{key} is not a number", src) from None
    if not np.isfinite(fps) or fps <= 0:
        raise MotionError(f"frame rate must be > 0, got {fps}", src)

    aa = np.zeros((t, 24, 3))
    width = poses.shape[1]
    if width == 72:
        aa[:] = poses.reshape(t, 24, 3)
    else:  # SMPL+H / SMPL-X / body-only: joints 0-21 only; SMPL hands (22/23) identity
        aa[:, :22] = poses[:, :66].reshape(t, 22, 3)

    betas = np.asarray(d.get("betas", np.zeros(10)), dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(betas)):
        raise MotionError("betas have NaN/inf values", src)
    gender = _scalar_str(d["gender"]) if "gender" in d else "neutral"
    meta: dict[str, Any] = {"source": src, "pose_format": POSE_WIDTHS[width]}
    if gender not in GENDERS:
        meta["gender_in_file"] = gender
        gender = "neutral"

    offsets = None
    body_scale = 1.0
    j0: np.ndarray | None = None  # None: the default body's J0 (scaled), nothing recorded in meta
    if smpl_model is not None:
        from ..smpl_model import load_smpl_model, skeleton_from_betas

        skel = skeleton_from_betas(load_smpl_model(smpl_model), betas)
        offsets, j0 = skel.offsets, skel.pelvis_rest
        meta["smpl_model"] = str(smpl_model)
    elif "motionlib_pelvis_rest" in d:  # written by save_amass: restore the exact body
        j0 = np.asarray(d["motionlib_pelvis_rest"], dtype=np.float64).reshape(-1)
        if j0.shape != (3,):
            raise MotionError(f"motionlib_pelvis_rest must hold 3 numbers, got {j0.size}", src)
        body_scale = float(np.asarray(d.get("motionlib_body_scale", 1.0)).reshape(-1)[0])
        if "motionlib_offsets" in d:
            offsets = np.asarray(d["motionlib_offsets"], dtype=np.float64)
    if j0 is None:
        j0 = Skeleton.default().pelvis_rest * body_scale
    else:
        if not np.all(np.isfinite(j0)):
            raise MotionError("the rest pelvis position has NaN/inf values", src)
        meta[PELVIS_REST_META] = [float(x) for x in j0]
    try:
        return Motion.from_axis_angle(fps, trans + j0, aa, betas=betas, gender=gender, offsets=offsets,
                                      body_scale=body_scale, meta=meta)
    except MotionError as e:
        raise MotionError(e.problem, src) from None


def save_amass(motion: Motion, path: str | os.PathLike) -> Path:
    """Write ``motion`` as an AMASS-style SMPL ``.npz`` (poses (T, 72), trans,
    betas, gender, mocap_framerate), atomically. ``trans = pelvis - J0``."""
    path = Path(path)
    j0 = pelvis_rest_of(motion)
    arrays = {
        "poses": motion.rotations_axis_angle().reshape(motion.num_frames, 72),
        "trans": motion.trans - j0,
        "betas": motion.betas.astype(np.float64),
        "gender": np.array(motion.gender),
        "mocap_framerate": np.array(motion.fps),
        "motionlib_pelvis_rest": j0,
        "motionlib_body_scale": np.array(motion.body_scale),
    }
    if motion.offsets is not None:
        arrays["motionlib_offsets"] = motion.offsets
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path
