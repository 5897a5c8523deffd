"""BVH -> SMPL fit: mapping files, Bandai samples, and recovery of a clip written as a BVH from SMPL FK."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from motionlib.motion.clip import FIT_META, FIT_META_OLD, fit_details
from motionlib.motion.errors import MotionError
from motionlib.motion.ingest.bvh import read_bvh
from motionlib.motion.ingest.bvh_fit import (Y_UP_TO_Z_UP, bvh_to_motion, detect_mapping, load_mapping,
                                             source_positions)
from motionlib.motion.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS, SMPL_TO_ZUP

BANDAI_NAMES = ["joint_Root", "Hips", "Spine", "Chest", "Neck", "Head", "Shoulder_L", "UpperArm_L", "LowerArm_L",
                "Hand_L", "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R", "UpperLeg_L", "LowerLeg_L", "Foot_L",
                "Toes_L", "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R"]
FEET = [7, 8, 10, 11]


# ----------------------------------------------------------------- mappings
def test_shipped_mapping_and_detection():
    m = load_mapping("bandai")
    assert m.up_axis == "y" and len(m.combos) == 24
    assert set(m.source_joints) == set(BANDAI_NAMES) - {"joint_Root", "Hips"}  # pelvis is built from the hips and Spine
    assert m.direct.sum() == 20 and not m.direct[0] and not m.direct[6] and not m.direct[22]
    for c in m.combos:
        assert sum(c.values()) == pytest.approx(1.0)
    assert detect_mapping(BANDAI_NAMES) == "bandai"
    with pytest.raises(MotionError) as e:
        detect_mapping(["Pelvis", "LeftUpLeg", "Hips"], source="x.bvh")
    assert "x.bvh" in str(e.value) and "Pelvis" in str(e.value) and "LeftUpLeg" in str(e.value)
    with pytest.raises(MotionError, match="unknown mapping 'nope'"):
        load_mapping("nope")


def _identity_mapping(path: Path, **extra) -> Path:
    doc = {"name": "smpl-bvh", "up_axis": "y", "unit": "auto",
           "joints": {n: {"source": {n: 1.0}, "weight": 1.0} for n in SMPL_JOINT_NAMES}}
    doc.update(extra)
    path.write_text(json.dumps(doc))
    return path


def test_bad_mapping_files(tmp_path):
    p = _identity_mapping(tmp_path / "m.json")
    doc = json.loads(p.read_text())
    doc["joints"]["left_toe_tip"] = {"source": {"x": 1.0}}
    (tmp_path / "unknown.json").write_text(json.dumps(doc))
    with pytest.raises(MotionError) as e:
        load_mapping(tmp_path / "unknown.json")
    assert "left_toe_tip" in str(e.value) and "unknown.json" in str(e.value)
    doc = json.loads(p.read_text())
    doc["joints"]["spine2"] = {"source": {"spine1": 0.5, "spine3": 0.4}}
    (tmp_path / "sum.json").write_text(json.dumps(doc))
    with pytest.raises(MotionError, match="must sum to 1"):
        load_mapping(tmp_path / "sum.json")
    doc = json.loads(p.read_text())
    del doc["joints"]["head"]
    (tmp_path / "missing.json").write_text(json.dumps(doc))
    with pytest.raises(MotionError, match="no target for SMPL joints: head"):
        load_mapping(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(MotionError, match="not valid JSON"):
        load_mapping(tmp_path / "broken.json")


def test_mapping_with_source_joints_the_file_lacks(tmp_path, samples_dir):
    with pytest.raises(MotionError) as e:
        bvh_to_motion(samples_dir / "dataset-1_bow_normal_001.bvh", mapping=_identity_mapping(tmp_path / "m.json"))
    assert "dataset-1_bow_normal_001.bvh" in str(e.value) and "left_hip" in str(e.value)


# -------------------------------------------------------------- real clips
@pytest.fixture(scope="module")
def walk(request):
    samples = Path(request.config.rootpath) / "data" / "samples" / "bandai"
    path = samples / "dataset-1_walk_normal_001.bvh"
    return (path, bvh_to_motion(path, mapping="auto", threads=1, ground=False),
            bvh_to_motion(path, body="fitted", threads=1, ground=False))


def test_bandai_walk_scaled(walk):
    path, m, _ = walk
    assert m.meta["source"] == str(path) and m.fps == 30.0 and m.offsets is None
    r = m.meta["fit"]
    assert fit_details(m.meta) is r and FIT_META_OLD not in m.meta
    assert r["mapping"] == "bandai" and r["unit"] == "cm" and r["iterations"] > 0
    assert 0.8 < m.body_scale < 1.0
    # uniform scaling cannot match the source's proportions exactly; bound the residual
    assert m.meta["fit_error_mm"] < 40 and r["analytic_error_mm"] > m.meta["fit_error_mm"]
    assert set(m.meta["fit_error_joints_mm"]) == {n for n, d in zip(SMPL_JOINT_NAMES, load_mapping("bandai").direct) if d}
    _check_pose(path, m, foot_tol=None, joint_tol=0.1)


def test_bandai_planted_feet_are_level(samples_dir):
    """Bandai's toe joint sits 15 degrees lower on the foot than SMPL's: the toe
    targets are angle-calibrated and fitted by direction, and toes on the ground
    are levelled, so a planted SMPL foot is flat (its soles on the floor)."""
    from motionlib.motion.fk import fk
    from motionlib.motion.metrics import sole_heights

    m = bvh_to_motion(samples_dir / "dataset-1_walk_normal_001.bvh", threads=1)
    pos, glob = fk(m.rotmats(), m.trans, m.skeleton().offsets)
    soles = sole_heights(pos, m.body_scale)  # (T, 4): l/r ankle, l/r toe
    for ankle, toe, si, ti in ((7, 10, 0, 2), (8, 11, 1, 3)):
        planted = (soles[:, si] < 0.01) & (soles[:, ti] < 0.01)  # heel and toe down
        assert planted.sum() > 10
        heel_tilt = np.degrees(np.arccos(np.clip(glob[planted, ankle][:, 2, 1], -1, 1)))
        toe_tilt = np.degrees(np.arccos(np.clip(glob[planted, toe][:, 2, 1], -1, 1)))
        assert np.median(heel_tilt) < 10 and np.median(toe_tilt) < 3, (heel_tilt, toe_tilt)
        toes_down = soles[:, ti] < 0.01
        assert np.abs(soles[toes_down, ti]).max() < 0.03


def test_bandai_walk_fitted(walk):
    path, _, m = walk
    assert m.offsets is not None and m.meta["fit_error_mm"] < 2.0
    _check_pose(path, m, foot_tol=0.003, joint_tol=0.005)


def _check_pose(path: Path, m, foot_tol: float | None, joint_tol: float) -> None:
    b = read_bvh(path)
    src = source_positions(b, "y")
    pos, rot = m.joints()
    # left stays left: SMPL left hip/ankle land on the source's _L joints
    for smpl, side in ((1, "UpperLeg"), (7, "Foot"), (20, "Hand")):
        d_l = np.linalg.norm(pos[:, smpl] - src[:, b.index(side + "_L")], axis=-1)
        d_r = np.linalg.norm(pos[:, smpl] - src[:, b.index(side + "_R")], axis=-1)
        assert np.median(d_l) < joint_tol and np.all(d_l < d_r)
    # upright, facing the way it walks, feet on the floor like the source
    up = rot[:, 0] @ np.array([0, 1.0, 0])
    fwd = rot[:, 0] @ np.array([0, 0, 1.0])
    assert up[:, 2].min() > 0.9
    travel = m.trans[-1] - m.trans[0]
    assert np.dot(fwd.mean(0)[:2], travel[:2] / np.linalg.norm(travel[:2])) > 0.9
    if foot_tol is not None:  # same-proportion body: its joints sit where the source's do
        assert abs(pos[:, FEET, 2].min() - src[:, [16, 17, 20, 21], 2].min()) < foot_tol
    # the pose is natural: no joint beyond 100 degrees except the shoulders (T-pose rest, arms hang)
    ang = np.degrees(np.linalg.norm(m.rotations_axis_angle(), axis=-1)).max(0)
    assert np.all(np.delete(ang, [0, 16, 17]) < 100), ang.round()


def test_grounding_puts_the_soles_on_the_floor(samples_dir):
    from motionlib.motion.metrics import plausibility, sole_heights

    path = samples_dir / "dataset-1_walk_normal_001.bvh"
    raw = bvh_to_motion(path, threads=1, ground=False)
    m = bvh_to_motion(path, threads=1)
    shift = m.meta["fit"]["ground_shift_m"]
    # the raw SMPL body floats: Bandai's toe joints sit ~4 cm up, and SMPL's level
    # foot holds its ankle higher than Bandai's pitched one
    assert 0.03 < shift < 0.10
    assert np.allclose(raw.trans[:, 2] - shift, m.trans[:, 2], atol=1e-4)
    assert m.meta["fit_error_mm"] == raw.meta["fit_error_mm"]  # fit measured before the shift
    pos = m.positions()
    # level planted feet stand on the floor; pushing off, the toes may dip a little
    assert -0.02 < np.percentile(sole_heights(pos, m.body_scale).min(1), 5) < 0.0
    grounded = plausibility(m)  # on the posed collision shapes: tilted feet reach lower than level ones
    assert grounded["float_mm"] < 5 and grounded["penetration_mm"] < 5
    assert plausibility(raw)["float_mm"] > 20


def test_options(samples_dir):
    path = samples_dir / "dataset-1_bow_normal_001.bvh"
    before = torch.get_num_threads()
    m = bvh_to_motion(path, fps=15, iters=5, threads=1)
    assert torch.get_num_threads() == before
    assert m.fps == 15 and m.meta["fit"]["iterations"] == 5
    m0 = bvh_to_motion(path, iters=0)
    assert m0.meta["fit_error_mm"] == m0.meta["fit"]["analytic_error_mm"]
    with pytest.raises(MotionError, match="body must be"):
        bvh_to_motion(path, body="stretchy")


def test_fit_details_of_clips_written_before_and_after_the_key_was_renamed(tmp_path, samples_dir):
    """Clips ingested before the fit's details were stored under "fit" keep them
    under "retarget": they still load, and ``fit_details`` reads either key."""
    from motionlib.motion.io import load_motion, save_motion

    old = load_motion(Path(__file__).parent / "data" / "dataset-2_wave-right-hand_normal_001.npz")
    assert FIT_META not in old.meta and FIT_META_OLD in old.meta
    d = fit_details(old.meta)
    assert d is old.meta[FIT_META_OLD] and d["mapping"] == "bandai" and d["ground_shift_m"] > 0
    m = bvh_to_motion(samples_dir / "dataset-1_bow_normal_001.bvh", iters=2, threads=1)
    save_motion(m, tmp_path / "new.npz")
    new = load_motion(tmp_path / "new.npz")
    assert FIT_META_OLD not in new.meta and fit_details(new.meta) == m.meta[FIT_META]
    assert fit_details(new.meta)["iterations"] == 2
    assert fit_details({"fit_error_mm": 1.0}) is None and fit_details({FIT_META: "not a dict"}) is None


# ------------------------------------------- SMPL clip -> BVH -> SMPL clip
def write_smpl_bvh(path: Path, motion, scale: float = 1.0) -> None:
    """Write ``motion`` as a y-up BVH with the SMPL skeleton: joint frames are
    SMPL's, the root carries the world pose mapped into the y-up file frame."""
    off = motion.skeleton().offsets * scale
    rot = motion.rotmats().copy()
    rot[:, 0] = Y_UP_TO_Z_UP.T @ rot[:, 0]
    root = motion.trans @ Y_UP_TO_Z_UP * scale  # = (M^T p) per row
    children = {j: [c for c in range(24) if SMPL_PARENTS[c] == j] for j in range(24)}
    lines, order = ["HIERARCHY"], []

    def emit(j: int, depth: int) -> None:
        ind = "  " * depth
        order.append(j)  # channels are written in hierarchy (depth-first) order
        lines.append(f"{ind}{'ROOT' if j == 0 else 'JOINT'} {SMPL_JOINT_NAMES[j]}")
        lines.append(ind + "{")
        lines.append(f"{ind}  OFFSET {off[j][0]:.9f} {off[j][1]:.9f} {off[j][2]:.9f}")
        chans = "Xposition Yposition Zposition " if j == 0 else ""
        lines.append(f"{ind}  CHANNELS {6 if j == 0 else 3} {chans}Zrotation Yrotation Xrotation")
        for c in children[j]:
            emit(c, depth + 1)
        if not children[j]:
            lines.extend([f"{ind}  End Site", ind + "  {", f"{ind}    OFFSET 0 0.05 0", ind + "  }"])
        lines.append(ind + "}")

    emit(0, 0)
    eul = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_euler("ZYX", degrees=True).reshape(len(rot), 24, 3)
    data = np.concatenate([root, eul[:, order].reshape(len(rot), -1)], axis=1)
    lines += ["MOTION", f"Frames: {len(rot)}", f"Frame Time: {1.0 / motion.fps:.9f}"]
    lines += [" ".join(f"{v:.9f}" for v in row) for row in data]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_recovers_clip_written_from_smpl(tmp_path, random_clip, scale):
    path = tmp_path / "smpl_clip.bvh"
    write_smpl_bvh(path, random_clip, scale)
    b = read_bvh(path)
    assert b.unit == ("m" if scale == 1.0 else "cm")
    ref_pos = random_clip.positions()
    np.testing.assert_allclose(source_positions(b, "y")[:, [b.index(n) for n in SMPL_JOINT_NAMES]], ref_pos, atol=1e-6)
    m = bvh_to_motion(path, mapping=_identity_mapping(tmp_path / "smpl.json"), iters=20, threads=1, ground=False)
    assert m.body_scale == pytest.approx(1.0, abs=1e-3)
    assert m.meta["fit_error_mm"] < 2.0
    assert np.abs(m.positions() - ref_pos).max() < 0.01
    # the root orientation is recovered too (it is determined by the hips and spine)
    up_ref = random_clip.rotmats()[:, 0] @ np.array([0, 1.0, 0])
    assert np.abs(m.rotmats()[:, 0] @ np.array([0, 1.0, 0]) - up_ref).max() < 0.05
    assert np.allclose(SMPL_TO_ZUP @ np.array([0, 1.0, 0]), [0, 0, 1])
