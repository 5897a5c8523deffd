"""Robot clips as a tracking reference: what training and playback hand the tracking environment.

:func:`find_robot_clips` lists robot clips (``.npz`` in the BeyondMimic layout that ``motionlib retarget``
writes) in files and folders; :func:`robot_reference` loads them into a
:class:`~motionlib.sim.reference.ReferenceLibrary` of the robot's tracking body (the tracked bodies picked
by name, joints into the model's qpos, resampled to the control rate: ``sim.robot_body``);
:func:`robot_tracking_body` is the body of a robot name or description.
"""

from __future__ import annotations

import os
from pathlib import Path

from motionlib.motion.errors import MotionError
from motionlib.sim.reference import ReferenceLibrary
from motionlib.sim.robot_body import MjcfRobotBody

from .description import load_description
from .robot_clip import RobotClip, load_robot_clip


def robot_tracking_body(robot: str | os.PathLike) -> MjcfRobotBody:
    """The tracking body of a shipped robot's name (``g1``) or a description JSON."""
    return load_description(robot).sim_body()


def find_robot_clips(paths: list[str | os.PathLike]) -> list[Path]:
    """Robot clip files among ``paths`` (files, or folders searched for ``*.npz``), sorted per folder;
    MotionError when a path is missing or nothing is found."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*.npz") if f.is_file())
        elif p.is_file():
            out.append(p)
        else:
            raise MotionError("no such robot clip file or folder", str(p))
    if not out:
        raise MotionError("no robot clips (.npz) found", ", ".join(map(str, paths)))
    return out


def clip_reference(body: MjcfRobotBody, clip: RobotClip, control_fps: float, name: str = ""):
    """One robot clip as a :class:`~motionlib.sim.reference.ReferenceClip` of ``body``."""
    if clip.robot != body.spec.name:
        raise MotionError(f"a clip of robot {clip.robot!r}, not {body.spec.name!r}", name)
    try:
        return body.reference_clip(clip.fps, control_fps, clip.joint_names, clip.joint_pos, clip.root_pos,
                                   clip.root_quat, clip.body_names, clip.body_pos_w, clip.body_quat_w,
                                   clip.body_lin_vel_w, clip.body_ang_vel_w, name=name)
    except ValueError as e:
        raise MotionError(str(e), name) from None


def robot_reference(files: list[Path], body: MjcfRobotBody, control_fps: float = 30.0,
                    device: str = "cpu") -> ReferenceLibrary:
    """The reference library of robot clip ``files`` for ``body`` (names: the files' stems); errors name
    the file."""
    clips = [clip_reference(body, load_robot_clip(f), control_fps, str(f)) for f in files]
    for c, f in zip(clips, files):
        c.name = Path(f).stem
    return ReferenceLibrary.from_states(clips, control_fps, device=device)
