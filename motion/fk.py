"""Batched forward kinematics for the SMPL tree, numpy and torch.

Inputs are local rotation matrices ``(..., 24, 3, 3)`` (joint 0 = global root
orientation, the rest relative to the parent, SMPL body frame), the root
(pelvis) position ``(..., 3)`` in the world and the skeleton offsets
``(24, 3)`` or ``(..., 24, 3)``. Outputs are global joint positions
``(..., 24, 3)`` and global rotations ``(..., 24, 3, 3)``. Both versions do
the same arithmetic and agree to float precision.
"""

from __future__ import annotations

import numpy as np
import torch

from .skeleton import SMPL_PARENTS


def fk(local_rotmats: np.ndarray, root_pos: np.ndarray, offsets: np.ndarray,
       parents: tuple[int, ...] = SMPL_PARENTS) -> tuple[np.ndarray, np.ndarray]:
    local_rotmats = np.asarray(local_rotmats, dtype=np.float64)
    root_pos = np.asarray(root_pos, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.float64)
    n = len(parents)
    batch = local_rotmats.shape[:-3]
    off = np.broadcast_to(offsets, batch + (n, 3))
    g_rot = np.empty(batch + (n, 3, 3))
    g_pos = np.empty(batch + (n, 3))
    g_rot[..., 0, :, :] = local_rotmats[..., 0, :, :]
    g_pos[..., 0, :] = root_pos
    for j in range(1, n):
        p = parents[j]
        g_rot[..., j, :, :] = g_rot[..., p, :, :] @ local_rotmats[..., j, :, :]
        g_pos[..., j, :] = g_pos[..., p, :] + np.einsum("...ij,...j->...i", g_rot[..., p, :, :], off[..., j, :])
    return g_pos, g_rot


def fk_t(local_rotmats: torch.Tensor, root_pos: torch.Tensor, offsets: torch.Tensor,
         parents: tuple[int, ...] = SMPL_PARENTS) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(parents)
    batch = local_rotmats.shape[:-3]
    off = offsets.to(local_rotmats).expand(batch + (n, 3))
    rots = [local_rotmats[..., 0, :, :]]
    pos = [root_pos.to(local_rotmats)]
    for j in range(1, n):
        p = parents[j]
        pos.append(pos[p] + (rots[p] @ off[..., j, :, None])[..., 0])
        rots.append(rots[p] @ local_rotmats[..., j, :, :])
    return torch.stack(pos, dim=-2), torch.stack(rots, dim=-3)
