"""Retarget clip files into a folder: one robot clip and one report per input, resumable.

For ``<name>.npz`` the output folder gets ``<name>.npz`` (the robot clip, ``retarget.robot_clip``) or
``<name>.csv`` with ``fmt="csv"``, then ``<name>.report.json`` (its ``retarget.report`` figures); both are
written atomically, the report last, so a clip whose report exists is finished and a rerun keeps it.
"""

from __future__ import annotations

import json
from pathlib import Path

from motionlib.motion.atomic import write_text_atomic
from motionlib.motion.errors import MotionError
from motionlib.motion.io import load_motion

from .ik import Retargeter
from .report import clip_report
from .robot_clip import from_qpos, save_robot_clip, to_csv

FORMATS = ("npz", "csv")
REPORT_SUFFIX = ".report.json"


def output_paths(src: Path, out_dir: Path, fmt: str) -> tuple[Path, Path]:
    stem = Path(src).name[:-len(".npz")] if Path(src).name.endswith(".npz") else Path(src).stem
    return out_dir / f"{stem}.{fmt}", out_dir / f"{stem}{REPORT_SUFFIX}"


def finished_report(src: Path, out_dir: Path, fmt: str, robot: str) -> dict | None:
    """The report of a clip this folder already holds for ``robot`` (None when it must be done)."""
    clip_path, report_path = output_paths(src, out_dir, fmt)
    if not (clip_path.is_file() and report_path.is_file()):
        return None
    try:
        rep = json.loads(report_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return rep if rep.get("robot") == robot else None


def retarget_file(retargeter: Retargeter, src: Path, out_dir: Path, fmt: str = "npz") -> dict:
    """Retarget one clip file; returns its report (also written beside the output)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (one of {FORMATS})")
    motion = load_motion(src)
    try:
        result = retargeter.run(motion)
    except MotionError as e:  # name the file (a clip's meta may name where it came from before)
        raise MotionError(e.problem, str(src)) from None
    except Exception as e:  # the solver failing on one clip must not stop a batch
        raise MotionError(f"retargeting failed ({type(e).__name__}: {e})", str(src)) from None
    robot = retargeter.robot
    rep = {"clip": str(src), "robot": retargeter.desc.name, **clip_report(robot, result, motion)}
    meta = dict(motion.meta, retarget={"robot": retargeter.desc.name, "source": str(src),
                                       "segment_scales": [round(float(s), 4) for s in result.targets.scales]})
    clip = from_qpos(robot, result.qpos, motion.fps, meta)
    clip_path, report_path = output_paths(src, out_dir, fmt)
    if fmt == "npz":
        save_robot_clip(clip, clip_path)
    else:
        to_csv(clip, clip_path)
    write_text_atomic(report_path, json.dumps(rep, indent=1) + "\n")
    return rep
