"""Smoothness of refine's output on clean capture, per control setting.

    python benchmarks/bench_refine_smooth.py --clips out/d1_v2 [--every 3] \
        --settings none lowpass:0.8 lowpass:0.6 critical:0.6 none+substeps:8 [--out DIR]
    python benchmarks/bench_refine_smooth.py --clips out/d1_v2 --every 29 --diagnose none lowpass:0.6

Refines every clip (or every N-th in name order with ``--every N``: a subset spread over the contents
and styles, which the names sort by) with each setting and prints, per setting: the median over clips
of the jitter ratio (``motion.metrics.jitter`` of the refined clip, frame-weighted over the segments
refine writes, over that of the input clip), the share of clips with a ratio <= 1.1, refine's success
(no restart), G-MPJPE to the tracked reference, and skate / float after (input's in brackets).

A setting is ``KIND[:ALPHA]`` of the action filter (:mod:`motionlib.sim.action_filter`: ``none``,
``lowpass``, ``critical``), optionally ``+substeps:N`` (physics substeps per control step; the
policy was trained with 4), ``+hold:foh`` (the PD target ramped over the substeps from the previous
control step's instead of held, ``TrackingConfig.target_hold``), ``+gain:S`` (the humanoid's PD gains
times S), ``+damping:D`` (passive joint damping, N m s/rad; the humanoid's is 2) and ``+armature:S``
(the joints' armature times S; the humanoid's is 0.02, 0.01 on light links). A setting changes the
policy file's physics (armature 1), not refine's defaults: ``none`` is the policy as trained.

``--diagnose``: where the jitter comes from, per setting, on the clips tracked from frame 0 without
restarts: the jerk (third difference x fps^3, rad/s^3, mean over joints and frames) of the policy's
actions, of the residual that reaches the PD targets (action scale x filtered action), of the PD
targets, of the simulated joint angles and of the reference's; and the positional jitter (m/s^3) of
the root joint against the other joints, simulated and reference.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def parse_setting(text: str):
    from motionlib.sim.action_filter import ActionFilterConfig

    kind, alpha, physics = "none", 1.0, {}
    for part in text.split("+"):
        name, _, value = part.partition(":")
        if name == "zero":
            continue  # diagnose: zero residual actions
        if name in ("substeps", "gain", "damping", "armature"):
            physics[name] = float(value)
        elif name == "hold":
            physics[name] = value
        else:
            kind, alpha = name, float(value) if value else 1.0
    return ActionFilterConfig(kind, alpha), physics


def policy_for(policy, physics: dict):
    """``policy`` with its tracking substeps or target hold, humanoid PD gains (times ``gain``), joint damping
    or joint armature (times ``armature``) replaced."""
    tracking, humanoid = policy.tracking, policy.humanoid
    if "substeps" in physics:
        tracking = dataclasses.replace(tracking, substeps=int(physics["substeps"]))
    if "hold" in physics:
        tracking = dataclasses.replace(tracking, target_hold=physics["hold"])
    if "gain" in physics:
        humanoid = dataclasses.replace(humanoid, gain_scale=humanoid.gain_scale * physics["gain"])
    if "damping" in physics:
        humanoid = dataclasses.replace(humanoid, damping=physics["damping"])
    policy = dataclasses.replace(policy, tracking=tracking, humanoid=humanoid)
    if "armature" in physics:
        from motionlib.policies.rollout import with_armature

        policy = with_armature(policy, physics["armature"])
    return policy


def jerk(x: np.ndarray, fps: float) -> float:
    """Mean |third difference| x fps^3 of a (T, D) sequence, over frames and columns."""
    return float(np.abs(np.diff(x, 3, axis=0)).mean() * fps**3) if len(x) > 3 else 0.0


def sweep(clips, names, policy, settings, threads: int, out: Path | None) -> list[dict]:
    from motionlib.policies.refine import refine_clips

    rows = []
    for text in settings:
        filt, physics = parse_setting(text)
        t0 = time.perf_counter()
        substeps = physics.pop("substeps", None)
        # the setting's physics on the policy's own (armature 1, whatever refine's default)
        results, totals = refine_clips(clips, policy_for(policy, physics), threads=threads, lanes=1,
                                       action_filter=filt, substeps=None if substeps is None else int(substeps),
                                       armature_scale=1.0)
        per = []
        for name, r in zip(names, results):
            rep = r.report
            after = rep["after"]
            per.append({"id": name, "success": rep["success"], "g_mpjpe_mm": rep["g_mpjpe_mm"],
                        "retries": rep["retries"], "before": rep["before"], "after": after,
                        "jitter_ratio": None if after is None else after["jitter"] / rep["before"]["jitter"]})
        ratios = np.array([p["jitter_ratio"] for p in per if p["jitter_ratio"] is not None])
        have = [p for p in per if p["after"] is not None]
        row = {"setting": text, "clips": len(per), "clips_with_output": len(have),
               "median_jitter_ratio": float(np.median(ratios)), "share_ratio_le_1_1": float((ratios <= 1.1).mean()),
               "success_rate": totals["success_rate"], "g_mpjpe_mm": totals["g_mpjpe_mm"],
               "skate_after_mm": float(np.mean([p["after"]["skate_mm"] for p in have])),
               "float_after_mm": float(np.mean([p["after"]["float_mm"] for p in have])),
               "penetration_after_mm": float(np.mean([p["after"]["penetration_mm"] for p in have])),
               "skate_before_mm": float(np.mean([p["before"]["skate_mm"] for p in per])),
               "float_before_mm": float(np.mean([p["before"]["float_mm"] for p in per])),
               "jitter_before": float(np.mean([p["before"]["jitter"] for p in per])),
               "jitter_after": float(np.mean([p["after"]["jitter"] for p in have])),
               "wall_s": time.perf_counter() - t0}
        rows.append(row)
        print(f"{text:28s} jitter ratio median {row['median_jitter_ratio']:.3f} (<=1.1: "
              f"{row['share_ratio_le_1_1'] * 100:5.1f}%)  success {row['success_rate'] * 100:5.1f}%  "
              f"G-MPJPE {row['g_mpjpe_mm']:6.1f} mm  skate {row['skate_after_mm']:5.1f} ({row['skate_before_mm']:.1f})"
              f"  float {row['float_after_mm']:5.1f} ({row['float_before_mm']:.1f})  [{row['wall_s']:.0f} s]",
              flush=True)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            safe = text.replace(":", "_").replace("+", "__")
            (out / f"{safe}.json").write_text(json.dumps({"totals": row, "clips": per}, indent=1))
    return rows


def diagnose(clips, policy, settings) -> None:
    """Step the env over ``clips`` from frame 0 (no restarts) and report the jerk of actions, targets and joints."""
    import torch

    from motionlib.sim.backend_cpu import torch_single_thread
    from motionlib.sim.reference import ReferenceLibrary
    from motionlib.sim.tracking_config import EvalConfig
    from motionlib.sim.tracking_env import TrackingEnv

    for text in settings:
        filt, physics = parse_setting(text)
        pol = policy_for(policy, physics)
        fps = pol.tracking.control_fps
        ref = ReferenceLibrary.from_clips(clips, fps)
        lengths = ref.clip_len.tolist()
        tcfg = dataclasses.replace(pol.tracking, num_envs=len(clips), rsi=False, max_episode_steps=max(lengths) + 1)
        env = TrackingEnv(ref, tcfg, pol.humanoid, evaluation=EvalConfig(), action_filter=filt)
        n = len(clips)
        with torch_single_thread(True):
            obs = env.restart(torch.arange(n), torch.arange(n), torch.zeros(n, dtype=torch.long))
            rec = {k: [[] for _ in range(n)] for k in ("act", "res", "target", "q", "pos")}
            alive = np.ones(n, dtype=bool)
            lost = np.zeros(n, dtype=bool)
            for t in range(max(lengths) - 1):
                active = torch.from_numpy(alive)
                with torch.no_grad():
                    act = torch.clamp(pol.act(obs), -1, 1)
                if "zero" in text.split("+"):
                    act = torch.zeros_like(act)
                res = env.step(act, active)
                applied = env.action_filter.state[-1] if env.action_filter.enabled else act
                nxt = env.ref.index(env.clip, env.frame)
                target = env.ref.qpos.index_select(0, nxt)[:, 7:] + tcfg.action_scale * applied
                q = env.backend.qpos.cpu().numpy()
                pos = env.body_state().pos.cpu().numpy()
                for w in np.flatnonzero(alive):
                    rec["act"][w].append(act[w].numpy())
                    rec["res"][w].append(tcfg.action_scale * applied[w].numpy())
                    rec["target"][w].append(target[w].numpy())
                    rec["q"][w].append(q[w, 7:].copy())
                    rec["pos"][w].append(pos[w].copy())
                lost |= res.terminated.numpy() & alive
                alive &= ~(res.terminated.numpy() | res.truncated.numpy())
                obs = res.obs
                if not alive.any():
                    break
        env.close()
        # a lost clip counts up to half a second before the loss (the drifting off is not the steady state)
        cut = {w: len(rec["q"][w]) - (15 if lost[w] else 0) for w in range(n)}
        for w in range(n):
            for k in rec:
                rec[k][w] = rec[k][w][: cut[w]]
        keep = [w for w in range(n) if cut[w] >= 30]
        fig = {k: [] for k in ("act", "res", "target", "q", "ref_q", "root", "limbs", "ref_root", "ref_limbs")}
        for w in keep:
            s, e = int(ref.clip_start[w]) + 1, int(ref.clip_start[w]) + 1 + len(rec["q"][w])
            fig["act"].append(jerk(np.array(rec["act"][w]), fps))
            fig["res"].append(jerk(np.array(rec["res"][w]), fps))
            fig["target"].append(jerk(np.array(rec["target"][w]), fps))
            fig["q"].append(jerk(np.array(rec["q"][w]), fps))
            fig["ref_q"].append(jerk(ref.qpos[s:e, 7:].numpy(), fps))
            pos, rpos = np.array(rec["pos"][w]), ref.body_pos[s:e].numpy()
            per_joint = np.linalg.norm(np.diff(pos, 3, axis=0), axis=-1).mean(0) * fps**3
            ref_joint = np.linalg.norm(np.diff(rpos, 3, axis=0), axis=-1).mean(0) * fps**3
            fig["root"].append(per_joint[0])
            fig["limbs"].append(per_joint[1:].mean())
            fig.setdefault("feet", []).append(per_joint[[7, 8, 10, 11]].mean())
            fig.setdefault("ref_feet", []).append(ref_joint[[7, 8, 10, 11]].mean())
            fig["ref_root"].append(ref_joint[0])
            fig["ref_limbs"].append(ref_joint[1:].mean())
            if w == keep[0]:
                order = np.argsort(-per_joint)[:6]
                print(f"  {text}: clip {w} joints with most jerk (m/s^3, sim/ref): "
                      + ", ".join(f"{j}:{per_joint[j]:.0f}/{ref_joint[j]:.0f}" for j in order))
        m = {k: float(np.mean(v)) for k, v in fig.items()}
        print(f"{text:28s} {len(keep)}/{n} clips ({int(lost.sum())} lost, counted up to 0.5 s before): jerk rad/s^3: policy action {m['act']:.0f}, residual "
              f"{m['res']:.0f}, PD target {m['target']:.0f}, simulated joints {m['q']:.0f}, reference joints "
              f"{m['ref_q']:.0f}; position jerk m/s^3: root {m['root']:.0f} (ref {m['ref_root']:.0f}), other "
              f"joints {m['limbs']:.0f} (ref {m['ref_limbs']:.0f}), feet {m['feet']:.0f} (ref {m['ref_feet']:.0f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, default=REPO / "out" / "d1_v2", help="folder of clean motionlib clips")
    ap.add_argument("--policy", default=None)
    ap.add_argument("--every", type=int, default=1, help="every N-th clip in name order (default: all)")
    ap.add_argument("--settings", nargs="+", default=["none"])
    ap.add_argument("--diagnose", nargs="+", default=None, metavar="SETTING")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="write each setting's per-clip figures here")
    args = ap.parse_args()

    from motionlib.motion.io import find_clips, load_motion
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.default import default_policy_path

    files = find_clips([args.clips], required=True)[:: max(args.every, 1)]
    clips = [load_motion(f) for f in files]
    policy = TrackingPolicy.load(args.policy or default_policy_path())
    print(f"{len(clips)} clips, {sum(c.duration for c in clips):.0f} s of motion", flush=True)
    if args.diagnose:
        diagnose(clips, policy, args.diagnose)
        return
    sweep(clips, [f.stem for f in files], policy, args.settings, args.threads, args.out)


if __name__ == "__main__":
    main()
