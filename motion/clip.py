"""The Motion clip: the one data type every motionlib stage consumes.

Representation (documented once, used everywhere):

* ``fps``: frames per second (> 0).
* ``trans``: (T, 3) world position of the *pelvis joint* in metres. The world
  is z-up (ground plane z = 0). (SMPL's ``transl`` parameter differs from this
  by the rest pelvis position J0: ``pelvis = transl + R_frame @ J0``.)
* ``rotations``: (T, 24, 4) unit quaternions (w, x, y, z). ``rotations[:, 0]``
  is the global pelvis orientation, mapping the SMPL body frame (y up, x left,
  z forward) into the z-up world (as AMASS ``root_orient`` does);
  ``rotations[:, 1:]`` are SMPL's local joint rotations relative to the parent
  (exactly SMPL ``body_pose`` + hand joints, in axis-angle via
  ``rotations_axis_angle``).
* ``betas``: SMPL shape coefficients (kept for SMPL export; the kinematics use
  ``offsets``).
* ``gender``: "neutral", "male" or "female".
* ``offsets``: optional (24, 3) bone offsets in the SMPL body frame; ``None``
  means the shipped mean-shape body scaled by ``body_scale``.
* ``meta``: JSON-serialisable dict. Well-known keys: ``source`` (file it came
  from), ``texts`` (``{"captions": [...], "body_parts": {part: [...]}}``),
  ``fit_error_mm`` (error of the BVH -> SMPL fit), ``FIT_META`` (that fit's
  details: mapping, iterations, ground shift, ...; read with :func:`fit_details`),
  ``labels``, ``ESTIMATE_META`` (the estimator a clip was estimated with from
  video, e.g. "wham"; absent for capture).

T >= 2 frames always. Construction validates shapes, finiteness, quaternion
norms and fps, and raises :class:`MotionError` naming ``meta["source"]``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import rotations as R
from .errors import MotionError
from .fk import fk
from .skeleton import NUM_JOINTS, SMPL_MIRROR, Skeleton

GENDERS = ("neutral", "male", "female")
UNIT_QUAT_TOL = 1e-3


ESTIMATE_META = "estimated_by"  # meta key: the video estimator that produced the clip (absent: capture)
FIT_META = "fit"  # meta key: details of the BVH -> SMPL fit (absent for other sources)
FIT_META_OLD = "retarget"  # the same details in clips written before the key was named "fit"


def fit_details(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The BVH -> SMPL fit's details in a clip's ``meta`` (under ``FIT_META``, or
    ``FIT_META_OLD`` in older clips); ``None`` for clips that were not fitted."""
    for key in (FIT_META, FIT_META_OLD):
        details = meta.get(key)
        if isinstance(details, dict):
            return details
    return None


@dataclass
class Motion:
    fps: float
    trans: np.ndarray
    rotations: np.ndarray
    betas: np.ndarray = field(default_factory=lambda: np.zeros(10))
    gender: str = "neutral"
    offsets: np.ndarray | None = None
    body_scale: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        src = self.meta.get("source") if isinstance(self.meta, dict) else None
        if not isinstance(self.meta, dict):
            raise MotionError(f"meta must be a dict, got {type(self.meta).__name__}", src)
        try:
            self.fps = float(self.fps)
        except (TypeError, ValueError):
            raise MotionError(f"fps must be a number, got {self.fps!r}", src) from None
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise MotionError(f"fps must be > 0, got {self.fps}", src)
        self.trans = np.asarray(self.trans, dtype=np.float64)
        self.rotations = np.asarray(self.rotations, dtype=np.float64)
        self.betas = np.asarray(self.betas, dtype=np.float64).reshape(-1)
        if self.trans.ndim != 2 or self.trans.shape[1] != 3:
            raise MotionError(f"trans must have shape (T, 3), got {self.trans.shape}", src)
        t = self.trans.shape[0]
        if t < 2:
            raise MotionError(f"a clip needs at least 2 frames, got {t}", src)
        if self.rotations.shape != (t, NUM_JOINTS, 4):
            raise MotionError(f"rotations must have shape ({t}, 24, 4) (quaternions wxyz), got {self.rotations.shape}", src)
        for name, arr in (("trans", self.trans), ("rotations", self.rotations), ("betas", self.betas)):
            bad = ~np.isfinite(arr).reshape(arr.shape[0], -1).all(axis=1) if arr.ndim > 1 else ~np.isfinite(arr)
            if np.any(bad):
                first = int(np.flatnonzero(bad)[0])
                where = f"frame {first}" if arr.ndim > 1 else f"index {first}"
                raise MotionError(f"{name} has NaN/inf values ({int(bad.sum())} bad, first at {where})", src)
        norms = np.linalg.norm(self.rotations, axis=-1)
        err = np.abs(norms - 1.0)
        if err.max() > UNIT_QUAT_TOL:
            f, j = np.unravel_index(int(np.argmax(err)), err.shape)
            raise MotionError(f"rotations are not unit quaternions (|q|={norms[f, j]:.4f} at frame {f}, joint {j})", src)
        self.rotations = self.rotations / norms[..., None]
        if self.gender not in GENDERS:
            raise MotionError(f"gender must be one of {GENDERS}, got {self.gender!r}", src)
        if self.offsets is not None:
            self.offsets = np.asarray(self.offsets, dtype=np.float64)
            if self.offsets.shape != (NUM_JOINTS, 3) or not np.all(np.isfinite(self.offsets)):
                raise MotionError(f"offsets must be finite with shape (24, 3), got {self.offsets.shape}", src)
        self.body_scale = float(self.body_scale)
        if not np.isfinite(self.body_scale) or self.body_scale <= 0:
            raise MotionError(f"body_scale must be > 0, got {self.body_scale}", src)

    # ------------------------------------------------------------------ basics
    @property
    def num_frames(self) -> int:
        return int(self.trans.shape[0])

    def __len__(self) -> int:
        return self.num_frames

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame."""
        return (self.num_frames - 1) / self.fps

    @property
    def source(self) -> str | None:
        return self.meta.get("source")

    @property
    def texts(self) -> dict[str, Any]:
        return self.meta.setdefault("texts", {"captions": [], "body_parts": {}})

    def skeleton(self) -> Skeleton:
        if self.offsets is not None:
            return Skeleton(self.offsets)
        return Skeleton.default().scaled(self.body_scale)

    def rotmats(self) -> np.ndarray:
        return R.quat_to_matrix(self.rotations)

    def rotations_axis_angle(self) -> np.ndarray:
        """(T, 24, 3) axis-angle, i.e. SMPL ``global_orient`` + ``body_pose`` (+hands)."""
        return R.quat_to_axis_angle(self.rotations)

    def joints(self) -> tuple[np.ndarray, np.ndarray]:
        """Global joint positions (T, 24, 3) and rotations (T, 24, 3, 3)."""
        return fk(self.rotmats(), self.trans, self.skeleton().offsets)

    def positions(self) -> np.ndarray:
        return self.joints()[0]

    def copy(self, **changes: Any) -> "Motion":
        fields = dict(fps=self.fps, trans=self.trans.copy(), rotations=self.rotations.copy(),
                      betas=self.betas.copy(), gender=self.gender,
                      offsets=None if self.offsets is None else self.offsets.copy(),
                      body_scale=self.body_scale, meta=copy.deepcopy(self.meta))
        fields.update(changes)
        return Motion(**fields)

    @staticmethod
    def from_axis_angle(fps: float, trans: np.ndarray, pose: np.ndarray, **kw: Any) -> "Motion":
        """Build from (T, 24, 3) or (T, 72) axis-angle SMPL pose."""
        pose = np.asarray(pose, dtype=np.float64)
        src = kw.get("meta", {}).get("source")
        if pose.ndim == 2 and pose.shape[1] == 72:
            pose = pose.reshape(-1, 24, 3)
        if pose.ndim != 3 or pose.shape[1:] != (24, 3):
            raise MotionError(f"axis-angle pose must have shape (T, 72) or (T, 24, 3), got {pose.shape}", src)
        if not np.all(np.isfinite(pose)):
            raise MotionError("axis-angle pose has NaN/inf values", src)
        return Motion(fps=fps, trans=trans, rotations=R.axis_angle_to_quat(pose), **kw)

    # -------------------------------------------------------------- operations
    def derived_meta(self, **updates: Any) -> dict[str, Any]:
        """``meta`` for a clip made from this one with other frames or poses: a deep copy without
        ``d135_origin`` (the feature origin belongs to these frames), with ``updates`` set."""
        meta = copy.deepcopy(self.meta)
        meta.pop("d135_origin", None)
        meta.update(updates)
        return meta

    def __getitem__(self, sl: slice) -> "Motion":
        if not isinstance(sl, slice):
            raise TypeError("Motion supports slicing by frame range only (clip[a:b:step])")
        step = sl.step or 1
        if step < 1:
            raise ValueError("slice step must be a positive integer")
        trans = self.trans[sl]
        meta = copy.deepcopy(self.meta)
        start, stop, _ = sl.indices(self.num_frames)
        meta["slice"] = [int(start), int(stop), int(step)]
        return self.copy(fps=self.fps / step, trans=trans, rotations=self.rotations[sl], meta=meta)

    def resample(self, fps: float) -> "Motion":
        """Resample to ``fps``: slerp for rotations, linear for translation.

        Samples at times k / fps for k = 0..floor(duration * fps) (the last
        source frame is kept when the duration is a whole number of new frames).
        """
        fps = float(fps)
        if not np.isfinite(fps) or fps <= 0:
            raise MotionError(f"target fps must be > 0, got {fps}", self.source)
        n = int(np.floor(self.duration * fps + 1e-6)) + 1
        if n < 2:
            raise MotionError(f"resampling a {self.duration:.3f} s clip to {fps} fps leaves fewer than 2 frames", self.source)
        t_src = np.arange(n) / fps * self.fps  # fractional source frame index
        i0 = np.clip(np.floor(t_src).astype(int), 0, self.num_frames - 1)
        i1 = np.clip(i0 + 1, 0, self.num_frames - 1)
        a = np.clip(t_src - i0, 0.0, 1.0)
        trans = self.trans[i0] * (1 - a)[:, None] + self.trans[i1] * a[:, None]
        rots = R.quat_slerp(self.rotations[i0], self.rotations[i1], np.broadcast_to(a[:, None], (n, NUM_JOINTS)))
        return self.copy(fps=fps, trans=trans, rotations=rots, meta=self.derived_meta())

    def mirrored(self) -> "Motion":
        """Swap left and right: reflect the world in the plane y = 0 and the body
        in its sagittal plane (x -> -x in the SMPL body frame), swapping joints.

        FK of the mirrored clip equals the reflected FK of this clip with joints
        swapped (offsets are mirrored with it)."""
        perm = list(SMPL_MIRROR)
        q = self.rotations[:, perm].copy()
        # local: M_b R M_b with M_b = diag(-1, 1, 1)  -> quat (w, x, -y, -z)
        q[:, 1:] *= np.array([1.0, 1.0, -1.0, -1.0])
        # root: M_w R M_b with M_w = diag(1, -1, 1)
        m_w, m_b = np.diag([1.0, -1.0, 1.0]), np.diag([-1.0, 1.0, 1.0])
        root = m_w @ R.quat_to_matrix(self.rotations[:, 0]) @ m_b
        q[:, 0] = R.matrix_to_quat(root)
        trans = self.trans * np.array([1.0, -1.0, 1.0])
        offsets = self.skeleton().mirrored().offsets
        meta = self.derived_meta(mirrored=not self.meta.get("mirrored", False))
        return self.copy(trans=trans, rotations=R.quat_fix_continuity(q), offsets=offsets, meta=meta)

    def reversed(self) -> "Motion":
        """The clip played backwards (last frame first): a walk becomes a backward walk.

        Kinematics are time-symmetric, so the reversed clip is as valid a pose
        sequence as the original; what changes is the order of events (a foot
        that lifted off now touches down). A tracker's training set gains the
        motions it lacks this way (dataset-2 has walks but no backward walks)."""
        return self.copy(trans=self.trans[::-1].copy(), rotations=self.rotations[::-1].copy(),
                         meta=self.derived_meta(reversed=not self.meta.get("reversed", False)))

    @staticmethod
    def concatenate(clips: list["Motion"]) -> "Motion":
        """Join clips end to end (same fps and body). The result keeps the first
        clip's metadata and lists every part's source under ``meta["parts"]``."""
        if not clips:
            raise MotionError("nothing to concatenate")
        first = clips[0]
        for c in clips[1:]:
            if abs(c.fps - first.fps) > 1e-9:
                raise MotionError(f"cannot concatenate clips at {first.fps} and {c.fps} fps; resample first", c.source)
            if not np.allclose(c.skeleton().offsets, first.skeleton().offsets, atol=1e-9):
                raise MotionError("cannot concatenate clips with different bodies", c.source)
        meta = first.derived_meta(parts=[{"source": c.source, "frames": c.num_frames} for c in clips])
        return first.copy(trans=np.concatenate([c.trans for c in clips]),
                          rotations=np.concatenate([c.rotations for c in clips]), meta=meta)
