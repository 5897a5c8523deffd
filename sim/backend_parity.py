"""Run the same actions through the CPU and MuJoCo Warp backends and compare.

Used by the parity test (warp's CPU device) and by ``bench_warp.py --check``
(on the GPU, before timing anything). Both envs start at the same reference
frames and receive the same random
residual actions; after every control step the worlds whose episode ended
restart at their start frame (on both envs alike: the envs are made without
automatic resets, whose sampled starts would differ between the devices'
random generators), then the states, body positions, observations and rewards
are compared, and the terminations must agree.
"""

from __future__ import annotations

import torch

from motionlib.motion.clip import Motion

from .tracking_config import TrackingConfig
from .tracking_env import StepResult, TrackingEnv


def self_contacts(env: TrackingEnv, frame: int) -> int:
    """Contacts between two bodies of the humanoid in reference frame ``frame``'s (lifted) reset state."""
    import mujoco

    m = env.models[0]
    d = mujoco.MjData(m)
    d.qpos[:] = env.ref.qpos[frame].double().cpu().numpy()
    d.qpos[2] += float(env.ref_lift[frame])
    mujoco.mj_kinematics(m, d)
    mujoco.mj_collision(m, d)
    return sum(int(m.geom_bodyid[g1] > 0 and m.geom_bodyid[g2] > 0) for g1, g2 in d.contact.geom[: d.ncon])


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().double().cpu() - b.detach().double().cpu()).abs().max())


def build_pair(clips: list[Motion], device: str, num_envs: int, graph: bool = True) -> tuple[TrackingEnv, TrackingEnv]:
    from .backend_warp import WarpBackendConfig

    cfg = TrackingConfig(num_envs=num_envs, seed=0)
    cpu = TrackingEnv(clips, cfg, backend="cpu", auto_reset=False)
    warp = TrackingEnv(clips, cfg, backend="warp", backend_cfg=WarpBackendConfig(device=device, graph=graph),
                       device=device, auto_reset=False)
    return cpu, warp


def restart_ended(env: TrackingEnv, res: StepResult, frames: torch.Tensor) -> torch.Tensor:
    """Restart the worlds whose episode ended in step ``res`` at their clip-0 start ``frames`` (N,);
    the observation of every world after it (the step's, the restarted worlds' new ones)."""
    ids = (res.terminated | res.truncated).nonzero().flatten()
    if not ids.numel():
        return res.obs
    obs = res.obs.clone()
    obs[ids] = env.restart(ids, torch.zeros_like(ids), frames.to(ids.device)[ids])
    return obs


def compare_backends(cpu: TrackingEnv, warp: TrackingEnv, starts: list[int], steps: int = 10,
                     action_scale: float = 0.5, seed: int = 0) -> dict:
    """Worst differences over ``steps`` control steps from clip-0 frames ``starts`` (one per env).

    Returns {"qpos", "qvel", "body_pos", "obs", "reward", "reset_obs"}: max abs
    differences; "same_done": terminations and truncations agreed every step;
    "episodes_ended": how many episodes ended (and were reset) on the way."""
    n = cpu.num_envs
    worlds, clips, frames = torch.arange(n), torch.zeros(n, dtype=torch.long), torch.tensor(starts)
    out = {"reset_obs": _diff(cpu.restart(worlds, clips, frames), warp.restart(worlds, clips, frames))}
    out.update(dict.fromkeys(("qpos", "qvel", "body_pos", "obs", "reward"), 0.0))
    same_done, ended = True, 0
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        a = action_scale * (torch.rand(n, cpu.num_actions, generator=gen) * 2 - 1)
        rc, rw = cpu.step(a), warp.step(a.to(warp.device))
        same_done &= bool(torch.equal(rc.terminated, rw.terminated.cpu()) and torch.equal(rc.truncated, rw.truncated.cpu()))
        ended += int((rc.terminated | rc.truncated).sum())
        obs_c, obs_w = restart_ended(cpu, rc, frames), restart_ended(warp, rw, frames)
        d = {"qpos": _diff(cpu.backend.qpos, warp.backend.qpos), "qvel": _diff(cpu.backend.qvel, warp.backend.qvel),
             "body_pos": _diff(cpu.body_state().pos, warp.body_state().pos), "obs": _diff(obs_c, obs_w),
             "reward": _diff(rc.reward, rw.reward)}
        out.update({k: max(out[k], v) for k, v in d.items()})
    out["same_done"] = same_done
    out["episodes_ended"] = ended
    return out
