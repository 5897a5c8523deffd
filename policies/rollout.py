"""Run a tracking policy over clips in simulation and collect the trajectories.

Used by evaluation (success + errors, PHC protocol) and by refinement (the
simulated trajectory becomes the refined clip). Each (clip, start frame) is a
job; jobs queue for a fixed number of simulated worlds, longest first, and a
world that finishes its job takes the next one. Clips of a dataset differ in
length (dataset-1: 20 to 1,901 frames), so running one world per clip until
the longest ends would spend most of the physics on worlds whose clip is over
(82% for dataset-1 in batches of 64 in file order).
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from tqdm import tqdm

from motionlib.motion.clip import Motion
from motionlib.sim.action_filter import ActionFilterConfig
from motionlib.sim.backend_cpu import default_threads, torch_single_thread
from motionlib.sim.reference import ReferenceLibrary
from motionlib.sim.tracking_config import EvalConfig, TrackingConfig
from motionlib.sim.body import SimBody, SmplHumanoidBody
from motionlib.sim.tracking_env import TrackingEnv, backend_class

from .actor import TrackingPolicy

# default worlds where a world more costs its physics (the CPU backend): enough to amortise the
# batched torch work per step
CPU_WORLDS = 64


@dataclass
class RolloutResult:
    clip: int
    start: int
    qpos: np.ndarray  # (T, nq) simulated joint coordinates, frames start..end
    body_pos: np.ndarray  # (T, nb, 3) simulated bodies (SMPL order for the humanoid: nb = 24)
    ref_pos: np.ndarray  # (T, nb, 3) reference bodies
    success: bool  # never farther than success_distance (mean over bodies) from the reference
    fail_frame: int | None  # first frame where it was lost (None if never)
    resets: list[int] = field(default_factory=list)  # frames where a retry restarted from the reference
    blowups: int = 0
    # every frame where the trajectory jumps to the reference state: {"frame", "lost_frame", "reason"}; the
    # restarts (``frame`` in ``resets``) and, with retry, a last frame the reference fills in after a blow-up
    cuts: list[dict] = field(default_factory=list)


def rollout(policy: TrackingPolicy, clips: list[Motion] | ReferenceLibrary, starts: list[tuple[int, int]] | None = None,
            retry: bool = False, threads: int | None = None, progress: bool = False,
            device: str = "cpu", backend: str = "cpu", start_every: int = 0,
            num_envs: int | None = None, retry_distance: float | None = None, rewind: int = 0,
            lanes: int | None = None, action_filter: ActionFilterConfig | None = None,
            substeps: int | None = None, body: SimBody | None = None,
            target_hold: str | None = None, armature_scale: float | None = None) -> list[RolloutResult]:
    """Roll out ``policy`` deterministically; one result per start, in order.

    ``starts``: (clip index, start frame) pairs; default: every clip from frame 0,
    or, with ``start_every`` N > 0, from every N-th frame (none within N frames of
    the clip end; a clip shorter than that starts at 0 only).
    ``retry``: when an env is lost, restart it from the reference at that frame
    and keep going (the first failure frame is still reported). ``retry_distance``
    (m): with ``retry``, an env also counts as lost when any body is farther than
    this from the reference (else only at the success rule, mean > 0.5 m). ``rewind``: with
    ``retry``, restart that many frames before the loss (after the previous restart), dropping the
    simulated frames from there on (refine: the frames in which the body was drifting off).
    ``backend``/``device``: physics backend ("cpu" or "warp") and where it runs.
    ``num_envs``: worlds simulated at once (default: every start on the warp
    backend, at most ``CPU_WORLDS`` on the CPU one; per lane). Each job runs to its clip's
    end (the policy's ``max_episode_steps`` does not cut it). On the CPU backend,
    torch (policy inference included) runs on one thread meanwhile: the physics
    threads use the cores (``backend_cpu.torch_single_thread``).

    ``lanes`` (a backend with ``parallel_lanes``: the CPU one): the jobs are shared out over this
    many lanes that run side by side on Python threads, each an environment of its own with its
    share of the ``threads`` physics threads (default: every core). MuJoCo's rollout releases the
    GIL, so while one lane's physics runs, another computes its observations, rewards and policy
    actions on the core that one environment alone leaves idle meanwhile. Default: 2 where there are
    2+ threads and 2+ jobs (measured on this 2-core machine, 258 jobs of the bundled clips:
    3,450-3,650 frames/s in one lane, 4,240-5,300 in two). Results are deterministic for a given
    ``lanes`` and ``num_envs``; changing either changes which jobs share a policy batch, and with it
    the float rounding of the batched matrix products (1e-7), which the dynamics can grow (as with
    ``num_envs`` alone).

    ``action_filter``: the low-pass filter on the policy's actions in the env's control loop
    (:mod:`~motionlib.sim.action_filter`; None: none, as the policies were trained).
    ``substeps``: physics steps per control step (None: the policy's, 4 for the shipped one); more
    make the physics finer at the same control rate, at their cost. ``target_hold``: how the PD target
    moves over a control step's substeps (``TrackingConfig.target_hold``: "zoh" holds it, "foh" ramps it
    from the previous step's; None: the policy's). ``armature_scale``: the SMPL humanoid's joint armature
    times this (:func:`with_armature`; None or 1: the policy's).
    ``body``: the simulated body (default: the SMPL humanoid of the policy); a robot policy
    (``policy.body``) needs its robot's body and a ReferenceLibrary of its clips.
    """
    if armature_scale is not None and armature_scale != 1.0:
        if body is not None:
            raise ValueError("armature_scale: for the SMPL humanoid of the policy, not a body given")
        policy = with_armature(policy, armature_scale)
    if body is None:
        if policy.body.get("kind", "smpl_humanoid") != "smpl_humanoid":
            raise ValueError(f"a policy for {policy.body} needs its body (rollout(..., body=...))")
        body = SmplHumanoidBody(policy.humanoid)
    tracking = replace(policy.tracking, substeps=int(substeps)) if substeps else policy.tracking
    tracking = replace(tracking, target_hold=target_hold) if target_hold else tracking
    ref = clips if isinstance(clips, ReferenceLibrary) else ReferenceLibrary.from_clips(list(clips), tracking.control_fps)
    clip_len = ref.clip_len.cpu().tolist()
    if not starts:
        every = max(start_every, 0)
        starts = [(c, f) for c in range(ref.num_clips)
                  for f in (range(0, max(1, clip_len[c] - every), every) if every else (0,))]
    lengths = [clip_len[c] - f for c, f in starts]
    cores = threads or default_threads()
    physics = backend_class(backend)
    if lanes is None:
        lanes = 2 if physics.parallel_lanes and cores >= 2 else 1
    lanes = max(1, min(lanes, len(starts), cores)) if physics.parallel_lanes else 1
    bar = tqdm(total=sum(lengths), desc="rollout", unit="frame", disable=not progress)
    # the lanes share the body models (read only): each distinct body is compiled once
    models = body.build_models(ref, tracking) if lanes > 1 else None
    run = lambda lane_starts, lane_threads: _rollout(  # noqa: E731
        policy, ref, lane_starts, retry, lane_threads, device, backend, num_envs, retry_distance, rewind, bar, models,
        action_filter, tracking, body)
    try:
        with torch_single_thread(physics.wants_single_thread_torch):
            if lanes == 1:
                return run(starts, threads)
            groups = _share_out(lengths, lanes)
            with ThreadPoolExecutor(lanes, thread_name_prefix="rollout-lane") as pool:
                futures = [pool.submit(run, [starts[j] for j in g], cores // lanes + (i < cores % lanes))
                           for i, g in enumerate(groups)]
                out: list[RolloutResult | None] = [None] * len(starts)
                for g, f in zip(groups, futures):
                    for j, r in zip(g, f.result()):
                        out[j] = r
            return out  # type: ignore[return-value]
    finally:
        bar.close()


def with_armature(policy: TrackingPolicy, scale: float) -> TrackingPolicy:
    """``policy`` with its SMPL humanoid's joint armature times ``scale``
    (:meth:`~motionlib.sim.humanoid.HumanoidConfig.with_armature_scale`); the policy file is not touched."""
    return replace(policy, humanoid=policy.humanoid.with_armature_scale(scale))


def _share_out(lengths: list[int], lanes: int) -> list[list[int]]:
    """Jobs (by index) in ``lanes`` groups of about equal frames: longest first, each to the lane
    with the fewest frames so far."""
    groups: list[list[int]] = [[] for _ in range(lanes)]
    load = [0] * lanes
    for j in sorted(range(len(lengths)), key=lambda j: -lengths[j]):
        lane = load.index(min(load))
        groups[lane].append(j)
        load[lane] += lengths[j]
    return [sorted(g) for g in groups if g]


def _rollout(policy: TrackingPolicy, ref: ReferenceLibrary, starts: list[tuple[int, int]], retry: bool,
             threads: int | None, device: str, backend: str, num_envs: int | None, retry_distance: float | None,
             rewind: int, bar: tqdm, models: list | None = None,
             action_filter: ActionFilterConfig | None = None,
             tracking: TrackingConfig | None = None, body: SimBody | None = None) -> list[RolloutResult]:
    """One lane of :func:`rollout`: ``starts`` on one environment; progress counted on ``bar``;
    ``models``: the body models the lanes share (None: the environment builds its own); ``tracking``:
    the tracking configuration to run (None: the policy's)."""
    clip_len = ref.clip_len.cpu().tolist()
    clip_start = ref.clip_start.cpu().tolist()
    jobs = len(starts)
    lengths = [clip_len[c] - f for c, f in starts]
    physics = backend_class(backend)
    n = num_envs or (jobs if physics.parallel_worlds else CPU_WORLDS)
    n = max(1, min(n, jobs))
    tcfg = TrackingConfig(**{**(tracking or policy.tracking).__dict__, "num_envs": n, "rsi": False,
                             "max_episode_steps": max(lengths) + 1})
    env = TrackingEnv(ref, tcfg, policy.humanoid, backend=backend, backend_cfg=physics.default_config(device, threads),
                      device=device, models=models, evaluation=EvalConfig(), action_filter=action_filter, body=body)
    queue = deque(sorted(range(jobs), key=lambda j: -lengths[j]))  # longest first: a short tail of idle worlds
    job_of = [-1] * n  # the job each world runs, -1 when idle
    slot_clip = torch.zeros(n, dtype=torch.long)
    slot_frame = torch.zeros(n, dtype=torch.long)

    def take_job(w: int) -> None:
        job_of[w] = queue.popleft()
        slot_clip[w], slot_frame[w] = starts[job_of[w]]

    for w in range(n):
        take_job(w)
    obs = env.restart(torch.arange(n), slot_clip, slot_frame)
    q_now, pos_now = env.backend.qpos.cpu().numpy(), env.body_state().pos.cpu().numpy()
    qpos: list[list[np.ndarray]] = [[] for _ in range(jobs)]
    body: list[list[np.ndarray]] = [[] for _ in range(jobs)]
    for w in range(n):
        qpos[job_of[w]].append(q_now[w].copy())
        body[job_of[w]].append(pos_now[w].copy())
    fail: list[int | None] = [None] * jobs
    resets: list[list[int]] = [[] for _ in range(jobs)]
    cuts: list[list[dict]] = [[] for _ in range(jobs)]
    blowups = [0] * jobs
    finished = 0
    policy.actor.to(device)
    bar.update(n)
    while finished < jobs:
        busy = torch.tensor([j >= 0 for j in job_of])
        # once the queue is empty, idle worlds cost no observations or inference (nor physics,
        # on a backend that skips inactive worlds)
        active = None if bool(busy.all()) else busy
        rows = slice(None) if active is None else busy.to(env.device)
        act = torch.zeros(n, env.num_actions, device=env.device)
        with torch.no_grad():
            act[rows] = policy.act(obs[rows]).to(env.device)
        res = env.step(act, active)
        term = res.terminated.cpu()
        lost_mask = term
        if retry and retry_distance:
            lost_mask = lost_mask | (res.info["max_body_dist"].cpu() > retry_distance)
        lost = (lost_mask & busy).nonzero().flatten().tolist()
        ended = (res.truncated.cpu() & busy & ~lost_mask).nonzero().flatten().tolist()
        q_now, pos_now = env.backend.qpos.cpu().numpy(), env.body_state().pos.cpu().numpy()
        for w in busy.nonzero().flatten().tolist():
            qpos[job_of[w]].append(q_now[w].copy())
            body[job_of[w]].append(pos_now[w].copy())
        bar.update(int(busy.sum()))
        blow = env.backend.unstable.cpu()
        frame, clip = env.frame.cpu(), env.clip.cpu()
        mean_dist, max_dist = res.info["mean_body_dist"].cpu(), res.info["max_body_dist"].cpu()
        restarted: list[tuple[int, bool]] = []  # (world, same job retried) reset after this step
        for w in lost:
            j = job_of[w]
            blowups[j] += int(blow[w])
            if fail[j] is None:
                fail[j] = int(frame[w])
            if retry and int(frame[w]) < clip_len[int(clip[w])] - 1:
                f = int(frame[w])
                seg_start = resets[j][-1] if resets[j] else starts[j][1]
                back = max(0, min(rewind, f - seg_start - 1))
                restart = f - back
                del qpos[j][restart - starts[j][1] + 1 :], body[j][restart - starts[j][1] + 1 :]
                bar.total += back  # frames simulated again
                resets[j].append(restart)
                cuts[j].append({"frame": restart, "lost_frame": f,
                                "reason": _loss_reason(bool(blow[w]), bool(term[w]), float(mean_dist[w]),
                                                       float(max_dist[w]), retry_distance)})
                slot_clip[w], slot_frame[w] = clip[w], restart
                restarted.append((w, True))
            else:
                if blow[w]:  # a blown-up state is no pose: evaluation ends the trajectory before it,
                    if retry:  # refine (at a clip's last frame) keeps the clip's length with the reference frame
                        idx = clip_start[int(clip[w])] + int(frame[w])
                        qpos[j][-1] = ref.qpos[idx].cpu().double().numpy()
                        body[j][-1] = ref.body_pos[idx].cpu().double().numpy()
                        cuts[j].append({"frame": int(frame[w]), "lost_frame": int(frame[w]),
                                        "reason": "unstable simulation at the clip's last frame: the reference "
                                                  "frame stands in"})
                    elif len(qpos[j]) > 1:
                        qpos[j].pop()
                        body[j].pop()
                ended.append(w)
        for w in ended:  # the job is complete: the world takes the next one, if any
            finished += 1
            job_of[w] = -1
            if queue:
                take_job(w)
                restarted.append((w, False))
        if restarted:
            ids = torch.tensor([w for w, _ in restarted])
            new_obs = env.restart(ids, slot_clip[ids], slot_frame[ids])
            q_now, pos_now = env.backend.qpos.cpu().numpy(), env.body_state().pos.cpu().numpy()
            for w, same_job in restarted:
                j = job_of[w]
                if same_job:  # the lost frame is replaced by the reference state it restarts from
                    qpos[j][-1], body[j][-1] = q_now[w].copy(), pos_now[w].copy()
                else:
                    qpos[j], body[j] = [q_now[w].copy()], [pos_now[w].copy()]
                    bar.update(1)
            obs = res.obs.clone()  # only the restarted worlds' observations change
            obs[ids.to(env.device)] = new_obs
        else:
            obs = res.obs
    env.close()
    out = []
    for i, (c, f) in enumerate(starts):
        t = len(qpos[i])
        idx = ref.clip_start[c] + f + torch.arange(t)
        out.append(RolloutResult(
            clip=c, start=f, qpos=np.stack(qpos[i]), body_pos=np.stack(body[i]),
            ref_pos=ref.body_pos[idx].cpu().numpy(), success=fail[i] is None, fail_frame=fail[i],
            resets=resets[i], blowups=blowups[i], cuts=cuts[i]))
    return out


def _loss_reason(blown: bool, terminated: bool, mean_dist: float, max_dist: float,
                 retry_distance: float | None) -> str:
    """Why a world was restarted: a blow-up, PHC's loss (mean body distance) or a body past ``retry_distance``."""
    if blown:
        return "unstable simulation"
    if terminated:
        return f"lost: mean body distance {mean_dist:.3f} m (PHC's success rule)"
    return f"drift: a body {max_dist:.3f} m from the reference (restart distance {retry_distance:g} m)"
