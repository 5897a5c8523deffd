"""Records of the clip store: a clip is ``(arrays, meta)``, named numeric arrays and a JSON object.

A :class:`~motionlib.motion.clip.Motion` becomes the arrays ``trans`` (T, 3), ``rotations`` (T, 24, 4)
wxyz, ``betas`` (B,) and, when the clip has its own body, ``offsets`` (24, 3), all float64 as in the
clip file (:mod:`motionlib.motion.io`), and the meta ``{"kind": "motion", "fps", "gender",
"body_scale", "meta"}`` (``meta``: the clip's own ``Motion.meta``). Reading it back gives the clip
bit for bit: the stored quaternions are put back as they were, not renormalised again.

Arrays are written as ``.npy`` (no pickles: object arrays are refused) and meta as JSON.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import numpy as np

from ..clip import Motion
from ..errors import MotionError

MOTION_KIND = "motion"
MOTION_ARRAYS = ("trans", "rotations", "betas", "offsets")
_ID_BAD = re.compile(r"[/\\\x00-\x1f\x7f]")
_NAME_OK = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def check_clip_id(clip_id: str) -> str:
    """A clip id is a non-empty string of at most 200 characters, without ``/``, ``\\`` or control
    characters, not starting with a dot; raise ``ValueError`` otherwise."""
    if not isinstance(clip_id, str) or not clip_id or len(clip_id) > 200:
        raise ValueError(f"a clip id must be a non-empty string of at most 200 characters, got {clip_id!r}")
    if _ID_BAD.search(clip_id) or clip_id.startswith("."):
        raise ValueError(f"a clip id must not contain '/', '\\' or control characters, nor start with '.': "
                         f"{clip_id!r}")
    return clip_id


def check_array_name(name: str) -> str:
    """Array names are 1-100 characters of letters, digits, ``_``, ``.`` and ``-`` (not starting with
    ``.`` or ``-``)."""
    if not isinstance(name, str) or not _NAME_OK.match(name):
        raise ValueError(f"an array name must be 1-100 characters of [A-Za-z0-9_.-] not starting with '.' or "
                         f"'-', got {name!r}")
    return name


def json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"meta value of type {type(o).__name__} is not JSON-serialisable")


def encode_meta(meta: dict[str, Any]) -> bytes:
    if not isinstance(meta, dict):
        raise ValueError(f"record meta must be a dict, got {type(meta).__name__}")
    return json.dumps(meta, default=json_default, ensure_ascii=False, allow_nan=True).encode("utf-8")


def decode_meta(data: bytes, source: str) -> dict[str, Any]:
    try:
        meta = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MotionError(f"record meta is not valid JSON ({e})", source) from None
    if not isinstance(meta, dict):
        raise MotionError("record meta is not a JSON object", source)
    return meta


def encode_array(arr: np.ndarray) -> bytes:
    """``.npy`` bytes of ``arr`` (no pickles: an object array is a ``ValueError``)."""
    arr = np.asarray(arr)
    if arr.dtype.hasobject:
        raise ValueError(f"arrays of dtype {arr.dtype} cannot be stored (no pickles)")
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def decode_array(data: bytes | memoryview, source: str) -> np.ndarray:
    try:
        return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except (ValueError, EOFError, OSError) as e:
        raise MotionError(f"not a readable .npy array ({e})", source) from None


def motion_to_record(motion: Motion) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, meta) of a clip, lossless (see the module docstring)."""
    arrays = {"trans": motion.trans.astype(np.float64), "rotations": motion.rotations.astype(np.float64),
              "betas": motion.betas.astype(np.float64)}
    if motion.offsets is not None:
        arrays["offsets"] = motion.offsets.astype(np.float64)
    meta = {"kind": MOTION_KIND, "fps": float(motion.fps), "gender": motion.gender,
            "body_scale": float(motion.body_scale), "meta": motion.meta}
    return arrays, meta


def is_motion_record(meta: dict[str, Any]) -> bool:
    return meta.get("kind") == MOTION_KIND


def motion_from_record(arrays: dict[str, np.ndarray], meta: dict[str, Any], source: str) -> Motion:
    """The clip of a record written by :func:`motion_to_record`; errors are :class:`MotionError` naming
    ``source``."""
    if not is_motion_record(meta):
        raise MotionError(f"record is not a motion clip (kind {meta.get('kind')!r})", source)
    missing = [k for k in ("trans", "rotations") if k not in arrays] + [k for k in ("fps",) if k not in meta]
    if missing:
        raise MotionError(f"motion record lacks {missing}", source)
    clip_meta = meta.get("meta", {})
    try:
        m = Motion(fps=float(meta["fps"]), trans=arrays["trans"], rotations=arrays["rotations"],
                   betas=arrays.get("betas", np.zeros(10)), gender=str(meta.get("gender", "neutral")),
                   offsets=arrays.get("offsets"), body_scale=float(meta.get("body_scale", 1.0)),
                   meta=clip_meta if isinstance(clip_meta, dict) else {})
    except MotionError as e:
        raise MotionError(e.problem, source) from None
    except (TypeError, ValueError) as e:
        raise MotionError(f"invalid motion record ({e})", source) from None
    # validated above; the stored unit quaternions are kept as written (a second normalisation could move
    # the last bit)
    m.rotations = np.asarray(arrays["rotations"], dtype=np.float64)
    return m
