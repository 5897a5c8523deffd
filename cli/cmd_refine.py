"""``motionlib refine IN... --out DIR [--policy CKPT]``: physics refinement of clips."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import re
from pathlib import Path

from motionlib.cli.common import (Failures, action_filter_config, add_cleanup_flags, add_control_flags,
                                  add_json_flag, add_physics_flags, armature_scale, cleanup_config, print_json)


def register(sub) -> None:
    p = sub.add_parser("refine", help="make clips physically plausible by tracking them in simulation",
                       description="Track each clip with the RL policy in MuJoCo (PD targets only, no external "
                                   "forces) and write the simulated motion as the refined clip, with OUT/report.json "
                                   "(per-clip success, tracking errors, plausibility before/after, real-time factor). "
                                   "Refined clips come at the policy's control rate (30 fps): an input at another "
                                   "rate is resampled before tracking. Where the tracked body was lost and restarted "
                                   "from the reference, the output is cut: each continuous segment of 1 s or more "
                                   "is written as CLIP_seg<k>.npz (a clip without restarts as CLIP.npz) and the "
                                   "report lists the cuts and the frames kept and dropped.")
    p.add_argument("inputs", nargs="+", type=Path, help="motionlib clips or folders")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--policy", default=None, help="tracking policy file (default: the shipped policy)")
    p.add_argument("--no-retry", action="store_true", help="do not restart lost clips from the point of failure")
    p.add_argument("--retry-distance", type=float, default=None, metavar="M",
                   help="restart from the reference when any body is M metres from it (default: the policy's "
                        "training termination distance, 0.25; 0: only when the clip is lost at PHC's 0.5 m mean)")
    p.add_argument("--rewind", type=int, default=None, metavar="N",
                   help="a restart goes back N frames before the loss and simulates them again (default: "
                        "motionlib.policies.refine.REWIND_FRAMES)")
    p.add_argument("--keep-restarts", action="store_true",
                   help="write each clip whole, with the jumps back to the reference at its restarts (default: cut "
                        "it into physically continuous segments at the restarts and drop those under "
                        "--min-segment)")
    p.add_argument("--min-segment", type=float, default=None, metavar="S",
                   help="the shortest segment between restarts that is written, seconds (default: "
                        "motionlib.policies.refine.MIN_SEGMENT_S, 1 s)")
    add_cleanup_flags(p)
    add_control_flags(p, "motionlib.policies.refine.ACTION_FILTER")
    p.add_argument("--batch", type=int, default=256,
                   help="clips loaded and refined per batch (they queue for --worlds simulated worlds)")
    p.add_argument("--video", action="store_true",
                   help="also render a before/after video of each clip written (CLIP[_seg<k>]_before_after.mp4)")
    p.add_argument("--no-resume", action="store_true",
                   help="refine every clip again (default: a clip whose refined clip and report in OUT were made "
                        "from the same input with the same policy and options is kept, so an interrupted run "
                        "can simply be rerun)")
    p.add_argument("--quiet", action="store_true")
    add_physics_flags(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from motionlib.motion.atomic import write_text_atomic
    from motionlib.motion.io import find_clips, save_motion
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.default import default_policy_path
    from motionlib.policies.refine import ACTION_FILTER, MIN_SEGMENT_S, REWIND_FRAMES, refine_clips, summarize

    policy_path = args.policy or default_policy_path()
    policy = TrackingPolicy.load(policy_path)
    cleanup = cleanup_config(args)
    action_filter = action_filter_config(args, ACTION_FILTER)
    armature = armature_scale(args)
    rewind = {} if args.rewind is None else {"rewind": args.rewind}
    min_segment = MIN_SEGMENT_S if args.min_segment is None else args.min_segment
    files = find_clips(args.inputs, required=True)
    # what a refined clip depends on: a clip refined before from the same input with these is kept (resume);
    # taken through JSON as the stored records are (tuples become lists), so the two compare equal
    key = json.loads(json.dumps({"policy_sha256": _sha256(policy_path), "retry": not args.no_retry,
                                 "cleanup": None if cleanup is None else dataclasses.asdict(cleanup),
                                 "retry_distance": args.retry_distance,  # None: the policy's (hashed)
                                 "rewind": REWIND_FRAMES if args.rewind is None else args.rewind,
                                 "keep_restarts": args.keep_restarts,
                                 "min_segment_s": None if args.keep_restarts else min_segment,
                                 # only a filter that acts: the clips refined unfiltered before still resume
                                 **({"action_filter": dataclasses.asdict(action_filter)}
                                    if action_filter.enabled else {}),
                                 **({"substeps": args.substeps} if args.substeps else {}),
                                 **({"target_hold": args.target_hold} if args.target_hold else {}),
                                 # the policy's own armature (as refined before the setting) keeps the old key
                                 **({"armature_scale": armature} if armature != 1.0 else {})}))
    by_file: dict[Path, dict] = {}  # each input's report
    wall, motion_s, settings = 0.0, 0.0, {}
    for f in [] if args.no_resume else files:
        done = _refined_before(args.out, f, key, args.video)
        if done is not None:
            by_file[f], settings = done["report"], done["settings"]
    todo = [f for f in files if f not in by_file]
    bar = tqdm(total=len(files), initial=len(by_file), desc="refine", unit="clip", disable=args.quiet or args.json)
    failures = Failures()  # an unreadable clip is reported in report.json and the batch carries on
    for i in range(0, len(todo), args.batch):
        batch = todo[i : i + args.batch]
        chunk, clips = failures.load_clips(batch)
        if not clips:
            bar.update(len(batch))
            continue
        results, totals = refine_clips(clips, policy, retry=not args.no_retry, threads=args.threads,
                                        lanes=args.lanes, backend=args.backend, device=args.device, num_envs=args.worlds,
                                        cleanup=cleanup, progress=not (args.quiet or args.json),
                                        retry_distance=args.retry_distance, keep_restarts=args.keep_restarts,
                                        min_segment_s=min_segment, action_filter=action_filter,
                                        substeps=args.substeps, target_hold=args.target_hold,
                                        armature_scale=armature, **rewind)
        settings = {k: totals[k] for k in ("cleanup", "retry_distance_m", "rewind_frames", "keep_restarts",
                                           "min_segment_s", "action_filter", "substeps", "target_hold",
                                           "armature_scale")}
        wall += totals["wall_s"]
        motion_s += totals["seconds_of_motion"]
        for f, clip, r in zip(chunk, clips, results):
            _remove_outputs(args.out, f)  # an earlier run's, which may have cut the clip elsewhere
            whole = args.keep_restarts or not r.report["cuts"]  # one clip, under the input's name
            names = [f.name] if whole else [f"{f.stem}_seg{k}.npz" for k in range(len(r.segments))]
            for name, seg, rep in zip(names, r.segments, r.report["segments"]):
                save_motion(seg.clip, args.out / "clips" / name)
                rep["file"] = name
            r.report["id"] = f.stem
            by_file[f] = r.report
            if args.video:
                from motionlib.motion.render import render_video

                src = clip if abs(clip.fps - r.clip.fps) < 1e-9 else clip.resample(r.clip.fps)
                for name, seg in zip(names, r.segments):
                    render_video([src[seg.start : seg.end], seg.clip], _video_path(args.out, Path(name)),
                                 titles=["input", "refined"])
            # written last: its presence says the clip (and video) are complete
            write_text_atomic(_report_path(args.out, f), json.dumps({
                "key": key, "input_sha256": _sha256(f), "settings": settings, "report": r.report}))
        bar.update(len(batch))
    bar.close()
    resumed = len(files) - len(todo)
    reports = [by_file[f] for f in files if f in by_file]  # in input order
    failures.require_some(len(reports), "refined")
    totals = summarize(reports)
    # the real-time factor is this run's: clips kept from an earlier run count in "resumed" only
    totals.update({"clips": len(reports), "resumed": resumed, "seconds_of_motion": round(motion_s, 2),
                   "wall_s": round(wall, 2), "realtime_factor": round(motion_s / wall, 2) if wall else None,
                   "policy": str(policy_path), **settings})
    doc = {"clips": reports, "totals": totals}
    rc = failures.finish(totals)
    write_text_atomic(args.out / "report.json", json.dumps(doc, indent=1))
    if args.json:
        print_json(doc)
    else:
        # clean-up: the strength of the smoothing and unslide the clip got (motion.cleanup; "-": none)
        print(f"{'clip':40s} {'ok':>3s} {'restarts':>8s} {'clean-up':>8s} {'G-MPJPE':>8s} {'pen b/a':>13s} "
              f"{'float b/a':>13s} {'skate b/a':>13s} {'out':>4s}")
        nan = {k: float("nan") for k in ("penetration_mm", "float_mm", "skate_mm")}
        for r in reports:
            b, a = r["before"], r["after"] or nan  # no "after": every segment was dropped
            how = "-" if r["cleanup"] is None else f"{r['cleanup']['strength']:.2f}"
            print(f"{r['id'][:40]:40s} {'yes' if r['success'] else 'NO':>3s} {r['retries']:8d} {how:>8s} "
                  f"{r['g_mpjpe_mm']:8.1f} {b['penetration_mm']:6.1f}/{a['penetration_mm']:<6.1f} "
                  f"{b['float_mm']:6.1f}/{a['float_mm']:<6.1f} {b['skate_mm']:6.1f}/{a['skate_mm']:<6.1f} "
                  f"{len(r['segments']):4d}")
        if "frames" in totals:
            fr = totals["frames"]
            print(f"frames kept {fr['kept']:,} of {fr['input']:,} ({(fr['kept_share'] or 0) * 100:.1f}%) in "
                  f"{totals['segments']} clip(s) written; {totals['cuts']} cut(s)"
                  + ("" if args.keep_restarts else f", segments under {min_segment:g} s dropped"))
        print(f"success {totals['success_rate'] * 100:.1f}%  G-MPJPE {totals.get('g_mpjpe_mm', float('nan')):.1f} mm  "
              f"real-time factor {str(totals['realtime_factor']) + 'x' if totals['realtime_factor'] else '-'}  "
              f"report: {args.out / 'report.json'}"
              + (f"  ({resumed} kept from an earlier run)" if resumed else ""))
        failures.print()
    return rc


def _sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _report_path(out: Path, f: Path) -> Path:
    return out / "reports" / f"{f.stem}.json"


def _video_path(out: Path, f: Path) -> Path:
    return out / f"{f.stem}_before_after.mp4"


def _outputs(out: Path, f: Path) -> list[Path]:
    """The clips and videos in ``out`` that refining ``f`` writes: ``f.name`` or its ``_seg<k>`` segments."""
    pat = re.compile(re.escape(f.stem) + r"(_seg\d+)?(\.npz|_before_after\.mp4)")
    found = [p for p in (out / "clips").glob(f"{glob.escape(f.stem)}*.npz") if pat.fullmatch(p.name)]
    return found + [p for p in out.glob(f"{glob.escape(f.stem)}*_before_after.mp4") if pat.fullmatch(p.name)]


def _remove_outputs(out: Path, f: Path) -> None:
    """Remove what an earlier run wrote for ``f`` (its record first: without it nothing is resumed)."""
    _report_path(out, f).unlink(missing_ok=True)
    for p in _outputs(out, f):
        p.unlink(missing_ok=True)


def _refined_before(out: Path, f: Path, key: dict, video: bool) -> dict | None:
    """The record of ``f`` refined earlier into ``out`` with the same ``key`` from the same input (with
    every clip it lists, and their videos when ``video``), or None."""
    rec_path = _report_path(out, f)
    if not rec_path.is_file():
        return None
    try:
        rec = json.loads(rec_path.read_text())
        names = [s["file"] for s in rec["report"]["segments"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all((out / "clips" / n).is_file() and (not video or _video_path(out, Path(n)).is_file()) for n in names):
        return None
    return rec if rec.get("key") == key and rec.get("input_sha256") == _sha256(f) else None
