"""Run a tracking policy over clips in simulation and collect the trajectories.

Used by evaluation (success + errors, PHC protocol) and by refinement (the
simulated trajectory becomes the refined clip). One environment per
(clip, start frame); all run in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from motionlib.motion.clip import Motion
from motionlib.sim.reference import ReferenceLibrary
from motionlib.sim.tracking_config import TrackingConfig
from motionlib.sim.tracking_env import TrackingEnv

from .actor import TrackingPolicy


@dataclass
class RolloutResult:
    clip: int
    start: int
    qpos: np.ndarray  # (T, nq) simulated joint coordinates, frames start..end
    body_pos: np.ndarray  # (T, 24, 3) simulated bodies (SMPL order)
    ref_pos: np.ndarray  # (T, 24, 3) reference bodies
    success: bool  # never farther than success_distance (mean over bodies) from the reference
    fail_frame: int | None  # first frame where it was lost (None if never)
    resets: list[int] = field(default_factory=list)  # frames where a retry restarted from the reference
    blowups: int = 0


def rollout(policy: TrackingPolicy, clips: list[Motion] | ReferenceLibrary, starts: list[tuple[int, int]] | None = None,
            retry: bool = False, threads: int | None = None, progress: bool = False,
            device: str = "cpu", backend: str = "cpu", start_every: int = 0) -> list[RolloutResult]:
    """Roll out ``policy`` deterministically.

    ``starts``: (clip index, start frame) pairs; default: every clip from frame 0,
    or, with ``start_every`` N > 0, from every N-th frame (none within N frames of
    the clip end; a clip shorter than that starts at 0 only).
    ``retry``: when an env is lost, restart it from the reference at that frame
    and keep going (the first failure frame is still reported).
    ``backend``/``device``: physics backend ("cpu" or "warp") and where it runs.
    """
    from motionlib.sim.backend_cpu import CpuBackendConfig

    ref = clips if isinstance(clips, ReferenceLibrary) else ReferenceLibrary.from_clips(list(clips), policy.tracking.control_fps)
    if not starts:
        every = max(start_every, 0)
        lens = ref.clip_len.tolist()
        starts = [(c, f) for c in range(ref.num_clips)
                  for f in (range(0, max(1, lens[c] - every), every) if every else (0,))]
    tcfg = TrackingConfig(**{**policy.tracking.__dict__, "num_envs": len(starts), "rsi": False})
    bcfg = CpuBackendConfig(threads=threads) if backend == "cpu" else None
    env = TrackingEnv(ref, tcfg, policy.humanoid, backend=backend, backend_cfg=bcfg, device=device)
    env.eval_mode = True
    clip_ids = torch.tensor([c for c, _ in starts])
    frames = torch.tensor([f for _, f in starts])
    env.set_start(clip_ids, frames)
    obs = env.reset()
    n = len(starts)
    lengths = (env.ref.clip_len.cpu()[clip_ids] - frames).tolist()
    q0, p0 = env.backend.qpos.cpu().numpy(), env.body_state().pos.cpu().numpy()
    qpos = [[q0[i].copy()] for i in range(n)]
    body = [[p0[i].copy()] for i in range(n)]
    active = torch.ones(n, dtype=torch.bool)
    fail = [None] * n
    resets: list[list[int]] = [[] for _ in range(n)]
    blowups = [0] * n
    steps = int(max(lengths)) - 1
    policy.actor.to(device)
    for _ in tqdm(range(steps), desc="rollout", unit="step", disable=not progress):
        with torch.no_grad():
            act = policy.act(obs)
        res = env.step(act)
        lost = (res.terminated.cpu() & active).nonzero().flatten().tolist()
        ended = (res.truncated.cpu() & active).nonzero().flatten().tolist()
        pos_now = env.body_state().pos.cpu().numpy()
        q_now = env.backend.qpos.cpu().numpy()
        for i in range(n):
            if active[i]:
                qpos[i].append(q_now[i].copy())
                body[i].append(pos_now[i].copy())
        blow = env.backend.unstable.cpu()
        for i in lost:
            blowups[i] += int(blow[i])
            if fail[i] is None:
                fail[i] = int(env.frame[i])
            if retry and int(env.frame[i]) < int(env.ref.clip_len[env.clip[i]]) - 1:
                resets[i].append(int(env.frame[i]))
                env.set_start(env.clip.clone(), env.frame.clone())
                env._reset_envs(torch.tensor([i]))
                qpos[i][-1] = env.backend.qpos[i].cpu().numpy().copy()
                body[i][-1] = env.body_state().pos[i].cpu().numpy().copy()
            else:
                active[i] = False
        for i in ended:
            active[i] = False
        if not active.any():
            break
        obs = env.observe() if (retry and lost) else res.obs
    env.close()
    out = []
    for i, (c, f) in enumerate(starts):
        t = len(qpos[i])
        idx = ref.clip_start[c] + f + torch.arange(t)
        out.append(RolloutResult(
            clip=c, start=f, qpos=np.stack(qpos[i]), body_pos=np.stack(body[i]),
            ref_pos=ref.body_pos[idx].cpu().numpy(), success=fail[i] is None, fail_frame=fail[i],
            resets=resets[i], blowups=blowups[i]))
    return out
