"""A small synthetic SMPL model for tests (the real one is never shipped).

24 joints at the default motionlib body's rest joints (pelvis at J0), six
vertices around each joint, a J_regressor averaging them, and two shape
components: beta0 scales the whole body by 1 + 0.1 * beta0 about the origin,
beta1 moves the knees down by 5 cm and the ankles and feet by 10 cm.

``write_chumpy_pkl`` writes it in the official SMPL ``.pkl`` layout: arrays as
chumpy objects (with chumpy's pickled state: the instance dict minus caches,
value under ``'x'``), ``J_regressor`` as a scipy ``csc_matrix``, protocol 2.
chumpy itself is not installed: stand-in classes are registered under the
module names ``chumpy.ch`` / ``chumpy.reordering`` only while pickling.
"""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from motionlib.motion import Skeleton

KNEES, ANKLES_FEET = (4, 5), (7, 8, 10, 11)
VERTS_PER_JOINT = 6


def default_rest_joints() -> np.ndarray:
    sk = Skeleton.default()
    return sk.rest_positions() + sk.pelvis_rest


def synthetic_smpl_arrays(num_betas: int = 10) -> dict[str, np.ndarray]:
    joints = default_rest_joints()
    n = len(joints)
    around = np.concatenate([np.eye(3), -np.eye(3)]) * 0.01  # symmetric: averages to zero
    v = (joints[:, None, :] + around[None]).reshape(-1, 3)
    owner = np.repeat(np.arange(n), VERTS_PER_JOINT)
    jreg = np.zeros((n, len(v)))
    jreg[owner, np.arange(len(v))] = 1.0 / VERTS_PER_JOINT
    shapedirs = np.zeros((len(v), 3, num_betas))
    shapedirs[:, :, 0] = 0.1 * v
    shapedirs[np.isin(owner, KNEES), 1, 1] = -0.05
    shapedirs[np.isin(owner, ANKLES_FEET), 1, 1] = -0.10
    weights = np.zeros((len(v), n))
    weights[np.arange(len(v)), owner] = 1.0
    faces = np.stack([np.arange(n) * 6, np.arange(n) * 6 + 1, np.arange(n) * 6 + 2], axis=1)
    parents = [4294967295] + list(Skeleton.default().parents[1:])
    kintree = np.array([parents, list(range(n))], dtype=np.int64)
    posedirs = np.zeros((len(v), 3, 207))
    return {"v_template": v, "shapedirs": shapedirs, "J_regressor": jreg, "kintree_table": kintree,
            "weights": weights, "posedirs": posedirs, "f": faces.astype(np.uint32)}


def _fake_chumpy() -> tuple[type, type, dict[str, types.ModuleType]]:
    ch_mod = types.ModuleType("chumpy.ch")
    re_mod = types.ModuleType("chumpy.reordering")

    class Ch:
        def __init__(self, x):
            self.__dict__.update({"_dirty_vars": set(), "_itr": None, "_depends_on_deps": {},
                                  "_make_dense": False, "_make_sparse": False, "x": np.asarray(x)})

        def __getstate__(self):  # chumpy drops its weakref caches; the rest of __dict__ is the state
            return dict(self.__dict__)

    class transpose:
        def __init__(self, a, axes):
            self.__dict__.update({"_dirty_vars": set(), "_itr": None, "_depends_on_deps": {},
                                  "_make_dense": False, "_make_sparse": False, "a": a, "axes": axes})

        def __getstate__(self):
            return dict(self.__dict__)

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    transpose.__module__, transpose.__qualname__ = "chumpy.reordering", "transpose"
    ch_mod.Ch, re_mod.transpose = Ch, transpose
    return Ch, transpose, {"chumpy": types.ModuleType("chumpy"), "chumpy.ch": ch_mod, "chumpy.reordering": re_mod}


def write_chumpy_pkl(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    Ch, transpose, mods = _fake_chumpy()
    saved = {k: sys.modules.get(k) for k in mods}
    sys.modules.update(mods)
    try:
        doc = {
            "v_template": Ch(arrays["v_template"]),
            "shapedirs": Ch(arrays["shapedirs"]),
            # posedirs as a chumpy expression: transpose of a stored (P, V, 3) array
            "posedirs": transpose(Ch(arrays["posedirs"].transpose(2, 0, 1)), (1, 2, 0)),
            "weights": Ch(arrays["weights"]),
            "J_regressor": sp.csc_matrix(arrays["J_regressor"]),
            "J_regressor_prior": sp.csc_matrix(arrays["J_regressor"]),
            "kintree_table": arrays["kintree_table"],
            "f": arrays["f"],
            "J": Ch(arrays["J_regressor"] @ arrays["v_template"]),
            "bs_style": "lbs",
            "bs_type": "lrotmin",
        }
        path.write_bytes(pickle.dumps(doc, protocol=2))
    finally:
        for k, m in saved.items():
            if m is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = m
    return path


def write_npz_model(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path
