"""``motionlib eval-tracker CLIPS... [--policy CKPT] --json``: PHC-style tracking evaluation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from motionlib.cli.common import (Failures, action_filter_config, add_control_flags, add_json_flag,
                                  add_physics_flags, armature_scale, print_json)


def register(sub) -> None:
    p = sub.add_parser("eval-tracker", help="evaluate a tracking policy: success rate and MPJPEs (PHC protocol)",
                       description="Track every clip from its first frame with the deterministic policy. Success: "
                                   "the mean body distance to the reference never exceeds 0.5 m (PHC). Errors over "
                                   "the tracked frames: global / root-relative / Procrustes-aligned MPJPE (mm), "
                                   "acceleration (mm/frame^2) and velocity (mm/frame) error.")
    p.add_argument("clips", nargs="+", type=Path)
    p.add_argument("--policy", nargs="+", default=None,
                   help="policy file (default: the shipped policy); several: each is evaluated and ranked by "
                        "success, then G-MPJPE (e.g. the policies/ a training run keeps of every evaluation)")
    p.add_argument("--batch", type=int, default=256,
                   help="clips loaded per batch (their starts queue for --worlds simulated worlds)")
    p.add_argument("--start-every", type=int, default=0, metavar="N",
                   help="also start at every N-th frame (each start tracked to the clip end, reported as "
                        "CLIP@FRAME; starts within N frames of the end are skipped); default: frame 0 only")
    p.add_argument("--group-by", default=None, metavar="LABEL",
                   help="also report the totals per value of this clip label (a key of the clip's "
                        "meta['labels'], e.g. content or style for ingested Bandai clips; clips without it "
                        "are grouped under '(none)')")
    add_physics_flags(p)
    add_control_flags(p, "none, as the policies were trained")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from motionlib.motion.io import find_clips
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.default import default_policy_path
    from motionlib.policies.refine import summarize, tracking_report
    from motionlib.policies.rollout import rollout
    from motionlib.sim.action_filter import ActionFilterConfig

    action_filter = action_filter_config(args, ActionFilterConfig())
    armature = armature_scale(args)
    files = find_clips(args.clips, required=True)
    paths = args.policy or [default_policy_path()]

    def totals(reports: list[dict]) -> dict:
        tot = {k: v for k, v in summarize([{**r, "before": {}, "after": {}} for r in reports]).items()
               if k not in ("before", "after")}
        tot["clips"] = len(reports)
        if action_filter.enabled:  # unfiltered (the default): the totals as before
            tot["action_filter"] = dataclasses.asdict(action_filter)
        if args.substeps:
            tot["substeps"] = args.substeps
        if args.target_hold:
            tot["target_hold"] = args.target_hold
        if armature != 1.0:  # the policy's own physics: the totals as before
            tot["armature_scale"] = armature
        return tot

    failures = Failures()  # unreadable clips are reported and left out; the others are evaluated

    def evaluate(policy, progress: bool) -> tuple[dict, list[dict], dict]:
        reports, labels = [], []
        for i in tqdm(range(0, len(files), args.batch), desc="eval", unit="batch",
                      disable=not progress or len(files) <= args.batch):
            chunk, clips = failures.load_clips(files[i : i + args.batch])
            if not clips:
                continue
            for res in rollout(policy, clips, threads=args.threads, lanes=args.lanes, backend=args.backend, device=args.device,
                               start_every=args.start_every, num_envs=args.worlds, progress=progress,
                               action_filter=action_filter, substeps=args.substeps, target_hold=args.target_hold,
                               armature_scale=armature):
                name = chunk[res.clip].stem + (f"@{res.start}" if args.start_every > 0 else "")
                reports.append({"id": name, **tracking_report(res, policy.tracking.control_fps)})
                labels.append(clip_label(clips[res.clip], args.group_by) if args.group_by else None)
        failures.require_some(len(reports), "evaluated")
        groups = {}
        if args.group_by:
            for value in sorted(set(labels)):
                groups[value] = totals([r for r, v in zip(reports, labels) if v == value])
        return totals(reports), reports, groups

    if len(paths) > 1:
        ranked = []
        for path in tqdm(paths, desc="policies", unit="policy", disable=args.json):
            with failures.one_input():  # an unreadable policy file is reported; the others are ranked
                tot, _, groups = evaluate(TrackingPolicy.load(path), progress=False)
                ranked.append({"policy": str(path), "totals": tot, **({"groups": groups} if groups else {})})
        failures.require_some(len(ranked), "evaluated")
        ranked.sort(key=lambda r: (-r["totals"]["success_rate"], r["totals"]["g_mpjpe_mm"]))
        doc = {"ranked": ranked}
        rc = failures.finish(doc)
        if args.json:
            print_json(doc)
        else:
            for r in ranked:
                t = r["totals"]
                print(f"{r['policy'][-60:]:60s} success {t['success_rate'] * 100:5.1f}% of {t['clips']}  "
                      f"G-MPJPE {t['g_mpjpe_mm']:6.1f} mm")
            failures.print()
        return rc
    policy = TrackingPolicy.load(paths[0])
    tot, reports, groups = evaluate(policy, progress=not args.json)
    rc = failures.finish(tot)
    if args.json:
        print_json({"totals": tot, **({"groups": groups} if groups else {}), "clips": reports})
    else:
        for r in reports:
            print(f"{r['id'][:48]:48s} {'ok' if r['success'] else 'LOST@' + str(r['fail_frame']):>9s} "
                  f"G {r['g_mpjpe_mm']:6.1f}  L {r['l_mpjpe_mm']:6.1f}  PA {r['pa_mpjpe_mm']:6.1f} mm")
        print(f"success {tot['success_rate'] * 100:.1f}% of {tot['clips']}  G-MPJPE {tot['g_mpjpe_mm']:.1f}  "
              f"L-MPJPE {tot['l_mpjpe_mm']:.1f}  PA-MPJPE {tot['pa_mpjpe_mm']:.1f} mm  accel {tot['accel_err']:.2f}  "
              f"vel {tot['vel_err']:.2f}")
        for value, t in groups.items():
            print(f"  {args.group_by} {value[:24]:24s} success {t['success_rate'] * 100:5.1f}% of {t['clips']:4d}  "
                  f"G-MPJPE {t['g_mpjpe_mm']:6.1f} mm")
        failures.print()
    return rc


def clip_label(clip, key: str) -> str:
    """The clip's ``meta['labels'][key]`` as text, ``(none)`` when it has none."""
    labels = clip.meta.get("labels")
    value = labels.get(key) if isinstance(labels, dict) else None
    return "(none)" if value is None else str(value)
