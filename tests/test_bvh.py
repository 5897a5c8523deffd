"""BVH reader: hand-checkable FK on synthetic files, unit detection, malformed files, Bandai samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from motionlib.motion.errors import MotionError
from motionlib.motion.ingest.bvh import euler_to_matrix, read_bvh

# Root: 6 channels, rotation and position interleaved in an unusual order.
# Arm: 3 rotation channels (Z X Y). Tip: position channels only (replace OFFSET).
HIERARCHY = """HIERARCHY
ROOT Base
{
  OFFSET 0 0 0
  CHANNELS 6 Yrotation Xposition Zrotation Yposition Xrotation Zposition
  JOINT Arm
  {
    OFFSET 0 1 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Tip
    {
      OFFSET 0 0.5 0
      CHANNELS 2 Zposition Xposition
      End Site
      {
        OFFSET 0 0.25 0
      }
    }
  }
}
"""


def write_bvh(path: Path, frames: list[list[float]], frame_time: str = "0.04", hierarchy: str = HIERARCHY,
              n_frames: int | None = None) -> Path:
    body = "\n".join(" ".join(str(v) for v in f) for f in frames)
    n = len(frames) if n_frames is None else n_frames
    path.write_text(f"{hierarchy}MOTION\nFrames: {n}\nFrame Time: {frame_time}\n{body}\n")
    return path


# root: Yrot, Xpos, Zrot, Ypos, Xrot, Zpos | arm: Z X Y | tip: Zpos Xpos
FRAME_A = [0, 1.0, 0, 2.0, 0, 3.0, 0, 0, 0, 0.0, 0.0]
FRAME_B = [90, 0.0, 0, 0.0, 0, 0.0, 90, 90, 0, 0.2, 0.1]


def test_fk_by_hand(tmp_path):
    b = read_bvh(write_bvh(tmp_path / "a.bvh", [FRAME_A, FRAME_B]), unit="m")
    assert b.names == ["Base", "Arm", "Tip"] and b.parents == [-1, 0, 1]
    assert b.num_frames == 2 and b.fps == pytest.approx(25.0) and b.unit == "m"
    pos, rot = b.fk()
    # frame A: no rotation, root at (1, 2, 3); tip position channels set x, z (y keeps OFFSET 0.5)
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 3, 3], [1, 3.5, 3]], atol=1e-12)
    # frame B: root Ry(90); arm Rz(90) @ Rx(90) (listed order, intrinsic); tip local (0.1, 0.5, 0.2)
    ry = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], dtype=float)
    rz = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=float)
    rx = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float)
    arm = ry @ np.array([0, 1.0, 0])
    tip = arm + ry @ rz @ rx @ np.array([0.1, 0.5, 0.2])
    np.testing.assert_allclose(pos[1], [[0, 0, 0], arm, tip], atol=1e-12)
    np.testing.assert_allclose(rot[1, 1], ry @ rz @ rx, atol=1e-12)
    # the opposite composition order would put the tip elsewhere
    assert np.linalg.norm(tip - (arm + ry @ rx @ rz @ np.array([0.1, 0.5, 0.2]))) > 0.1
    end = b.end_site_positions()
    np.testing.assert_allclose(end[1, 0], tip + ry @ rz @ rx @ np.array([0, 0.25, 0]), atol=1e-12)
    np.testing.assert_allclose(b.local_quats[0], np.tile([1.0, 0, 0, 0], (3, 1)), atol=1e-12)


def test_euler_matches_scipy_intrinsic(rng):
    ang = rng.uniform(-180, 180, size=(20, 3))
    for order in ("ZXY", "XYZ", "YZX", "ZYX"):
        axes = tuple("XYZ".index(c) for c in order)
        np.testing.assert_allclose(euler_to_matrix(ang, axes), Rotation.from_euler(order, ang, degrees=True).as_matrix(),
                                   atol=1e-12)


def test_units_auto_and_explicit(tmp_path):
    cm = HIERARCHY.replace("OFFSET 0 1 0", "OFFSET 0 100 0").replace("OFFSET 0 0.5 0", "OFFSET 0 50 0")
    frames = [[0, 100.0, 0, 200.0, 0, 300.0, 0, 0, 0, 0, 0]] * 3
    b = read_bvh(write_bvh(tmp_path / "cm.bvh", frames, hierarchy=cm))
    assert b.unit == "cm"
    np.testing.assert_allclose(b.fk()[0][0, 1], [1, 3, 3], atol=1e-12)
    assert read_bvh(tmp_path / "cm.bvh", unit="mm").unit_scale == 0.001
    m = read_bvh(write_bvh(tmp_path / "m.bvh", [FRAME_A, FRAME_A]))
    assert m.unit == "m"
    with pytest.raises(MotionError, match="unknown unit"):
        read_bvh(tmp_path / "m.bvh", unit="furlong")


GOOD = [FRAME_A, FRAME_B, FRAME_A]


def _text(frames=GOOD, frame_time="0.04", hierarchy=HIERARCHY, n=None) -> str:
    body = "\n".join(" ".join(str(v) for v in f) for f in frames)
    return f"{hierarchy}MOTION\nFrames: {len(frames) if n is None else n}\nFrame Time: {frame_time}\n{body}\n"


MALFORMED = {
    "truncated": (_text()[: len(_text()) - 12], "frame 2 has"),
    "truncated_in_hierarchy": (HIERARCHY[:120], "MOTION"),
    "too_many_values": (_text(frames=[FRAME_A, FRAME_A + [1.0], FRAME_A]), "frame 1 has 12 values, expected 11"),
    "too_few_values": (_text(frames=[FRAME_A, FRAME_A[:-1], FRAME_A]), "frame 1 has 10 values"),
    "frames_more_than_data": (_text(n=5), "declares 5 frames but has 3"),
    "frames_less_than_data": (_text(n=2), "declares 2 frames but has 3"),
    "frames_not_int": (_text(n="x"), "Frames must be an integer"),
    "non_numeric": (_text(frames=[FRAME_A, FRAME_A[:3] + ["abc"] + FRAME_A[4:], FRAME_A]), "non-numeric value 'abc'"),
    "nan": (_text(frames=[FRAME_A, FRAME_A, FRAME_A[:5] + ["nan"] + FRAME_A[6:]]), "frame 2 has NaN/inf"),
    "inf": (_text(frames=[FRAME_A[:2] + ["inf"] + FRAME_A[3:], FRAME_A]), "frame 0 has NaN/inf"),
    "zero_frames": (_text(frames=[]), "at least 2 frames"),
    "one_frame": (_text(frames=[FRAME_A]), "at least 2 frames"),
    "zero_frame_time": (_text(frame_time="0"), "Frame Time must be a positive"),
    "negative_frame_time": (_text(frame_time="-0.1"), "Frame Time must be a positive"),
    "bad_frame_time": (_text(frame_time="fast"), "Frame Time must be a number"),
    "unknown_channel": (_text(hierarchy=HIERARCHY.replace("Zrotation Xrotation Yrotation", "Zrotation Wrotation Yrotation")),
                        "unknown channel 'Wrotation'"),
    "missing_close_brace": (_text(hierarchy=HIERARCHY.rstrip()[:-1]), "missing"),
    "missing_open_brace": (_text(hierarchy=HIERARCHY.replace("JOINT Arm\n  {", "JOINT Arm\n")), "expected '{'"),
    "extra_brace": (_text(hierarchy=HIERARCHY + "}\n"), "unexpected '}'"),
    "no_motion": (HIERARCHY, "no MOTION section"),
    "bad_offset": (_text(hierarchy=HIERARCHY.replace("OFFSET 0 1 0", "OFFSET 0 one 0")), "OFFSET of 'Arm' must be a number"),
    "not_bvh": ("hello\nMOTION\n", "does not start with HIERARCHY"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_name_the_file(tmp_path, case):
    text, needle = MALFORMED[case]
    path = tmp_path / f"bad_{case}.bvh"
    path.write_text(text)
    with pytest.raises(MotionError) as e:
        read_bvh(path)
    assert str(path) in str(e.value) and e.value.source == str(path)
    assert needle in str(e.value), str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(MotionError, match="cannot read"):
        read_bvh(tmp_path / "nope.bvh")


def test_bandai_walk_walks(samples_dir):
    b = read_bvh(samples_dir / "dataset-1_walk_normal_001.bvh")
    assert b.unit == "cm" and b.num_joints == 22 and b.fps == pytest.approx(30.0, abs=1e-3)
    pos, _ = b.fk()
    assert np.abs(pos[:, b.index("joint_Root")]).max() < 1e-9  # static root
    hips = pos[:, b.index("Hips")]
    assert np.linalg.norm(hips[-1, [0, 2]] - hips[0, [0, 2]]) > 5.0  # travels metres (y-up file)
    assert 0.8 < hips[:, 1].mean() < 1.0
    # feet alternate: the lower ankle switches sides several times
    low_left = pos[:, b.index("Foot_L"), 1] < pos[:, b.index("Foot_R"), 1]
    assert np.count_nonzero(np.diff(low_left.astype(int))) >= 6
    # heights: head well above the toes, toes near the floor
    assert pos[:, b.index("Toes_L"), 1].min() < 0.08 and pos[:, b.index("Head"), 1].min() > 1.2
