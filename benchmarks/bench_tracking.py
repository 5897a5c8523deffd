"""Physics and tracking-environment throughput, and refine's real-time factor.

    python benchmarks/bench_tracking.py [--envs 64] [--threads 2] [--policy CKPT] [--armature-scale S] [--substeps N]

Prints
  * raw physics rate of the SMPL humanoid: ``mj_step`` on one world (1 thread),
    and ``mujoco.rollout`` over N worlds on T threads (in env-steps/s, i.e.
    physics steps / substeps);
  * env-steps/s of the tracking env (observations, rewards, terminations,
    resets) with a random policy and with the real policy (the shipped default
    unless ``--policy``), and each as a share of the raw rollout rate
    (target >= 80%), each the median of ``--rounds`` turns: one env stepped
    in lockstep with its policy, as training runs it (rl-games);
  * the same for the loop that evaluation and refine run (``policies.rollout``:
    jobs queued on worlds) with the real policy, in one lane and in two lanes
    side by side (two envs on Python threads, one physics thread each: one
    lane's observations and policy run while the other's physics does);
  * refine's real-time factor per core (seconds of motion per second on one
    thread, physics and torch alike; target >= 50x) on the three bundled clips,
    batched as ``motionlib refine`` batches a folder (``--batch``, default 64
    clips simulated together) and, for contrast, 4 clips: at small batches the
    per-step torch overhead of observations and policy dominates, at the CLI's
    batch the physics does. Also per CPU second of the process (time.process_time).

Every measurement runs the humanoid with refine's joint armature (``--armature-scale``; 1: the policy
file's own).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the motionlib command sets it (cli/main.py)

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples" / "bandai"
WALK = SAMPLES / "dataset-1_walk_normal_001.bvh"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envs", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=300, help="control steps per measurement")
    # five turns: with three, the two-lane median of three runs on this VM spread over 79-105%
    ap.add_argument("--rounds", type=int, default=5, help="turns of raw / random / real measurements (medians)")
    ap.add_argument("--policy", default=None)
    ap.add_argument("--refine-batch", type=int, nargs="+", default=[4, 64],
                    help="clips per refine batch to time (motionlib refine's --batch default is 64)")
    ap.add_argument("--armature-scale", type=float, default=None, metavar="S",
                    help="the humanoid's joint armature times S, in every measurement (default: refine's, "
                         "motionlib.policies.refine.ARMATURE_SCALE; 1: the policy file's)")
    ap.add_argument("--substeps", type=int, default=None, metavar="N",
                    help="physics steps per control step in every measurement (default: the policy's)")
    args = ap.parse_args()

    from motionlib.motion.ingest.bvh_fit import bvh_to_motion
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.default import default_policy_path
    from motionlib.policies.refine import ARMATURE_SCALE, refine_clips
    from motionlib.policies.rollout import rollout, with_armature
    from motionlib.sim.backend_cpu import CpuBackendConfig, torch_single_thread
    from motionlib.sim.tracking_config import TrackingConfig
    from motionlib.sim.tracking_env import TrackingEnv

    clip = bvh_to_motion(WALK)
    try:
        policy = TrackingPolicy.load(args.policy or default_policy_path())
        policy_label = str(args.policy or "shipped default")
    except Exception as e:  # noqa: BLE001
        raise SystemExit(f"no policy to benchmark: {e}")
    armature = ARMATURE_SCALE if args.armature_scale is None else args.armature_scale
    policy = with_armature(policy, armature)  # refine_clips below then runs it as it is (armature_scale=1)
    if args.substeps:
        policy = dataclasses.replace(policy, tracking=dataclasses.replace(policy.tracking, substeps=args.substeps))
    tcfg = TrackingConfig(**{**policy.tracking.__dict__, "num_envs": args.envs})
    env = TrackingEnv([clip], tcfg, policy.humanoid, backend_cfg=CpuBackendConfig(threads=args.threads))
    env.reset()
    sub = tcfg.substeps
    m = env.models[0]

    # raw mj_step, one world, standing at a reference pose with PD targets held
    d = mujoco.MjData(m)
    d.qpos[:] = env.backend.qpos[0].numpy()
    d.ctrl[:] = d.qpos[7:]
    n = 4000
    t = time.perf_counter()
    for _ in range(n):
        mujoco.mj_step(m, d)
    mj_rate = n / (time.perf_counter() - t)

    # raw rollout: the backend alone, N worlds, T threads, each holding the pose of its start frame
    def raw_rate() -> float:
        env.reset()
        ctrl = env.ref.qpos[env.ref.index(env.clip, env.frame + 1), 7:]
        env.backend.step(ctrl, sub)
        t = time.perf_counter()
        for _ in range(args.steps):
            env.backend.step(ctrl, sub)
            if env.backend.unstable.any():
                env.reset(env.backend.unstable.nonzero().flatten())
        return args.envs * args.steps / (time.perf_counter() - t)

    # The time spent inside the backend's physics step while the env runs: the
    # physics rate on exactly the states the env visits (the held-pose rollout
    # above falls over into other contact states), so env/physics is the share
    # of the env's time that is physics, and 1 - share its own overhead.
    physics_s = [0.0]
    backend_step = env.backend.step

    def timed_step(*a, **kw):
        t = time.perf_counter()
        backend_step(*a, **kw)
        physics_s[0] += time.perf_counter() - t

    def env_rate(act_fn) -> tuple[float, float]:
        env.backend.step = timed_step
        obs = env.reset()
        env.step(act_fn(obs))
        physics_s[0] = 0.0
        t0 = time.perf_counter()
        for _ in range(args.steps):  # the env resets finished episodes itself (as in training)
            obs = env.step(act_fn(obs)).obs
        total = time.perf_counter() - t0
        env.backend.step = backend_step
        return args.envs * args.steps / total, args.envs * args.steps / physics_s[0]

    def policy_act(obs: torch.Tensor) -> torch.Tensor:
        with torch_single_thread():  # as refine and evaluation run it (policies/rollout.py)
            return policy.act(obs)

    # The evaluation / refine loop (policies/rollout.py): the walk from every frame (but the last
    # ten) as jobs, the real policy, in one lane (one env: the loop above with a job queue) and in
    # two lanes (two envs side by side on Python threads, one physics thread each): env-steps
    # (simulated frames) per second, set-up (models, floor lifts) and the queue's tail included.
    jobs = [(0, f) for f in range(0, env.ref.num_frames - 10)]

    def rollout_rate(lanes: int) -> float:
        t = time.perf_counter()
        res = rollout(policy, env.ref, jobs, threads=args.threads, lanes=lanes)
        return sum(len(r.qpos) - 1 for r in res) / (time.perf_counter() - t)

    # This VM's timings drift by +-10% over a minute: the figures are measured in turns,
    # args.rounds times, and each ratio is the median of its per-round ratios.
    torch.manual_seed(0)
    rounds = []
    for _ in range(args.rounds):
        r = raw_rate()
        rand, rand_phys = env_rate(lambda o: torch.rand(args.envs, env.num_actions) * 2 - 1)
        real, real_phys = env_rate(policy_act)
        rounds.append((r, rand, rand_phys, real, real_phys, rollout_rate(1), rollout_rate(2)))
    env.close()
    a = np.array(rounds)
    raw, rand, rand_phys, real, real_phys, lane1, lane2 = np.median(a, axis=0)
    rand_share, real_share = np.median(a[:, 1] / a[:, 0]), np.median(a[:, 3] / a[:, 0])
    real_lo, real_hi = (a[:, 3] / a[:, 0]).min(), (a[:, 3] / a[:, 0]).max()
    lane1_share, lane2_share = np.median(a[:, 5] / a[:, 0]), np.median(a[:, 6] / a[:, 0])
    lane2_lo, lane2_hi = (a[:, 6] / a[:, 0]).min(), (a[:, 6] / a[:, 0]).max()

    print(f"tracking benchmark: SMPL humanoid ({m.nv - 6} hinge DoF, armature x{armature:g}), "
          f"{1 / m.opt.timestep:.0f} Hz physics, {tcfg.control_fps:.0f} Hz control, {args.envs} envs, "
          f"{args.threads} threads")
    print(f"  raw mj_step, 1 world, 1 thread     : {mj_rate:10,.0f} physics steps/s "
          f"({mj_rate / sub:,.0f} env-steps/s)")
    print(f"  raw mujoco.rollout, {args.envs} worlds     : {raw * sub:10,.0f} physics steps/s ({raw:,.0f} env-steps/s)")
    print(f"  tracking env, random policy        : {rand:10,.0f} env-steps/s  ({100 * rand_share:.0f}% of raw; target >= 80%)")
    print(f"      its physics alone, same states : {rand_phys:10,.0f} env-steps/s  (env = {100 * rand / rand_phys:.0f}% of it)")
    print(f"  tracking env, real policy          : {real:10,.0f} env-steps/s  ({100 * real_share:.0f}% of raw, rounds "
          f"{100 * real_lo:.0f}-{100 * real_hi:.0f}%; target >= 80%; policy: {policy_label})")
    print(f"      its physics alone, same states : {real_phys:10,.0f} env-steps/s  (env = {100 * real / real_phys:.0f}% of it)")
    print(f"  rollout (eval/refine), real policy, {len(jobs)} jobs of the walk:")
    print(f"      1 lane (one env)               : {lane1:10,.0f} env-steps/s  ({100 * lane1_share:.0f}% of raw)")
    print(f"      2 lanes (two envs, 1 thread each): {lane2:8,.0f} env-steps/s  ({100 * lane2_share:.0f}% of raw, rounds "
          f"{100 * lane2_lo:.0f}-{100 * lane2_hi:.0f}%; target >= 80%)")

    samples = [bvh_to_motion(f) for f in sorted(SAMPLES.glob("*.bvh"))]
    for batch in args.refine_batch:
        clips = [samples[i % len(samples)] for i in range(batch)]
        rtf, rtf_cpu, success = refine_rtf(refine_clips, clips, policy)
        print(f"  refine, 1 thread, batch of {batch:3d} clips: real-time factor {rtf:5.1f}x per core, median of 5 "
              f"({rtf_cpu:.1f}x per CPU second; target >= 50x; success {success * 100:.0f}%)")


def refine_rtf(refine_clips, clips, policy, repeats: int = 5) -> tuple[float, float, float]:
    """Refine ``clips`` on one thread (MuJoCo and torch), ``repeats`` times; the median real-time
    factor per wall and per CPU second (this VM's timings vary by +-20% from run to run)."""
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    wall, cpu = [], []
    try:
        for _ in range(repeats):
            cpu0 = time.process_time()
            _, totals = refine_clips(clips, policy, retry=True, threads=1, armature_scale=1.0)
            cpu.append(totals["seconds_of_motion"] / (time.process_time() - cpu0))
            wall.append(totals["realtime_factor"])
    finally:
        torch.set_num_threads(torch_threads)
    return float(np.median(wall)), float(np.median(cpu)), totals["success_rate"]


if __name__ == "__main__":
    main()
