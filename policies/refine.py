"""Physics refinement: track each clip with the policy and keep what the simulator did.

``refine_clips`` runs the deterministic policy over clips (queued for a batch of
simulated worlds, see :func:`~motionlib.policies.rollout.rollout`), converts each simulated trajectory back into a Motion clip
(SMPL rotations from the simulator state), and reports, per clip, tracking
success and errors plus plausibility before and after. Clips the policy loses
are flagged (``success: false`` with the frame where it happened); with
``retry`` the simulation restarts from the reference at that frame and the
clip is completed, never silently dropped.

A restart puts the body back on the reference: the simulated trajectory jumps
there. By default the output is therefore cut at every such jump into
physically continuous segments (:func:`split_at_cuts`); segments under
``MIN_SEGMENT_S`` are dropped, and each clip's report lists the cuts and
accounts for every input frame as kept (in which segment) or dropped (why).
``keep_restarts`` keeps the whole trajectory, jumps included, as one clip.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from motionlib.motion import metrics as M
from motionlib.motion.cleanup import CleanupConfig, clean_for_tracking, cleanup_strength, rotation_noise_deg
from motionlib.motion.clip import Motion
from motionlib.sim.action_filter import ActionFilterConfig
from motionlib.sim.smpl_state import qpos_to_motion

from .actor import TrackingPolicy
from .rollout import RolloutResult, rollout

# frames a restart goes back before the loss (``refine_clips``); chosen on other clips than the
# WHAM-artifact benchmark's (docs/tracking.md "Rewind")
REWIND_FRAMES = 3
# the shortest segment between cuts that refine keeps (seconds; ``refine_clips``)
MIN_SEGMENT_S = 1.0
# the low-pass filter on the policy's actions in refine's control loop (docs/tracking.md "Smooth output")
ACTION_FILTER = ActionFilterConfig()
# the SMPL humanoid's joint armature in refine's and evaluation's physics, times the policy's (rollout's
# ``armature_scale``; docs/tracking.md "Smooth output")
ARMATURE_SCALE = 4.0


@dataclass
class Segment:
    start: int  # first frame, in the input at the policy's control rate
    end: int  # one past the last
    clip: Motion  # the simulated frames start..end-1: physically continuous


@dataclass
class RefineResult:
    clip: Motion  # the whole simulated trajectory, jumps back to the reference at restarts included
    report: dict
    tracked: Motion  # the reference the policy tracked (the input after the clean-up)
    # what refine writes: the continuous segments kept (by default), or ``clip`` whole with ``keep_restarts``
    segments: list[Segment] = field(default_factory=list)


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


def split_at_cuts(n_input: int, n_out: int, cuts: list[int], fps: float, min_seconds: float = MIN_SEGMENT_S,
                  end_reason: str = "not simulated") -> tuple[list[tuple[int, int]], list[dict]]:
    """Cut a simulated trajectory of ``n_out`` frames (of an input of ``n_input``) at the frames ``cuts``
    (where it jumps back to the reference; increasing, each starting a new piece). Returns the pieces kept,
    ``(start, end)`` in frames, and the frames dropped, ``{"frames": [start, end], "reason"}``, which together
    cover the ``n_input`` frames once. Without cuts the one piece is kept whatever its length; with cuts a piece
    under ``min_seconds`` is dropped. Frames from ``n_out`` on (a trajectory stopped at a loss) are dropped
    with ``end_reason``."""
    bounds = [0, *[c for c in cuts if 0 < c < n_out], n_out]
    kept: list[tuple[int, int]] = []
    dropped: list[dict] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        if len(bounds) == 2 or b - a >= min_seconds * fps - 1e-9:
            kept.append((a, b))
        else:
            dropped.append({"frames": [a, b], "reason": f"a segment of {b - a} frame(s) between cuts, under "
                                                         f"{min_seconds:g} s"})
    if n_out < n_input:
        dropped.append({"frames": [n_out, n_input], "reason": end_reason})
    return kept, dropped


def _weighted_plausibility(parts: list[dict], frames: list[int]) -> dict | None:
    """Frame-weighted mean of the segments' plausibility figures (None without segments)."""
    if not parts:
        return None
    w = np.asarray(frames, dtype=np.float64) / sum(frames)
    return {k: float(sum(wi * p[k] for wi, p in zip(w, parts))) for k in parts[0]}


def refine_clips(clips: list[Motion], policy: TrackingPolicy, retry: bool = True, threads: int | None = None,
                 progress: bool = False, backend: str = "cpu", device: str = "cpu",
                 num_envs: int | None = None,
                 cleanup: CleanupConfig | None = CleanupConfig(),
                 retry_distance: float | None = None, rewind: int = REWIND_FRAMES,
                 lanes: int | None = None, keep_restarts: bool = False,
                 min_segment_s: float = MIN_SEGMENT_S,
                 action_filter: ActionFilterConfig = ACTION_FILTER,
                 substeps: int | None = None, target_hold: str | None = None,
                 armature_scale: float = ARMATURE_SCALE) -> tuple[list[RefineResult], dict]:
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
    reference happens where the two were still close. ``threads``/``lanes``: :func:`rollout`'s.

    ``action_filter``: the low-pass filter on the policy's actions inside the control loop
    (:mod:`motionlib.sim.action_filter`; docs/tracking.md "Smooth output"); the output stays the
    simulated trajectory. ``substeps``: physics steps per control step (None: the policy's; more give a
    finer physics step at the same control rate, at their cost). ``target_hold``: "zoh" holds the PD
    target over a control step's substeps, "foh" ramps it from the previous step's (None: the policy's).
    ``armature_scale``: the humanoid's joint armature times this (:func:`~motionlib.policies.rollout.with_armature`;
    the policy file is not touched).

    Output (docs/tracking.md "Continuous output"): each result's ``segments`` are what refine writes. By
    default the trajectory is cut at every jump to the reference (``cuts`` in the report: frame, the frame
    the body was lost, reason) and the pieces under ``min_segment_s`` are dropped; the report's ``frames``
    accounts for every input frame (``kept`` + the ``dropped`` ranges with their reasons = ``input``),
    ``segments`` gives each kept piece's frames, G-MPJPE and plausibility, and ``after`` is the kept
    segments' plausibility (frame-weighted; None when none is kept). A clip without cuts is one segment,
    the whole clip, as before. ``keep_restarts``: one segment, the whole trajectory with its jumps, and
    ``after`` of that (the behaviour before the cut)."""
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
                      num_envs=num_envs, retry_distance=retry_distance, rewind=rewind, lanes=lanes,
                      action_filter=action_filter, substeps=substeps, target_hold=target_hold,
                      armature_scale=armature_scale)
    t_sim = time.perf_counter() - t0
    out: list[RefineResult] = []
    for clip, target, res, how in zip(inputs, targets, results, applied):
        meta = clip.derived_meta(refined={"policy": policy.info.get("name", "tracker"), "success": bool(res.success),
                                          "fail_frame": res.fail_frame, "retries": res.resets})
        refined = qpos_to_motion(res.qpos, fps, like=clip, meta=meta)
        n_in, n_out = clip.num_frames, refined.num_frames
        if keep_restarts:
            pieces, dropped = [(0, n_out)], []
            if n_out < n_in:
                dropped = [{"frames": [n_out, n_in], "reason": f"not simulated: lost at frame {res.fail_frame}"}]
        else:
            pieces, dropped = split_at_cuts(n_in, n_out, [c["frame"] for c in res.cuts], fps, min_segment_s,
                                            f"not simulated: lost at frame {res.fail_frame} (no retry)")
        segments: list[Segment] = []
        seg_reports: list[dict] = []
        for k, (a, b) in enumerate(pieces):
            seg = refined if (a, b) == (0, n_out) else qpos_to_motion(
                res.qpos[a:b], fps, like=clip, meta={**meta, "refined": {**meta["refined"], "segment": k,
                                                                          "frames": [a, b]}})
            segments.append(Segment(a, b, seg))
            # "after" of the simulated trajectory: the refined clip's joints and rotations are the
            # simulated bodies' (FK of the same qpos), its shape the simulator's collision shapes
            seg_reports.append({"segment": k, "frames": [a, b],
                                "g_mpjpe_mm": M.tracking_errors(res.body_pos[a:b], res.ref_pos[a:b])["g_mpjpe_mm"],
                                "after": M.plausibility(seg)})
        after = _weighted_plausibility([r["after"] for r in seg_reports], [b - a for a, b in pieces])
        report = {"id": Path(str(clip.meta.get("source", "clip"))).stem, **tracking_report(res, fps),
                  "before": M.plausibility(clip), "after": after, "cleanup": how,
                  "cuts": res.cuts, "segments": seg_reports,
                  "frames": {"input": n_in, "kept": sum(b - a for a, b in pieces), "dropped": dropped}}
        out.append(RefineResult(refined, report, target, segments))
    wall = time.perf_counter() - t0  # clean-up, simulation, conversion back to clips and the reports
    seconds_of_motion = sum(c.duration for c in inputs)
    totals = summarize([r.report for r in out])
    totals.update({"clips": len(out), "seconds_of_motion": seconds_of_motion, "wall_s": wall,
                   "realtime_factor": seconds_of_motion / wall if wall > 0 else None,
                   "simulation_s": t_sim,
                   "threads": threads, "lanes": lanes, "cleanup": None if cleanup is None else asdict(cleanup),
                   "retry_distance_m": retry_distance, "rewind_frames": rewind if retry else 0,
                   "keep_restarts": keep_restarts, "min_segment_s": None if keep_restarts else min_segment_s,
                   "action_filter": asdict(action_filter), "substeps": substeps or policy.tracking.substeps,
                   "target_hold": target_hold or policy.tracking.target_hold, "armature_scale": armature_scale})
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
    for side in ("before", "after"):  # "after": the clips with output (a clip may have every segment dropped)
        have = [r[side] for r in reports if r.get(side) is not None]
        tot[side] = {k: float(np.mean([h[k] for h in have])) for k in have[0]} if have else None
    if all("frames" in r for r in reports):
        n_in = sum(r["frames"]["input"] for r in reports)
        kept = sum(r["frames"]["kept"] for r in reports)
        tot["frames"] = {"input": n_in, "kept": kept, "kept_share": kept / n_in if n_in else None}
        tot["segments"] = sum(len(r["segments"]) for r in reports)
        tot["cuts"] = sum(len(r["cuts"]) for r in reports)
        tot["clips_without_output"] = sum(not r["segments"] for r in reports)
    return tot
