"""Physics refinement: track each clip with the policy and keep what the simulator did.

``refine_clips`` runs the deterministic policy over clips (queued for a batch of
simulated worlds, see :func:`~motionlib.policies.rollout.rollout`), converts each simulated trajectory back into a Motion clip
(SMPL rotations from the simulator state), and reports, per clip, tracking
success and errors plus plausibility before and after. Clips the policy loses
are flagged (``success: false`` with the frame where it happened); with
``retry`` the simulation restarts from the reference at that frame and the
clip is completed, never silently dropped.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from motionlib.motion import metrics as M
from motionlib.motion.cleanup import CleanupConfig, clean_for_tracking, cleanup_strength, rotation_noise_deg
from motionlib.motion.clip import Motion
from motionlib.sim.smpl_state import qpos_to_motion

from .actor import TrackingPolicy
from .rollout import RolloutResult, rollout

# frames a restart goes back before the loss (``refine_clips``); chosen on other clips than the
# WHAM-artifact benchmark's (docs/tracking.md "Rewind")
REWIND_FRAMES = 3


@dataclass
class RefineResult:
    clip: Motion  # the refined (simulated) clip
    report: dict
    tracked: Motion  # the reference the policy tracked (the input after the clean-up)


def tracking_report(res: RolloutResult, fps: float) -> dict:
    """PHC-style tracking errors of one rollout (mm; accel/vel in mm/frame^2 and mm/frame)."""
    pred, gt = res.body_pos, res.ref_pos
    return {
        "success": bool(res.success),
        "fail_frame": res.fail_frame,
        "retries": len(res.resets),
        "frames_tracked": int(pred.shape[0]),
        **{k: float(v) for k, v in M.tracking_errors(pred, gt).items()},
    }


def refine_clips(clips: list[Motion], policy: TrackingPolicy, retry: bool = True, threads: int | None = None,
                 progress: bool = False, backend: str = "cpu", device: str = "cpu",
                 num_envs: int | None = None,
                 cleanup: CleanupConfig | None = CleanupConfig(),
                 retry_distance: float | None = None, rewind: int = REWIND_FRAMES,
                 lanes: int | None = None) -> tuple[list[RefineResult], dict]:
    """Refine ``clips``. ``cleanup``: the kinematic clean-up (smoothing, grounding; see
    :mod:`motionlib.motion.cleanup`) of the reference the policy tracks, adapted to each clip's
    estimated rotation noise (both are in the clip's report, ``cleanup``); None tracks the
    input as it is. Plausibility "before" is always that of the input itself; the
    tracking errors are against the reference tracked.

    ``retry_distance`` (m, with ``retry``): restart also when any body is this far from the
    reference. None: the policy's own training termination distance (0.25 m by default), so
    the policy never acts in states it was not trained on; on the WHAM-artifact benchmark
    (docs/tracking.md "Restart distance") this keeps the output closer to the clean clip than the input, at the cost of
    more restarts. 0: restart only at PHC's loss (mean body distance > 0.5 m). A clip's
    ``success`` is "tracked to the end without a restart", ``fail_frame`` the first restart.

    ``rewind`` (frames, with ``retry``): a restart goes back this many frames before the loss
    (never to or before the previous restart) and simulates them again from the reference, so
    the frames in which the body was drifting off are not kept and the jump back to the
    reference happens where the two were still close. ``threads``/``lanes``: :func:`rollout`'s."""
    if retry_distance is None:
        retry_distance = policy.tracking.termination_distance
    retry_distance = (retry_distance or None) if retry else None
    t0 = time.perf_counter()
    fps = policy.tracking.control_fps
    inputs = [c if abs(c.fps - fps) < 1e-9 else c.resample(fps) for c in clips]
    # per clip: the estimated rotation noise and the clean-up strength it gave (None: no clean-up)
    applied: list[dict | None] = [None] * len(inputs)
    targets = list(inputs)
    if cleanup is not None:
        for i, c in enumerate(inputs):
            noise = rotation_noise_deg(c)
            applied[i] = {"noise_deg": noise, "strength": cleanup_strength(c, cleanup, noise)}
            targets[i] = clean_for_tracking(c, cleanup, applied[i]["strength"])
    results = rollout(policy, targets, retry=retry, threads=threads, progress=progress, backend=backend, device=device,
                      num_envs=num_envs, retry_distance=retry_distance, rewind=rewind, lanes=lanes)
    t_sim = time.perf_counter() - t0
    out: list[RefineResult] = []
    for clip, target, res, how in zip(inputs, targets, results, applied):
        meta = clip.derived_meta(refined={"policy": policy.info.get("name", "tracker"), "success": bool(res.success),
                                          "fail_frame": res.fail_frame, "retries": res.resets})
        refined = qpos_to_motion(res.qpos, fps, like=clip, meta=meta)
        # "after" of the simulated trajectory: the refined clip's joints and rotations are the
        # simulated bodies' (FK of the same qpos), its shape the simulator's collision shapes
        report = {"id": Path(str(clip.meta.get("source", "clip"))).stem, **tracking_report(res, fps),
                  "before": M.plausibility(clip), "after": M.plausibility(refined), "cleanup": how}
        out.append(RefineResult(refined, report, target))
    wall = time.perf_counter() - t0  # clean-up, simulation, conversion back to clips and the reports
    seconds_of_motion = sum(c.duration for c in inputs)
    totals = summarize([r.report for r in out])
    totals.update({"clips": len(out), "seconds_of_motion": seconds_of_motion, "wall_s": wall,
                   "realtime_factor": seconds_of_motion / wall if wall > 0 else None,
                   "simulation_s": t_sim,
                   "threads": threads, "lanes": lanes, "cleanup": None if cleanup is None else asdict(cleanup),
                   "retry_distance_m": retry_distance, "rewind_frames": rewind if retry else 0})
    return out, totals


def summarize(reports: list[dict]) -> dict:
    if not reports:
        return {}
    keys = ["g_mpjpe_mm", "l_mpjpe_mm", "pa_mpjpe_mm", "accel_err", "vel_err"]
    tot = {"success_rate": float(np.mean([r["success"] for r in reports]))}
    for k in keys:
        vals = [r[k] for r in reports if k in r]
        if vals:
            tot[k] = float(np.mean(vals))
    for side in ("before", "after"):
        tot[side] = {k: float(np.mean([r[side][k] for r in reports])) for k in reports[0][side]}
    return tot
