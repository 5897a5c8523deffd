"""BVH reader for any skeleton, with a vectorised forward kinematics.

Format handled
--------------
``HIERARCHY`` with one ``ROOT`` and nested ``JOINT`` / ``End Site`` blocks,
each with an ``OFFSET``; ``CHANNELS n c1 .. cn`` per joint with any subset of
``Xposition Yposition Zposition Xrotation Yrotation Zrotation`` in any order
(3 or 6 channels typically, position and rotation channels may interleave).
``MOTION`` then ``Frames: N``, ``Frame Time: dt`` and N lines of values.

Conventions
-----------
* Rotation channels are Euler angles in degrees, applied *intrinsically in the
  listed order*: ``Zrotation Xrotation Yrotation`` gives
  ``R = Rz(z) @ Rx(x) @ Ry(y)``; a child point maps to the parent frame as
  ``p_parent = t + R @ p_child``.
* ``t`` is the joint's OFFSET, except that position channels, where present,
  *replace* the matching OFFSET component (the usual reading: a root's
  position channels give its position; the Bandai files carry 6 channels on
  every joint whose positions equal the OFFSETs).
* Lengths are converted to metres: ``unit`` is "m", "cm", "mm", "inch" or
  "auto" (by skeleton size: a human-sized extent of > 5 units means
  centimetres, > 500 millimetres, otherwise metres).

Every problem raises :class:`MotionError` naming the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import rotations as R
from ..errors import MotionError

UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254}
POS_CHANNELS = {"xposition": 0, "yposition": 1, "zposition": 2}
ROT_CHANNELS = {"xrotation": 0, "yrotation": 1, "zrotation": 2}
_TOKEN = re.compile(r"[{}]|[^\s{}]+")


@dataclass
class BVH:
    """A parsed BVH clip. Lengths are in metres (see ``unit``/``unit_scale``).

    ``local_rot`` (T, J, 3, 3) and ``local_pos`` (T, J, 3) give each joint's
    frame relative to its parent; ``end_parents``/``end_offsets`` are the End
    Sites (parent joint index, offset in metres).
    """

    source: str
    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (J, 3) metres
    channels: list[tuple[str, ...]]  # per joint, as written (case kept)
    frame_time: float
    local_rot: np.ndarray  # (T, J, 3, 3)
    local_pos: np.ndarray  # (T, J, 3) metres
    end_parents: list[int] = field(default_factory=list)
    end_offsets: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    unit: str = "m"
    unit_scale: float = 1.0  # file units -> metres

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def num_frames(self) -> int:
        return int(self.local_rot.shape[0])

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def local_quats(self) -> np.ndarray:
        """(T, J, 4) local rotations as unit quaternions (w, x, y, z)."""
        return R.matrix_to_quat(self.local_rot)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise MotionError(f"no joint named {name!r} (joints: {', '.join(self.names)})", self.source) from None

    def fk(self, frames: slice | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Global joint positions (T, J, 3) in metres and rotations (T, J, 3, 3),
        in the file's own world frame (no axis change)."""
        sel = slice(None) if frames is None else frames
        lr, lp = self.local_rot[sel], self.local_pos[sel]
        g_rot = np.empty_like(lr)
        g_pos = np.empty_like(lp)
        for j, p in enumerate(self.parents):
            if p < 0:
                g_rot[:, j] = lr[:, j]
                g_pos[:, j] = lp[:, j]
            else:
                g_rot[:, j] = g_rot[:, p] @ lr[:, j]
                g_pos[:, j] = g_pos[:, p] + np.einsum("tij,tj->ti", g_rot[:, p], lp[:, j])
        return g_pos, g_rot

    def end_site_positions(self, frames: slice | np.ndarray | None = None) -> np.ndarray:
        """(T, E, 3) global End Site positions in metres."""
        g_pos, g_rot = self.fk(frames)
        if not self.end_parents:
            return np.zeros((g_pos.shape[0], 0, 3))
        p = np.asarray(self.end_parents)
        return g_pos[:, p] + np.einsum("tkij,kj->tki", g_rot[:, p], self.end_offsets)

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions with every rotation zero and OFFSETs only."""
        pos = np.zeros((self.num_joints, 3))
        for j, p in enumerate(self.parents):
            pos[j] = self.offsets[j] if p < 0 else pos[p] + self.offsets[j]
        return pos


# ---------------------------------------------------------------- rotations
def euler_to_matrix(angles_deg: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Intrinsic Euler rotation ``R = R_a0(t0) @ R_a1(t1) @ ...`` for (..., k)
    angles in degrees about axes ``axes`` (0=x, 1=y, 2=z)."""
    ang = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    out = np.broadcast_to(np.eye(3), ang.shape[:-1] + (3, 3)).copy()
    for k, ax in enumerate(axes):
        c, s = np.cos(ang[..., k]), np.sin(ang[..., k])
        m = np.zeros(ang.shape[:-1] + (3, 3))
        i, j = [(1, 2), (2, 0), (0, 1)][ax]
        m[..., ax, ax] = 1.0
        m[..., i, i] = c
        m[..., j, j] = c
        m[..., i, j] = -s
        m[..., j, i] = s
        out = out @ m
    return out


# ------------------------------------------------------------------- parsing
class _Tokens:
    def __init__(self, text: str, src: str):
        self.toks = _TOKEN.findall(text)
        self.i = 0
        self.src = src

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self, what: str) -> str:
        if self.i >= len(self.toks):
            raise MotionError(f"HIERARCHY ends early (expected {what}); missing brace or truncated file", self.src)
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, word: str) -> None:
        t = self.next(repr(word))
        if t.upper() != word.upper():
            raise MotionError(f"HIERARCHY: expected {word!r}, found {t!r}", self.src)

    def number(self, what: str) -> float:
        t = self.next(what)
        try:
            v = float(t)
        except ValueError:
            raise MotionError(f"HIERARCHY: {what} must be a number, found {t!r}", self.src) from None
        if not np.isfinite(v):
            raise MotionError(f"HIERARCHY: {what} is not finite ({t})", self.src)
        return v


def _parse_hierarchy(text: str, src: str):
    tk = _Tokens(text, src)
    tk.expect("HIERARCHY")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    end_parents: list[int] = []
    end_offsets: list[list[float]] = []

    def block(name: str, parent: int, is_end: bool) -> None:
        tk.expect("{")
        tk.expect("OFFSET")
        off = [tk.number(f"OFFSET of {name!r}") for _ in range(3)]
        if is_end:
            end_parents.append(parent)
            end_offsets.append(off)
            tk.expect("}")
            return
        idx = len(names)
        names.append(name)
        parents.append(parent)
        offsets.append(off)
        tk.expect("CHANNELS")
        n_tok = tk.next(f"channel count of {name!r}")
        if not n_tok.isdigit():
            raise MotionError(f"HIERARCHY: channel count of joint {name!r} must be an integer, found {n_tok!r}", src)
        chans = tuple(tk.next(f"channel names of {name!r}") for _ in range(int(n_tok)))
        for c in chans:
            if c.lower() not in POS_CHANNELS and c.lower() not in ROT_CHANNELS:
                raise MotionError(f"joint {name!r} has unknown channel {c!r} (expected X/Y/Z position/rotation)", src)
        if len({c.lower() for c in chans}) != len(chans):
            raise MotionError(f"joint {name!r} lists a channel twice: {' '.join(chans)}", src)
        channels.append(chans)
        while True:
            t = tk.next(f"'}}' closing joint {name!r}")
            up = t.upper()
            if t == "}":
                return
            if up == "JOINT":
                child = tk.next("joint name")
                if child in ("{", "}"):
                    raise MotionError(f"HIERARCHY: JOINT under {name!r} has no name", src)
                block(child, idx, False)
            elif up == "END":
                tk.expect("Site")
                block(f"{name}_end", idx, True)
            elif up == "MOTION":
                raise MotionError(f"HIERARCHY: missing '}}' (MOTION reached inside joint {name!r})", src)
            else:
                raise MotionError(f"HIERARCHY: unexpected {t!r} inside joint {name!r}", src)

    tk.expect("ROOT")
    root = tk.next("root name")
    block(root, -1, False)
    rest = tk.peek()
    if rest is not None:
        if rest.upper() == "ROOT":
            raise MotionError("more than one ROOT is not supported", src)
        raise MotionError(f"HIERARCHY: unexpected {rest!r} after the root joint (extra '}}'?)", src)
    return names, parents, np.array(offsets, dtype=np.float64), channels, end_parents, \
        np.array(end_offsets, dtype=np.float64).reshape(-1, 3)


def _parse_motion(text: str, n_channels: int, src: str) -> tuple[np.ndarray, float]:
    lines = text.splitlines()
    k = 0

    def header(key: str) -> str:
        nonlocal k
        while k < len(lines) and not lines[k].strip():
            k += 1
        if k >= len(lines):
            raise MotionError(f"MOTION section ends before '{key}' (truncated file)", src)
        line = lines[k].strip()
        if not line.lower().replace(" ", "").startswith(key.lower().replace(" ", "") + ":"):
            raise MotionError(f"MOTION: expected '{key}:', found {line[:40]!r}", src)
        k += 1
        return line.split(":", 1)[1].strip()

    frames_s = header("Frames")
    try:
        n_frames = int(frames_s)
    except ValueError:
        raise MotionError(f"Frames must be an integer, found {frames_s!r}", src) from None
    if n_frames < 2:
        raise MotionError(f"a clip needs at least 2 frames, the file declares {n_frames}", src)
    ft_s = header("Frame Time")
    try:
        frame_time = float(ft_s)
    except ValueError:
        raise MotionError(f"Frame Time must be a number, found {ft_s!r}", src) from None
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise MotionError(f"Frame Time must be a positive number of seconds, found {ft_s!r}", src)
    data = [ln for ln in lines[k:] if ln.strip()]
    if len(data) != n_frames:
        what = "truncated file?" if len(data) < n_frames else "extra lines after the data?"
        raise MotionError(f"declares {n_frames} frames but has {len(data)} lines of values ({what})", src)
    counts = np.fromiter((len(ln.split()) for ln in data), dtype=np.int64, count=len(data))
    bad = np.flatnonzero(counts != n_channels)
    if bad.size:
        f = int(bad[0])
        raise MotionError(f"frame {f} has {counts[f]} values, expected {n_channels} (one per channel)"
                          + (" (truncated file?)" if f == n_frames - 1 else ""), src)
    try:
        values = np.array(" ".join(data).split(), dtype=np.float64)
    except ValueError:
        for f, ln in enumerate(data):
            for tok in ln.split():
                try:
                    float(tok)
                except ValueError:
                    raise MotionError(f"frame {f} has a non-numeric value {tok[:20]!r}", src) from None
        raise  # pragma: no cover - float() and numpy agree on what parses
    values = values.reshape(n_frames, n_channels)
    finite = np.isfinite(values)
    if not finite.all():
        f = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise MotionError(f"frame {f} has NaN/inf values ({int((~finite).sum())} in all)", src)
    return values, frame_time


def _detect_unit(rest: np.ndarray, first: np.ndarray) -> str:
    """Guess the length unit from the skeleton's own size. Only the rest pose
    (OFFSETs) counts: a first frame also holds the root's global position,
    which for an actor standing metres from the origin would read as a giant
    skeleton (seen on Bandai dataset-2 clips starting > 5 m away)."""
    extent = float(np.ptp(rest, axis=0).max())
    if extent < 1e-9:  # all OFFSETs zero: fall back to the posed skeleton about its centre
        extent = float(np.ptp(first - first.mean(axis=0), axis=0).max())
    if extent > 500:
        return "mm"
    if extent > 5:
        return "cm"
    return "m"


def read_bvh(path: str | Path, unit: str = "auto") -> BVH:
    """Parse a BVH file (see the module docstring for conventions)."""
    path = Path(path)
    src = str(path)
    if unit != "auto" and unit not in UNITS:
        raise MotionError(f"unknown unit {unit!r} (expected auto or one of {sorted(UNITS)})", src)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise MotionError(f"cannot read BVH file ({e.strerror or e})", src) from None
    m = re.search(r"^\s*MOTION\s*$", text, flags=re.MULTILINE)
    if m is None:
        raise MotionError("no MOTION section (truncated file?)", src)
    head, motion_text = text[: m.start()], text[m.end():]
    if not head.lstrip().upper().startswith("HIERARCHY"):
        raise MotionError("does not start with HIERARCHY", src)
    names, parents, offsets, channels, end_parents, end_offsets = _parse_hierarchy(head, src)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise MotionError(f"duplicate joint names: {', '.join(dup)}", src)
    n_ch = sum(len(c) for c in channels)
    values, frame_time = _parse_motion(motion_text, n_ch, src)
    t, j = values.shape[0], len(names)

    local_pos = np.broadcast_to(offsets, (t, j, 3)).copy()
    local_rot = np.broadcast_to(np.eye(3), (t, j, 3, 3)).copy()
    col = 0
    for ji, chans in enumerate(channels):
        rot_cols, rot_axes = [], []
        for c in chans:
            lc = c.lower()
            if lc in POS_CHANNELS:
                local_pos[:, ji, POS_CHANNELS[lc]] = values[:, col]
            else:
                rot_cols.append(col)
                rot_axes.append(ROT_CHANNELS[lc])
            col += 1
        if rot_cols:
            local_rot[:, ji] = euler_to_matrix(values[:, rot_cols], tuple(rot_axes))

    bvh = BVH(source=src, names=names, parents=parents, offsets=offsets, channels=channels,
              frame_time=frame_time, local_rot=local_rot, local_pos=local_pos,
              end_parents=end_parents, end_offsets=end_offsets)
    if unit == "auto":
        unit = _detect_unit(bvh.rest_positions(), bvh.fk(slice(0, 1))[0][0])
    s = UNITS[unit]
    bvh.unit, bvh.unit_scale = unit, s
    bvh.offsets = offsets * s
    bvh.local_pos = local_pos * s
    bvh.end_offsets = end_offsets * s
    return bvh
