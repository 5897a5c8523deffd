"""Throughput of the MuJoCo Warp tracking backend, with policy inference.

    python benchmarks/bench_warp.py [--device cuda] [--worlds 1024 4096 8192] [--clips DIR ...] [--check]

For each world count: the tracking environment on the warp backend (physics,
observations, rewards, terminations and resets on the device) driven by the
shipped tracking policy (``policies/data/default_tracker.pt`` unless
``--policy``), and the physics alone (``substeps`` x ``mjw.step`` per control
step). Prints one table row per world count: backend, device, worlds,
env-steps/s with the policy, physics-only env-steps/s (physics steps /
substeps), setup seconds, device memory in use (CUDA), and the blow-ups,
solver/contact overflows and episode resets seen while measuring.

``--check`` first runs the parity check on the chosen device (4 worlds, 10
control steps of random actions through CPU MuJoCo and MuJoCo Warp, see
``sim/backend_parity.py``) and prints the worst differences.

The first world count (or the check) includes warp's kernel compile (minutes on a clean
cache) in its warm-up, which is not timed. Defaults are small on the CPU
(``--device cpu``: 16 and 64 worlds), where warp runs but slowly.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
WALK = REPO / "data" / "samples" / "bandai" / "dataset-1_walk_normal_001.bvh"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_clips(paths: list[str] | None):
    if paths:
        from motionlib.policies.train import load_clip_set

        return load_clip_set(paths)
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion

    return [bvh_to_motion(WALK)]


def measure(clips, policy, worlds: int, device: str, steps: int, warmup: int, graph: bool = True) -> dict:
    from motionlib.sim.backend_warp import WarpBackendConfig
    from motionlib.sim.tracking_config import TrackingConfig
    from motionlib.sim.tracking_env import TrackingEnv

    dev = torch.device(device)
    tcfg = TrackingConfig(**{**policy.tracking.__dict__, "num_envs": worlds})
    t0 = time.perf_counter()
    env = TrackingEnv(clips, tcfg, policy.humanoid, backend="warp", backend_cfg=WarpBackendConfig(device=device, graph=graph),
                      device=device)
    obs = env.reset()
    for _ in range(warmup):  # compiles kernels, captures graphs
        obs = env.step(policy.act(obs)).obs
    _sync(dev)
    setup_s = time.perf_counter() - t0

    ended = torch.zeros((), dtype=torch.long, device=dev)
    blow0, over0 = int(env.total_blowups), int(env.backend.overflows)
    t = time.perf_counter()
    for _ in range(steps):
        res = env.step(policy.act(obs))
        obs = res.obs
        ended += res.info["done"].sum()
    _sync(dev)
    rate = worlds * steps / (time.perf_counter() - t)

    ctrl = env.ref.qpos[env.ref.index(env.clip, env.frame + 1), 7:].contiguous()
    env.backend.step(ctrl, tcfg.substeps)
    _sync(dev)
    t = time.perf_counter()
    for _ in range(steps):
        env.backend.step(ctrl, tcfg.substeps)
    _sync(dev)
    physics = worlds * steps / (time.perf_counter() - t)
    used_gb = float("nan")
    if dev.type == "cuda":
        free, total = torch.cuda.mem_get_info(dev)
        used_gb = (total - free) / 1e9  # everything on the device: warp's arrays and torch's
    row = {"worlds": worlds, "rate": rate, "physics": physics, "setup_s": setup_s, "used_gb": used_gb,
           "blowups": int(env.total_blowups) - blow0, "overflows": int(env.backend.overflows) - over0,
           "episodes_ended": int(ended)}
    env.close()
    return row


def check(device: str, graph: bool) -> None:
    """Parity of the warp backend on ``device`` against CPU MuJoCo (see tests/test_warp_parity.py)."""
    from motionlib.sim.backend_parity import build_pair, compare_backends

    t = time.perf_counter()
    cpu, warp = build_pair(load_clips(None), device, 4, graph=graph)
    worst = compare_backends(cpu, warp, [5, 40, 80, 120], steps=10)
    ok = worst["same_done"] and worst["qpos"] < 1e-4 and worst["body_pos"] < 1e-4 and worst["reward"] < 2e-4
    print(f"parity check on {device} ({time.perf_counter() - t:.0f} s incl. compile): "
          + ", ".join(f"{k} {v:.1e}" if isinstance(v, float) else f"{k} {v}" for k, v in worst.items())
          + f" -> {'OK' if ok else 'MISMATCH (CPU tolerances: qpos/body 1e-4, reward 2e-4)'}", flush=True)
    cpu.close()
    warp.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--worlds", type=int, nargs="+", default=None, help="world counts (default: 1024 4096 8192 "
                                                                          "on cuda, 16 64 on cpu)")
    ap.add_argument("--steps", type=int, default=None, help="control steps per measurement (default 200 cuda, 20 cpu)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed control steps first")
    ap.add_argument("--clips", nargs="*", default=None, help="motionlib clip files/folders (default: the walking sample)")
    ap.add_argument("--policy", default=None)
    ap.add_argument("--check", action="store_true", help="parity check against CPU MuJoCo first")
    ap.add_argument("--no-graph", action="store_true", help="launch warp kernels eagerly (no CUDA graphs)")
    args = ap.parse_args()

    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.default import default_policy_path

    cuda = args.device.startswith("cuda")
    worlds = args.worlds or ([1024, 4096, 8192] if cuda else [16, 64])
    steps = args.steps or (200 if cuda else 20)
    policy = TrackingPolicy.load(args.policy or default_policy_path(), device=args.device)
    policy.actor.to(args.device)
    clips = load_clips(args.clips)
    name = torch.cuda.get_device_name(torch.device(args.device)) if cuda else "CPU"
    if args.check:
        check(args.device, not args.no_graph)
    print(f"warp tracking benchmark: device {args.device} ({name}), {len(clips)} clip(s), {steps} control steps "
          f"per measurement, policy {args.policy or 'shipped default'}", flush=True)
    print(f"{'backend':8s} {'device':8s} {'worlds':>7s} {'env-steps/s':>12s} {'physics-only':>13s} "
          f"{'setup s':>8s} {'GPU GB':>7s} {'blowups':>8s} {'overflows':>9s} {'ended':>6s}", flush=True)
    for n in worlds:
        r = measure(clips, policy, n, args.device, steps, args.warmup, graph=not args.no_graph)
        print(f"{'warp':8s} {args.device:8s} {n:7d} {r['rate']:12,.0f} {r['physics']:13,.0f} {r['setup_s']:8.1f} "
              f"{r['used_gb']:7.1f} {r['blowups']:8d} {r['overflows']:9d} {r['episodes_ended']:6d}", flush=True)


if __name__ == "__main__":
    main()
