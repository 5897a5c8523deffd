"""WHAM demo output (``wham_output.pkl``, written with ``joblib.dump``): one clip per track.

Layout: ``{track_id: {"pose_world": (T, 72) axis-angle, "trans_world": (T, 3),
"betas": (T, 10), "frame_ids": (T,), "pose", "trans", "verts", ...}}`` (the
camera-frame entries are ignored). WHAM's world is y-up (its renderer puts the
ground at the lowest vertex's y), ours is z-up: a world rotation
``Rx(+90 deg)`` (y -> z, z -> -y) is applied to the root orientation and to the
pelvis position ``pelvis = trans_world + J0`` (SMPL rotates the root about the
rest pelvis J0). Betas are averaged over the track's frames; J0 is the
default body's rest pelvis, or the SMPL model's for those betas when a model
file is given. WHAM does not store its frame rate, so ``fps`` is required.

WHAM's world origin is the first frame's pelvis, not the ground: real outputs
come out with the body about a metre below the floor. Each track is therefore
put on an estimated floor (``ground=True``; :mod:`motionlib.motion.floor`): the
median height of the feet's lowest points over the frames where a foot is
planted (low and slow), or, for a clip whose feet are never planted (a track
that is all flight), the low end of its lowest points. The vertical shift is
recorded in meta (``motion.floor.FLOOR_META``).

The file is read only through :func:`motionlib.motion.safe_pickle.safe_load`;
anything but arrays, plain containers and scalars is refused.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import rotations as R
from ..clip import ESTIMATE_META, Motion
from ..errors import MotionError
from ..floor import put_on_floor
from ..safe_pickle import safe_load
from ..skeleton import Skeleton
from .amass import PELVIS_REST_META

# World change WHAM (y-up) -> motionlib (z-up): rotation about x by +90 degrees.
YUP_TO_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass
class WhamRead:
    clips: list[Motion] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"track_id", "reason"}


def _track_array(track: dict, keys: tuple[str, ...], src: str, tid: Any) -> np.ndarray:
    key = next((k for k in keys if k in track), None)
    if key is None:
        raise MotionError(f"track {tid} lacks {keys[0]!r} (WHAM run without world coordinates?)", src)
    try:
        arr = np.asarray(track[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise MotionError(f"track {tid}: {key!r} is not numeric", src) from None
    return arr


def _convert_track(track: Any, tid: Any, fps: float, src: str, model: Any, ground: bool = True) -> Motion | str:
    """A Motion, or the reason the track is skipped."""
    if not isinstance(track, dict):
        raise MotionError(f"track {tid} is a {type(track).__name__}, expected a dict", src)
    pose = _track_array(track, ("pose_world",), src, tid)
    trans = _track_array(track, ("trans_world",), src, tid)
    betas = _track_array(track, ("betas",), src, tid) if "betas" in track else np.zeros(10)
    if pose.ndim == 3 and pose.shape[1:] == (24, 3):
        pose = pose.reshape(len(pose), 72)
    if pose.ndim != 2 or pose.shape[1] != 72:
        raise MotionError(f"track {tid}: pose_world must have shape (T, 72), got {pose.shape}", src)
    t = pose.shape[0]
    if trans.shape != (t, 3):
        raise MotionError(f"track {tid}: trans_world must have shape ({t}, 3), got {trans.shape}", src)
    if t < 2:
        return f"only {t} frame(s)"
    for name, arr in (("pose_world", pose), ("trans_world", trans), ("betas", betas)):
        if not np.all(np.isfinite(arr)):
            raise MotionError(f"track {tid}: {name} has NaN/inf values", src)
    if betas.ndim == 2:
        betas = betas.mean(axis=0)
    elif betas.ndim != 1:
        raise MotionError(f"track {tid}: betas must be (T, B) or (B,), got {betas.shape}", src)

    offsets = None
    if model is not None:
        from ..smpl_model import skeleton_from_betas

        skel = skeleton_from_betas(model, betas)
        offsets, j0 = skel.offsets, skel.pelvis_rest
    else:
        j0 = Skeleton.default().pelvis_rest
    aa = pose.reshape(t, 24, 3)
    q = R.axis_angle_to_quat(aa)
    q[:, 0] = R.matrix_to_quat(YUP_TO_ZUP @ R.axis_angle_to_matrix(aa[:, 0]))
    pelvis = (trans + j0) @ YUP_TO_ZUP.T

    frame_ids = next((np.asarray(track[k]).reshape(-1) for k in ("frame_ids", "frame_id") if k in track), None)
    meta: dict[str, Any] = {"source": src, "track_id": _plain(tid), ESTIMATE_META: "wham"}
    if model is not None:
        meta[PELVIS_REST_META] = [float(x) for x in j0]
    if frame_ids is not None and frame_ids.size == t and frame_ids.dtype.kind in "iuf":
        meta["frame_ids"] = [int(frame_ids.min()), int(frame_ids.max())]
        if np.any(np.diff(frame_ids) != 1):
            meta["frame_ids_contiguous"] = False
    clip = Motion(fps=fps, trans=pelvis, rotations=R.quat_fix_continuity(q), betas=betas, offsets=offsets,
                  meta=meta)
    return put_on_floor(clip) if ground else clip


def _plain(tid: Any) -> Any:
    if isinstance(tid, np.generic):
        return tid.item()
    return tid if isinstance(tid, (int, str, float)) else str(tid)


def read_wham(path: str | os.PathLike, fps: float, smpl_model: str | os.PathLike | None = None,
              ground: bool = True) -> WhamRead:
    """All tracks of a WHAM output file; tracks under 2 frames are listed in
    ``skipped``. Raises when the file is bad or no track is usable. ``ground``: put
    each track on its estimated floor (:func:`put_on_floor`); False keeps WHAM's world
    height."""
    path = Path(path)
    src = str(path)
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        raise MotionError(f"fps must be a number, got {fps!r}", src) from None
    if not np.isfinite(fps) or fps <= 0:
        raise MotionError(f"fps must be > 0, got {fps} (WHAM output does not store its frame rate)", src)
    data = safe_load(path)
    if not isinstance(data, dict) or not data:
        raise MotionError(f"not WHAM output: expected a non-empty dict of tracks, got {type(data).__name__}", src)
    model = None
    if smpl_model is not None:
        from ..smpl_model import load_smpl_model

        model = load_smpl_model(smpl_model)
    out = WhamRead()
    for tid in sorted(data, key=lambda k: (str(type(k)), k)):
        res = _convert_track(data[tid], tid, fps, src, model, ground)
        if isinstance(res, str):
            out.skipped.append({"track_id": _plain(tid), "reason": res})
        else:
            if model is not None:
                res.meta["smpl_model"] = str(smpl_model)
            out.clips.append(res)
    if not out.clips:
        reasons = "; ".join(f"track {s['track_id']}: {s['reason']}" for s in out.skipped)
        raise MotionError(f"no usable track ({reasons})", src)
    return out


def load_wham(path: str | os.PathLike, fps: float, smpl_model: str | os.PathLike | None = None,
              ground: bool = True) -> list[Motion]:
    """One clip per usable track (sorted by track id), each on its estimated floor unless
    ``ground`` is False; skipped tracks raise a ``UserWarning`` (use :func:`read_wham` to get
    them as data)."""
    res = read_wham(path, fps, smpl_model, ground)
    for s in res.skipped:
        warnings.warn(f"{path}: skipped WHAM track {s['track_id']}: {s['reason']}", stacklevel=2)
    return res.clips
