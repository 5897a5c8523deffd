"""How far a reset state must be raised so that no geom starts inside the floor.

A reference whose toes dip a few cm into the ground would otherwise start
with a large contact impulse (ProtoMotions/PHC lift the reset state too). The
lift of a state is the deepest penetration of any geom into a world-body geom
(the floor), found with ``mj_kinematics`` + ``mj_collision``, plus
``CLEARANCE``: a state lifted to exactly touching would sit on the knife
edge of contact detection (measured: CPU MuJoCo found no contact where
MuJoCo Warp's float32 found one, and the two trajectories parted by 2 cm in
one step), so a penetrating state ends 1 mm above the floor instead.

Resets always start at reference frames, so :func:`reference_floor_lift`
computes the lift of every reference frame once; a reset is then a gather
(no per-env collision pass, on any backend).
"""

from __future__ import annotations

import mujoco
import numpy as np
import torch

CLEARANCE = 1e-3  # m left between the lowest geom and the floor after a lift


def floor_penetration(m: mujoco.MjModel, d: mujoco.MjData) -> float:
    """Deepest penetration (m, >= 0) of any geom into a world-body geom, from ``d``'s contacts."""
    if d.ncon == 0:
        return 0.0
    geom = d.contact.geom[: d.ncon]
    on_floor = (m.geom_bodyid[geom[:, 0]] == 0) | (m.geom_bodyid[geom[:, 1]] == 0)
    if not on_floor.any():
        return 0.0
    return max(0.0, float(-d.contact.dist[: d.ncon][on_floor].min()))


def state_floor_lift(m: mujoco.MjModel, d: mujoco.MjData, qpos: np.ndarray) -> float:
    """Lift (m) of one configuration: penetration + CLEARANCE, or 0 if clear; ``d`` is scratch data of ``m``."""
    d.qpos[:] = qpos
    mujoco.mj_kinematics(m, d)
    mujoco.mj_collision(m, d)
    depth = floor_penetration(m, d)
    return depth + CLEARANCE if depth > 0.0 else 0.0


def frames_floor_lift(models: list[mujoco.MjModel], qpos: torch.Tensor, clip_start: torch.Tensor,
                      clip_body: torch.Tensor, frames: torch.Tensor,
                      datas: list[mujoco.MjData] | None = None) -> torch.Tensor:
    """Lift of reference ``frames`` (K,) (flat indices into ``qpos`` (F, nq)), float32 on the CPU.

    Frames of clip ``c`` (those from ``clip_start[c]`` on) are simulated with body model
    ``models[clip_body[c]]``; ``datas``: scratch MjData per model (made here if None)."""
    frames = frames.cpu()
    datas = datas or [mujoco.MjData(m) for m in models]
    body = clip_body.cpu()[torch.searchsorted(clip_start.cpu(), frames, right=True) - 1].tolist()
    q = qpos[frames].detach().cpu().double().numpy()
    out = [state_floor_lift(models[b], datas[b], q[k]) for k, b in enumerate(body)]
    return torch.as_tensor(out, dtype=torch.float32)


def reference_floor_lift(models: list[mujoco.MjModel], qpos: torch.Tensor, clip_start: torch.Tensor,
                         clip_body: torch.Tensor) -> torch.Tensor:
    """Lift of every reference frame (F,), float32 on ``qpos``'s device (see :func:`frames_floor_lift`)."""
    frames = torch.arange(qpos.shape[0])
    return frames_floor_lift(models, qpos, clip_start, clip_body, frames).to(qpos.device)
