"""Fit the SMPL skeleton to a BVH clip by joint positions.

Pipeline (``bvh_to_motion``):

1. Read the BVH (:mod:`.bvh`), run its FK, convert to metres and to our z-up
   world (a y-up source is rotated by +90 degrees about x: (x, y, z) ->
   (x, -z, y), a proper rotation, so handedness and left/right are kept).
2. Build one target position per SMPL joint from the mapping file
   (``data/<name>_smpl_map.json``): an affine combination of source joints,
   which also places SMPL joints the source lacks (see the file's "about").
3. Scale the default SMPL body uniformly (``Motion.body_scale``) so that the
   summed lengths of the bones between *direct* joints (one source joint each)
   match: scale = sum(source bone lengths, median over frames) / sum(SMPL rest
   bone lengths), bones taken between each direct joint and its nearest direct
   SMPL ancestor.
4. Analytic solve per frame (:func:`analytic_pose`): root and spine3 by weighted
   Kabsch on their children's directions, every other bone by the minimal
   rotation onto the target direction plus a twist from a hint (the foot for
   the legs, the forearm bend for the upper arms, the collar line for the
   spine), walking down the tree.
5. A short batched optimisation in torch (:func:`optimise_fit`) of all frames at once:
   Adam on axis-angle corrections of the local rotations plus the root
   translation; loss = weighted joint position error + small joint
   acceleration + small pull toward the analytic solution.

``meta["fit_error_mm"]`` is the mean distance (mm) over frames and direct
joints between the SMPL joints and their source joints.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .. import rotations as R
from ..clip import Motion
from ..errors import MotionError
from ..fk import fk, fk_t
from ..skeleton import NUM_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS, Skeleton
from .bvh import BVH, read_bvh
from ..clip import FIT_META
from .fit_solve import analytic_pose, flatten_toes, optimise_fit

SHIPPED_MAPPINGS = ("bandai",)
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
DEFAULT_ITERS = 80


@dataclass
class Mapping:
    """A source-skeleton -> SMPL joint mapping (see ``data/bandai_smpl_map.json``)."""

    name: str
    up_axis: str  # "y" or "z"
    unit: str  # "auto" or a unit of :mod:`.bvh`
    combos: list[dict[str, float]]  # per SMPL joint: source joint -> affine weight
    weights: np.ndarray  # (24,) loss weight per SMPL joint
    source: str = ""
    neutral: dict[str, np.ndarray] | None = None  # source joints standing neutrally, SMPL body frame
    neutral_bones: tuple[int, ...] = ()  # SMPL joints whose bone (from the parent) aligns by the neutral pose
    # SMPL joints whose position target is turned, about the parent joint's
    # flexion axis, by the angle between the neutral pose and SMPL's rest pose
    # (see :meth:`calibrated_targets`)
    angle_calibrated: tuple[int, ...] = ()

    def align_offsets(self, offsets: np.ndarray) -> np.ndarray:
        """(24, 3) bone vectors used as rest directions when aligning bones:
        the neutral pose's for ``neutral_bones``, ``offsets`` elsewhere."""
        out = np.array(offsets, dtype=np.float64, copy=True)
        if not self.neutral or not self.neutral_bones:
            return out
        names = list(self.neutral)
        pts = np.einsum("kj,jc->kc", self.matrix(names, self.source), np.stack([self.neutral[n] for n in names]))
        for j in self.neutral_bones:
            out[j] = pts[j] - pts[SMPL_PARENTS[j]]
        return out

    def calibrated_targets(self, targets: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Targets for the position fit with the ``angle_calibrated`` joints turned.

        A source joint can sit elsewhere on the limb than SMPL's: Bandai's Toes
        joint is 7.5 cm below the ankle standing (ankle->toe 39.6 degrees below
        horizontal on planted feet, measured on dataset-1) where SMPL's foot
        joint is 24.5 degrees below. Fitting positions alone pitches the SMPL
        foot 15 degrees down, which puts the toes ~3 cm into the floor of a
        simulated humanoid. For joint j with parent p and grandparent g, the
        angle between bones (g->p, p->j) in the neutral pose is compared with
        SMPL's rest pose, and each frame's target of j is turned about the
        axis normal to that frame's two bones by the difference, so a neutral
        source pose maps to SMPL's rest angle."""
        if not self.angle_calibrated or not self.neutral:
            return targets
        names = list(self.neutral)
        pts = np.einsum("kj,jc->kc", self.matrix(names, self.source), np.stack([self.neutral[n] for n in names]))
        out = np.array(targets, dtype=np.float64, copy=True)
        for j in self.angle_calibrated:
            p = SMPL_PARENTS[j]
            g = SMPL_PARENTS[p]
            delta = _angle(offsets[p], offsets[j]) - _angle(pts[p] - pts[g], pts[j] - pts[p])
            a = targets[:, p] - targets[:, g]
            v = targets[:, j] - targets[:, p]
            n = np.cross(a, v)
            norm = np.linalg.norm(n, axis=-1, keepdims=True)
            ok = norm[:, 0] > 1e-9 * np.linalg.norm(a, axis=-1) * np.linalg.norm(v, axis=-1)
            n = np.where(ok[:, None], n / np.maximum(norm, 1e-12), 0.0)
            # Rodrigues: turning v by +delta about n = a x v opens the angle between a and v
            c, s_ = np.cos(delta), np.sin(delta)
            v_rot = v * c + np.cross(n, v) * s_ + n * (n * v).sum(-1, keepdims=True) * (1 - c)
            out[:, j] = targets[:, p] + np.where(ok[:, None], v_rot, v)
        return out

    @property
    def source_joints(self) -> list[str]:
        return sorted({n for c in self.combos for n in c})

    @property
    def direct(self) -> np.ndarray:
        """(24,) bool: target is exactly one source joint with weight 1."""
        return np.array([len(c) == 1 and abs(next(iter(c.values())) - 1.0) < 1e-9 and w > 0
                         for c, w in zip(self.combos, self.weights)])

    def matrix(self, names: list[str], src: str | None = None) -> np.ndarray:
        """(24, J) combination matrix over the BVH joints ``names``."""
        missing = [n for n in self.source_joints if n not in names]
        if missing:
            raise MotionError(f"mapping {self.name!r} needs joints the file lacks: {', '.join(missing)}", src)
        m = np.zeros((NUM_JOINTS, len(names)))
        for j, combo in enumerate(self.combos):
            for n, w in combo.items():
                m[j, names.index(n)] += w
        return m


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.arccos(np.clip(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)), -1.0, 1.0)))


def _mapping_path(mapping: str | Path) -> Path | None:
    p = Path(mapping)
    if p.suffix == ".json":
        return p
    return None


def load_mapping(mapping: str | Path) -> Mapping:
    """Load a shipped mapping by name ("bandai") or a mapping JSON file by path."""
    path = _mapping_path(mapping)
    if path is None:
        if str(mapping) not in SHIPPED_MAPPINGS:
            raise MotionError(f"unknown mapping {str(mapping)!r} (shipped: {', '.join(SHIPPED_MAPPINGS)}; "
                              "or give a path to a .json mapping file)")
        text = resources.files("motionlib.motion.ingest").joinpath(f"data/{mapping}_smpl_map.json").read_text()
        src = f"<shipped mapping {mapping}>"
    else:
        src = str(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise MotionError(f"cannot read mapping file ({e.strerror or e})", src) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise MotionError(f"mapping file is not valid JSON ({e})", src) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("joints"), dict):
        raise MotionError("mapping file needs a 'joints' object mapping SMPL joint names to sources", src)
    unknown = [k for k in doc["joints"] if k not in SMPL_JOINT_NAMES]
    if unknown:
        raise MotionError(f"mapping names unknown SMPL joints: {', '.join(unknown)} "
                          f"(SMPL joints: {', '.join(SMPL_JOINT_NAMES)})", src)
    missing = [k for k in SMPL_JOINT_NAMES if k not in doc["joints"]]
    if missing:
        raise MotionError(f"mapping gives no target for SMPL joints: {', '.join(missing)}", src)
    up = str(doc.get("up_axis", "y")).lower()
    if up not in ("y", "z"):
        raise MotionError(f"up_axis must be 'y' or 'z', got {up!r}", src)
    combos, weights = [], np.zeros(NUM_JOINTS)
    for j, name in enumerate(SMPL_JOINT_NAMES):
        entry = doc["joints"][name]
        combo = entry.get("source") if isinstance(entry, dict) else None
        if not isinstance(combo, dict) or not combo:
            raise MotionError(f"joint {name!r}: 'source' must be a non-empty object of source joint -> weight", src)
        try:
            combo = {str(k): float(v) for k, v in combo.items()}
            weights[j] = float(entry.get("weight", 1.0))
        except (TypeError, ValueError):
            raise MotionError(f"joint {name!r}: weights must be numbers", src) from None
        if abs(sum(combo.values()) - 1.0) > 1e-6:
            raise MotionError(f"joint {name!r}: source weights must sum to 1, got {sum(combo.values()):.4f}", src)
        if weights[j] < 0 or not np.isfinite(weights[j]):
            raise MotionError(f"joint {name!r}: loss weight must be >= 0", src)
        combos.append(combo)
    if not any(weights[j] > 0 for j in (1, 2)) or weights.sum() <= 0:
        raise MotionError("mapping must give the hips a positive weight", src)
    neutral, bones = _neutral(doc, combos, src)
    calibrated = doc.get("angle_calibrated", [])
    bad = [b for b in calibrated if b not in SMPL_JOINT_NAMES or SMPL_PARENTS[SMPL_JOINT_NAMES.index(b)] <= 0]
    if bad:
        raise MotionError(f"angle_calibrated names joints without a grandparent: {', '.join(map(str, bad))}", src)
    if calibrated and neutral is None:
        raise MotionError("angle_calibrated needs a neutral_pose", src)
    return Mapping(name=str(doc.get("name", Path(str(mapping)).stem)), up_axis=up,
                   unit=str(doc.get("unit", "auto")), combos=combos, weights=weights, source=src,
                   neutral=neutral, neutral_bones=bones,
                   angle_calibrated=tuple(SMPL_JOINT_NAMES.index(b) for b in calibrated))


def _neutral(doc: dict, combos: list[dict[str, float]], src: str) -> tuple[dict[str, np.ndarray] | None, tuple[int, ...]]:
    pose = doc.get("neutral_pose")
    bones = doc.get("neutral_bones", [])
    if pose is None:
        if bones:
            raise MotionError("neutral_bones needs a neutral_pose", src)
        return None, ()
    joints = pose.get("joints") if isinstance(pose, dict) else None
    if not isinstance(joints, dict):
        raise MotionError("neutral_pose needs a 'joints' object of source joint -> [x, y, z]", src)
    try:
        neutral = {str(k): np.asarray(v, dtype=np.float64).reshape(3) for k, v in joints.items()}
    except (TypeError, ValueError):
        raise MotionError("neutral_pose joints must be [x, y, z] numbers", src) from None
    need = sorted({n for c in combos for n in c} - set(neutral))
    if need:
        raise MotionError(f"neutral_pose lacks source joints: {', '.join(need)}", src)
    unknown = [b for b in bones if b not in SMPL_JOINT_NAMES or b == "pelvis"]
    if unknown:
        raise MotionError(f"neutral_bones names unknown SMPL joints: {', '.join(map(str, unknown))}", src)
    return neutral, tuple(SMPL_JOINT_NAMES.index(b) for b in bones)


def detect_mapping(names: list[str] | tuple[str, ...], source: str | None = None) -> str:
    """Name of the shipped mapping whose source joints all occur in ``names``."""
    names = list(names)
    best, best_missing = None, None
    for m in SHIPPED_MAPPINGS:
        need = load_mapping(m).source_joints
        missing = [n for n in need if n not in names]
        if not missing:
            return m
        if best_missing is None or len(missing) < len(best_missing):
            best, best_missing = m, missing
    known = {n for m in SHIPPED_MAPPINGS for n in load_mapping(m).source_joints}
    unknown = [n for n in names if n not in known]
    raise MotionError(f"no joint mapping fits this skeleton: joints unknown to every mapping: "
                      f"{', '.join(unknown) or '(none)'}; closest mapping {best!r} lacks "
                      f"{', '.join(best_missing or [])}. Pass a mapping .json file.", source)


# ------------------------------------------------------------------ targets
def source_positions(bvh: BVH, up_axis: str) -> np.ndarray:
    """(T, J, 3) source joint positions in metres in the z-up world."""
    pos, _ = bvh.fk()
    return pos @ Y_UP_TO_Z_UP.T if up_axis == "y" else pos


def body_scale_for(targets: np.ndarray, direct: np.ndarray, skeleton: Skeleton) -> float:
    """Uniform scale so the SMPL bones between direct joints sum to the source's."""
    rest = skeleton.rest_positions()
    src_len, smpl_len = 0.0, 0.0
    for j in range(1, NUM_JOINTS):
        if not direct[j]:
            continue
        a = SMPL_PARENTS[j]
        while a >= 0 and not direct[a]:
            a = SMPL_PARENTS[a]
        if a < 0:
            continue
        src_len += float(np.median(np.linalg.norm(targets[:, j] - targets[:, a], axis=-1)))
        smpl_len += float(np.linalg.norm(rest[j] - rest[a]))
    if smpl_len <= 0 or not np.isfinite(src_len) or src_len <= 0:
        raise MotionError("cannot scale the body: the mapped source bones have no length")
    return round(src_len / smpl_len, 4)  # rounded: one source skeleton, one body


def fitted_offsets(targets: np.ndarray, align: np.ndarray) -> np.ndarray:
    """Per-bone body matched to the source (``body="fitted"``): each bone points
    along its alignment direction (the source's neutral pose where the mapping
    gives one, else SMPL's rest direction) with the source's length between
    the two targets (median over frames). Rounded to 0.1 mm so that one source
    skeleton gives one body."""
    parents = np.asarray(SMPL_PARENTS[1:])
    lengths = np.median(np.linalg.norm(targets[:, 1:] - targets[:, parents], axis=-1), axis=0)
    off = np.zeros((NUM_JOINTS, 3))
    off[1:] = align[1:] / np.maximum(np.linalg.norm(align[1:], axis=-1, keepdims=True), 1e-12) * lengths[:, None]
    return np.round(off, 4)


def ground_height(glob: np.ndarray, soles: np.ndarray, level_deg: float = 10.0) -> float:
    """Height of the floor under a fitted clip: a level foot on the ground
    stands on it. Over the frames where a foot is level (its up axis within
    ``level_deg`` of vertical), the 20th percentile of that foot's lowest sole
    point (level feet in the air are higher; planted ones the lowest). Clips with
    fewer than 10 level-foot frames fall back to the 5th percentile of every
    frame's lowest sole point. ``glob``: (T, 24, 3, 3) global joint rotations;
    ``soles``: (T, 4) l/r ankle, l/r toe sole heights."""
    heights = []
    for ankle, (si, ti) in ((7, (0, 2)), (8, (1, 3))):
        tilt = np.degrees(np.arccos(np.clip(glob[:, ankle, 2, 1], -1.0, 1.0)))
        level = tilt < level_deg
        heights.append(np.minimum(soles[level, si], soles[level, ti]))
    h = np.concatenate(heights)
    if h.size >= 10:
        return float(np.percentile(h, 20))
    return float(np.percentile(soles.min(axis=1), 5))


def _snap_fps(fps: float) -> float:
    """BVH frame times are written with ~6 digits (0.0333333): snap to a whole fps."""
    r = round(fps)
    return float(r) if r > 0 and abs(fps - r) < 1e-3 * fps else float(fps)


def bvh_to_motion(path: str | Path, mapping: str | Path = "bandai", fps: float | None = None,
                  iters: int = DEFAULT_ITERS, threads: int | None = None, unit: str | None = None,
                  body: str = "scaled", ground: bool = True) -> Motion:
    """Read a BVH file and fit an SMPL :class:`Motion` to it.

    ``mapping``: a shipped name ("bandai"), "auto" (detect from joint names) or a
    mapping .json path. ``fps``: resample to this rate (default: the file's).
    ``iters``: optimisation steps of the fit (0 = analytic solution only). ``threads``: set
    torch's intra-op threads for the call (1 in pool workers). ``unit``
    overrides the mapping's length unit ("auto", "m", "cm", "mm", "inch").
    ``body``: "scaled" (default SMPL body scaled uniformly, ``Motion.body_scale``)
    or "fitted" (per-bone offsets matched to the source, ``Motion.offsets``; see
    :func:`fitted_offsets`).
    ``ground``: shift the clip vertically so the soles (see
    :mod:`motionlib.motion.metrics`) rest on z = 0 (see :func:`ground_height`). Source joint centres
    (e.g. Bandai's Toes joint, ~4 cm up when planted) differ from SMPL's, so
    without this the SMPL body floats a few centimetres. The fit error is
    measured before the shift; the shift is kept in ``meta["fit"]`` (read it with
    :func:`motionlib.motion.clip.fit_details`, which also reads clips that stored it
    under the older key ``"retarget"``).
    """
    if body not in ("scaled", "fitted"):
        raise MotionError(f"body must be 'scaled' or 'fitted', got {body!r}", str(path))
    t0 = time.perf_counter()
    src = str(path)
    bvh = read_bvh(path, unit="auto")  # re-scaled below if the mapping or caller names a unit
    if str(mapping) == "auto":
        mapping = detect_mapping(bvh.names, src)
    try:
        mp = load_mapping(mapping)
    except MotionError as e:
        raise MotionError(f"{e}", src) from None
    want_unit = unit or mp.unit
    if want_unit != "auto" and want_unit != bvh.unit:
        bvh = read_bvh(path, unit=want_unit)
    m = mp.matrix(bvh.names, src)
    targets = np.einsum("kj,tjc->tkc", m, source_positions(bvh, mp.up_axis))
    direct = mp.direct
    scale = body_scale_for(targets, direct, Skeleton.default())
    skel = Skeleton.default().scaled(scale)
    offsets = None
    if body == "fitted":
        offsets = fitted_offsets(targets, mp.align_offsets(skel.offsets))
        skel = Skeleton(offsets)

    rot0, trans0 = analytic_pose(targets, skel.offsets, mp.align_offsets(skel.offsets))
    with torch.no_grad():
        p0 = fk_t(torch.from_numpy(rot0), torch.from_numpy(trans0), torch.from_numpy(skel.offsets))[0].numpy()
    err0 = float(np.linalg.norm(p0 - targets, axis=-1)[:, direct].mean() * 1000)

    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    try:
        rot, trans, pos = rot0, trans0, p0
        if iters > 0 and err0 > 1.0:  # an (almost) exact analytic fit needs no optimisation
            fit_targets = mp.calibrated_targets(targets, skel.offsets)
            r1, t1, p1 = optimise_fit(rot0, trans0, fit_targets, skel.offsets, mp.weights, iters=iters,
                                      direction_joints=mp.angle_calibrated)
            # keep the optimised pose unless it fits worse (a body that fits exactly needs none)
            if np.linalg.norm(p1 - fit_targets, axis=-1)[:, direct].mean() * 1000 <= \
                    np.linalg.norm(p0 - fit_targets, axis=-1)[:, direct].mean() * 1000:
                rot, trans, pos = r1, t1, p1
    finally:
        if threads is not None:
            torch.set_num_threads(old_threads)

    dist = np.linalg.norm(pos - targets, axis=-1) * 1000  # (T, 24) mm
    per_joint = {SMPL_JOINT_NAMES[j]: round(float(dist[:, j].mean()), 2) for j in range(NUM_JOINTS) if direct[j]}
    fit = float(dist[:, direct].mean())
    feet = [SMPL_JOINT_NAMES.index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
    meta = {
        "source": src,
        "fit_error_mm": round(fit, 3),
        "fit_error_joints_mm": per_joint,
        FIT_META: {
            "mapping": mp.name, "mapping_file": mp.source, "body_scale": scale, "body": body,
            "iterations": int(iters), "analytic_error_mm": round(err0, 3),
            "fit_error_max_mm": round(float(dist[:, direct].max()), 2),
            "unit": bvh.unit, "up_axis": mp.up_axis, "source_fps": bvh.fps,
            "source_joints": len(bvh.names), "lowest_foot_z_m": round(float(pos[:, feet, 2].min()), 4),
            "source_lowest_foot_z_m": round(float(targets[:, feet, 2].min()), 4),
            "seconds": round(time.perf_counter() - t0, 3),
        },
    }
    if ground:
        from ..metrics import SOLE_OFFSET_M, sole_heights

        bscale = scale if offsets is None else float(np.linalg.norm(offsets, axis=1).sum()
                                                     / np.linalg.norm(Skeleton.default().offsets, axis=1).sum())
        glob = fk(rot, trans, skel.offsets)[1]  # positions: ``pos`` of the solve
        shift = ground_height(glob, sole_heights(pos, bscale))
        trans = trans.copy()
        trans[:, 2] -= shift
        pos = pos.copy()
        pos[..., 2] -= shift
        meta[FIT_META]["ground_shift_m"] = round(shift, 4)
        # toes level on the ground (a real foot bends at the ball; see flatten_toes)
        rot = flatten_toes(rot, pos, glob, float(SOLE_OFFSET_M[2]) * bscale)
    quats = R.quat_fix_continuity(R.matrix_to_quat(rot))
    motion = Motion(fps=_snap_fps(bvh.fps), trans=trans, rotations=quats, body_scale=scale,
                    offsets=offsets, meta=meta)
    if fps is not None and abs(float(fps) - motion.fps) > 1e-9:
        motion = motion.resample(float(fps))
    return motion
