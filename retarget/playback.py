"""Playback: robot clips through a tracking policy in physics, and what the simulated robot measures.

:func:`playback_clips` loads robot clips (the BeyondMimic layout that ``motionlib retarget`` writes),
builds the robot's tracking body (``sim.robot_body``) and reference, and runs the policy over every clip
from its first frame through the tracking environment's evaluation API (``policies.rollout``: restart,
step, body states). Per clip and in total it reports (lengths in mm):

* ``success``: tracked to the clip's end. The rule is PHC's: the robot is lost at the first frame where
  the mean distance of its tracked bodies to the reference exceeds 0.5 m (``success_distance``); the
  simulation of a lost clip stops there, and the errors below cover the frames up to it.
* ``g_mpjpe_mm`` / ``l_mpjpe_mm``: mean world / root-relative distance of the tracked bodies to the
  reference's (``motion.metrics.tracking_errors``), ``joint_error_rad``: mean |joint position error| of
  the actuated joints;
* the feet of the simulated motion (``retarget.report``'s definitions, on the simulated robot):
  ``skate_mm`` (horizontal motion of the sole points in contact), ``penetration_mm`` / ``float_mm`` (the
  lowest collision point below / above the floor beyond the 5 mm tolerance).

Without a policy file the robot's shipped tracker (``retarget/robots/<robot>/tracker.pt``) plays, and
where there is none, the zero policy: PD control on the reference joint positions alone (with the
reference velocities' feed-forward), a baseline of what physics does with the clip unaided.

With ``out_dir`` the simulated motion is written as a robot clip (same layout) per clip, with
``<clip>.playback.json`` (its report); ``video``: an .mp4 of the simulated robot (left) beside the
reference (right).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from motionlib.motion.atomic import write_text_atomic
from motionlib.motion.errors import MotionError
from motionlib.motion.metrics import TOLERANCE_M, float_mm, penetration_mm, tracking_errors
from motionlib.policies.actor import TrackingActor, TrackingPolicy
from motionlib.policies.rollout import RolloutResult, rollout
from motionlib.sim.humanoid import HumanoidConfig
from motionlib.sim.observation_terms import ObservationLayout
from motionlib.sim.reference import ReferenceLibrary
from motionlib.sim.term_sets import term_set
from motionlib.sim.tracking_config import TrackingConfig

from .description import ROBOTS_DIR, load_description
from .report import robot_skate_mm
from .robot_clip import from_qpos, load_robot_clip, save_robot_clip
from .robot_model import RobotModel
from .tracking import clip_reference, find_robot_clips

SUCCESS_RULE = "lost when the mean distance of the tracked bodies to the reference exceeds 0.5 m (PHC)"
TOTAL_KEYS = ("g_mpjpe_mm", "l_mpjpe_mm", "joint_error_rad", "skate_mm", "penetration_mm", "float_mm")


def shipped_policy(robot: str) -> Path | None:
    """The tracker shipped with a robot (``retarget/robots/<robot>/tracker.pt``), or None."""
    p = ROBOTS_DIR / str(robot) / "tracker.pt"
    return p if p.is_file() else None


def zero_policy(num_obs: int, num_actions: int, tracking: TrackingConfig, robot: str) -> TrackingPolicy:
    """The policy whose action is always 0: PD on the reference joint positions alone."""
    actor = TrackingActor(num_obs, num_actions, ())
    torch.nn.init.zeros_(actor.mu.weight)
    torch.nn.init.zeros_(actor.mu.bias)
    return TrackingPolicy(actor, tracking, HumanoidConfig(), {"name": "zero"}, {"kind": "mjcf_robot", "robot": robot})


def _load_policy(policy_path, robot: str) -> tuple[TrackingPolicy | None, str]:
    path = policy_path or shipped_policy(robot)
    if path is None:
        return None, "zero"
    policy = TrackingPolicy.load(path)
    if policy.robot != robot:
        raise MotionError(f"the policy drives {policy.robot or 'the SMPL humanoid'}, not {robot!r}", str(path))
    return policy, str(path)


def clip_metrics(res: RolloutResult, ref_qpos: np.ndarray, model: RobotModel) -> dict:
    """The report of one played clip (see the module text); ``ref_qpos`` (T, nq): the reference frames
    the simulation covered."""
    err = tracking_errors(res.body_pos, res.ref_pos)
    q = res.qpos
    joint_err = float(np.abs(q[:, model.joint_qpos] - ref_qpos[:, model.joint_qpos]).mean())
    soles = {side: np.zeros((len(q),) + model.soles[side].local.shape) for side in model.soles}
    low = np.zeros(len(q))
    for f in range(len(q)):
        model.set_qpos(q[f])
        low[f] = model.lowest_point()
        for side in soles:
            soles[side][f] = model.sole_world(side)
    return {
        "success": bool(res.success), "fail_frame": res.fail_frame, "frames": int(len(q)),
        "g_mpjpe_mm": err["g_mpjpe_mm"], "l_mpjpe_mm": err["l_mpjpe_mm"], "joint_error_rad": joint_err,
        "skate_mm": robot_skate_mm(soles), "penetration_mm": penetration_mm(low[:, None], TOLERANCE_M),
        "float_mm": float_mm(low[:, None], TOLERANCE_M), "blowups": int(res.blowups),
    }


def playback_clips(clip_paths: list[str | os.PathLike], robot: str | os.PathLike, policy_path: str | os.PathLike | None = None,
                   out_dir: str | os.PathLike | None = None, video: str | os.PathLike | None = None,
                   threads: int | None = None, progress: bool = False) -> dict:
    """Play robot clips (files or folders) through a policy in physics (see the module text).

    Returns ``{"robot", "policy", "success_rule", "clips": {name: report}, "failures": [{"file",
    "error"}], "total": {"clips", "frames", "success_rate", means of the figures}}``: a clip that cannot be
    read is listed in ``failures`` and the rest are played. ``video``: path of the .mp4 of the first
    clip (with several clips, one per clip: ``<video stem>_<clip>.mp4``)."""
    desc = load_description(robot)
    body = desc.sim_body()
    policy, policy_name = _load_policy(policy_path, desc.name)
    tracking = policy.tracking if policy is not None else TrackingConfig(terms=body.terms)
    files, failures, refs = find_robot_clips(list(clip_paths)), [], []
    for f in files:
        try:
            refs.append((f, clip_reference(body, load_robot_clip(f), tracking.control_fps, Path(f).stem)))
        except (MotionError, ValueError, OSError) as e:
            failures.append({"file": str(f), "error": str(e)})
    out = {"robot": desc.name, "policy": policy_name, "success_rule": SUCCESS_RULE, "clips": {}, "failures": failures}
    if not refs:
        out["total"] = {"clips": 0, "frames": 0}
        return out
    lib = ReferenceLibrary.from_states([r for _, r in refs], tracking.control_fps)
    if policy is None:
        num_obs = ObservationLayout(term_set(tracking.terms).observation, len(tracking.future_frames),
                                    body.num_bodies).dim
        policy = zero_policy(num_obs, len(body.spec.joint_names), tracking, desc.name)
    results = rollout(policy, lib, threads=threads, progress=progress, body=body)
    model = RobotModel(desc)
    ref_qpos = lib.qpos.cpu().double().numpy()
    starts = lib.clip_start.cpu().tolist()
    out_path = Path(out_dir) if out_dir is not None else None
    for (f, _), res in zip(refs, results):
        name = Path(f).stem
        s = starts[res.clip]
        report = clip_metrics(res, ref_qpos[s:s + len(res.qpos)], model)
        out["clips"][name] = report
        if out_path is not None:
            tracked = from_qpos(model, res.qpos, tracking.control_fps,
                                meta={**load_robot_clip(f).meta, "playback": {"policy": policy_name, **report}})
            save_robot_clip(tracked, out_path / f"{name}.npz")
            write_text_atomic(out_path / f"{name}.playback.json", json.dumps(report, indent=1))
        if video is not None:
            vpath = Path(video) if len(refs) == 1 else Path(video).with_name(f"{Path(video).stem}_{name}.mp4")
            sim_clip = from_qpos(model, res.qpos, tracking.control_fps)
            report["video"] = str(playback_video(sim_clip, load_robot_clip(f), vpath, desc, progress))
    out["total"] = totals(list(out["clips"].values()))
    return out


def totals(reports: list[dict]) -> dict:
    """Success rate over clips, frame totals, and each figure's mean over clips."""
    out = {"clips": len(reports), "frames": int(sum(r["frames"] for r in reports)),
           "success_rate": float(np.mean([r["success"] for r in reports])) if reports else 0.0}
    for k in TOTAL_KEYS:
        out[k] = float(np.mean([r[k] for r in reports])) if reports else 0.0
    return out


def playback_video(sim_clip, ref_clip, path: Path, desc, progress: bool = False) -> Path:
    """The simulated robot (left) beside the reference robot clip (right) to ``path`` (.mp4, atomically);
    after a loss the simulated panel holds its last frame."""
    from motionlib.motion.render import write_mp4

    from .render import RobotRenderConfig, RobotRenderer

    cfg = RobotRenderConfig()
    w, h = cfg.size
    half = (w // 2) - (w // 2) % 2
    left = RobotRenderer(sim_clip, half, h, cfg, desc)
    right = RobotRenderer(ref_clip, w - half, h, cfg, desc)
    n = ref_clip.num_frames
    frames = range(0, n, cfg.stride)

    def draw(f: int) -> np.ndarray:
        a = left.draw_frame(min(f, sim_clip.num_frames - 1)).copy()
        return np.ascontiguousarray(np.concatenate([a, right.draw_frame(f)], axis=1))

    try:
        write_mp4(path, (w, h), cfg.fps or ref_clip.fps / cfg.stride, (draw(f) for f in frames), len(frames), progress)
    finally:
        left.close()
        right.close()
    return Path(path)
