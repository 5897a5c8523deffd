"""SMPL model files: load a user's model (never shipped) and derive skeletons.

Reads the official ``.pkl`` files (Python 2 pickles with chumpy arrays and a
scipy sparse ``J_regressor``) through :mod:`motionlib.motion.safe_pickle`, and
``.npz`` conversions (as made by smplx's tools) with ``allow_pickle=False``.

``skeleton_from_betas`` gives the 24-joint motionlib :class:`Skeleton` of a
shaped body: rest joints ``J = J_regressor @ (v_template + shapedirs @ betas)``
(SMPL's joint regression, Loper et al. 2015, eq. 10), ``offsets[i] = J[i] -
J[parent(i)]`` and ``pelvis_rest = J[0]``. SMPL's rest frame is our body frame,
so no axis change is needed. SMPL+H / SMPL-X models (52 / 55 joints) share
joints 0-21 with SMPL; their joints 22/23 are not SMPL's hand joints, so the
hand offsets are taken from the default mean-shape body.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MotionError
from .safe_pickle import safe_load
from .skeleton import NUM_JOINTS, SMPL_PARENTS, Skeleton

BODY_JOINTS = 22  # joints 0..21 are shared by SMPL, SMPL+H and SMPL-X
REQUIRED_KEYS = ("v_template", "shapedirs", "J_regressor", "kintree_table", "weights", "f")
OPTIONAL_KEYS = ("posedirs",)


@dataclass(frozen=True)
class SMPLModel:
    """Arrays of an SMPL-family model (float64, dense)."""

    v_template: np.ndarray  # (V, 3)
    shapedirs: np.ndarray  # (V, 3, B)
    J_regressor: np.ndarray  # (J, V)
    kintree_table: np.ndarray  # (2, J)
    parents: tuple[int, ...]  # (J,), root -1
    weights: np.ndarray  # (V, J)
    posedirs: np.ndarray | None  # (V, 3, P) or None
    faces: np.ndarray  # (F, 3) int64
    gender: str | None = None
    source: str | None = None

    @property
    def num_joints(self) -> int:
        return int(self.J_regressor.shape[0])

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[2])


def _read_npz(path: Path, src: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for k in REQUIRED_KEYS + OPTIONAL_KEYS + ("gender",):
                if k in z.files:
                    try:
                        out[k] = z[k]
                    except ValueError:
                        raise MotionError(f"key {k!r} holds Python objects (pickled); refusing to unpickle it — "
                                          "store it as a plain numeric array", src) from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise MotionError(f"not a readable .npz SMPL model ({e})", src) from None
    return out


def _array(data: dict[str, Any], key: str, src: str, ndim: int, dtype: Any = np.float64) -> np.ndarray:
    try:
        arr = np.asarray(data[key], dtype=dtype)
    except (TypeError, ValueError) as e:
        raise MotionError(f"SMPL model key {key!r} is not numeric ({e})", src) from None
    if arr.ndim != ndim:
        raise MotionError(f"SMPL model key {key!r} must be {ndim}-D, got shape {arr.shape}", src)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise MotionError(f"SMPL model key {key!r} has NaN/inf values", src)
    return arr


def load_smpl_model(path: str | os.PathLike) -> SMPLModel:
    """Load an SMPL(-H/-X) model file (``.pkl`` or ``.npz``) safely and validate it."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise MotionError("no such SMPL model file", src)
    if path.suffix.lower() == ".npz":
        data = _read_npz(path, src)
    elif path.suffix.lower() in (".pkl", ".pickle"):
        data = safe_load(path, allow_chumpy=True, allow_sparse=True)
        if not isinstance(data, dict):
            raise MotionError(f"SMPL model pickle holds a {type(data).__name__}, expected a dict", src)
    else:
        raise MotionError(f"unknown SMPL model file type {path.suffix!r} (expected .pkl or .npz)", src)
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise MotionError(f"not an SMPL model: missing keys {missing}", src)
    v = _array(data, "v_template", src, 2)
    sd = _array(data, "shapedirs", src, 3)
    jr = _array(data, "J_regressor", src, 2)
    w = _array(data, "weights", src, 2)
    kt = np.asarray(data["kintree_table"])
    faces = _array(data, "f", src, 2, np.int64)
    pd = _array(data, "posedirs", src, 3) if data.get("posedirs") is not None else None
    nv, nj = v.shape[0], jr.shape[0]
    if v.shape[1] != 3 or sd.shape[:2] != (nv, 3):
        raise MotionError(f"v_template {v.shape} and shapedirs {sd.shape} disagree (expected (V,3), (V,3,B))", src)
    if jr.shape[1] != nv:
        raise MotionError(f"J_regressor has shape {jr.shape}, expected (J, {nv})", src)
    if w.shape != (nv, nj):
        raise MotionError(f"weights have shape {w.shape}, expected ({nv}, {nj})", src)
    if pd is not None and pd.shape[:2] != (nv, 3):
        raise MotionError(f"posedirs have shape {pd.shape}, expected ({nv}, 3, P)", src)
    if faces.shape[1] != 3 or faces.size and (faces.min() < 0 or faces.max() >= nv):
        raise MotionError(f"faces must be (F, 3) vertex indices below {nv}", src)
    if kt.ndim != 2 or kt.shape != (2, nj) or kt.dtype.kind not in "iuf":
        raise MotionError(f"kintree_table has shape {kt.shape}, expected (2, {nj})", src)
    parents = _parents(kt, src)
    gender = data.get("gender")
    gender = str(gender.item() if isinstance(gender, np.ndarray) else gender) if gender is not None else None
    return SMPLModel(v_template=v, shapedirs=sd, J_regressor=jr, kintree_table=kt.astype(np.int64),
                     parents=parents, weights=w, posedirs=pd, faces=faces, gender=gender, source=src)


def _parents(kintree: np.ndarray, src: str) -> tuple[int, ...]:
    # Row 0 holds the parent of each joint; the root's entry is -1 or 2**32-1.
    raw = kintree[0].astype(np.int64)
    order = kintree[1].astype(np.int64)
    if not np.array_equal(order, np.arange(len(order))):
        raise MotionError("kintree_table row 1 must list joints 0..J-1 in order", src)
    parents = tuple(-1 if (i == 0) else int(p) for i, p in enumerate(raw))
    for i, p in enumerate(parents[1:], start=1):
        if not 0 <= p < i:
            raise MotionError(f"kintree_table gives joint {i} the parent {p} (must be an earlier joint)", src)
    if parents[:BODY_JOINTS] != SMPL_PARENTS[:BODY_JOINTS]:
        raise MotionError("kinematic tree does not match SMPL's body joints 0-21", src)
    return parents


def _betas_vector(model: SMPLModel, betas: Any) -> np.ndarray:
    b = np.asarray(betas, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(b)):
        raise MotionError("betas have NaN/inf values", model.source)
    nb = model.num_betas
    if b.size > nb:
        if np.any(b[nb:] != 0):
            raise MotionError(f"{b.size} betas given but the model has only {nb} shape components", model.source)
        b = b[:nb]
    return np.pad(b, (0, nb - b.size))


def shaped_vertices(model: SMPLModel, betas: Any) -> np.ndarray:
    """Rest-pose vertices of the shaped body, ``v_template + shapedirs @ betas`` (V, 3)."""
    return model.v_template + np.einsum("vcb,b->vc", model.shapedirs, _betas_vector(model, betas))


def joint_rest_positions(model: SMPLModel, betas: Any) -> np.ndarray:
    """SMPL rest joint locations for ``betas``: (J, 3) in the body frame (metres)."""
    return model.J_regressor @ shaped_vertices(model, betas)


def skeleton_from_betas(model: SMPLModel, betas: Any) -> Skeleton:
    """The 24-joint motionlib skeleton of this body shape (pelvis_rest = SMPL J0)."""
    joints = joint_rest_positions(model, betas)
    offsets = np.zeros((NUM_JOINTS, 3))
    if model.num_joints == NUM_JOINTS and model.parents == SMPL_PARENTS:
        n = NUM_JOINTS
    elif model.num_joints > NUM_JOINTS:
        n = BODY_JOINTS
        offsets[BODY_JOINTS:] = Skeleton.default().offsets[BODY_JOINTS:]
    else:
        raise MotionError(f"model has {model.num_joints} joints; expected SMPL (24) or SMPL+H/SMPL-X (52/55)",
                          model.source)
    for j in range(1, n):
        offsets[j] = joints[j] - joints[model.parents[j]]
    return Skeleton(offsets=offsets, pelvis_rest=joints[0].copy())
