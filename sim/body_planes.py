"""Body state as component planes: the layout the per-step tracking math runs on.

A step's observations and rewards are a few hundred small tensor ops over
N envs x 24 bodies. On a CPU their cost is per op, and an op over the last
axis of an (N, 24, 3) or (N, 24, 4) tensor is a strided one: measured on this
2-core machine, a product of two (3072, 4) quaternion tensors component by
component took 140-250 us, the same arithmetic over contiguous (3072,) planes
~4 us an op. So the state is transposed once per step into planes, one
contiguous (N, ..., 24) tensor per component, stacked (13, N, ..., 24), and
the math works on slices of the stack (a vector is 3 planes, a quaternion 4),
as few ops as it can: the quaternion products of a step are one broadcast
product and one small matrix product each (``mul_conj_stacked``,
``columns01_stacked``).

Channels (13), in planes (13, N, ..., 24) and in the packed body states
(..., 24, 13) that the reference library stores and the sensors are gathered
into: position xyz 0-2, orientation quaternion wxyz 3-6 (sim-frame), linear
velocity 7-9, angular velocity 10-12, all world frame.
"""

from __future__ import annotations

from functools import lru_cache

import torch

NB = 24  # the SMPL humanoid's bodies; another body model has its own count (``sensor_bodies``)
NCH = 13
POS, QUAT, LIN, ANG = slice(0, 3), slice(3, 7), slice(7, 10), slice(10, 13)
# a body model's sensordata (``sim.humanoid``, ``sim.robot_body``): one block per channel group, body-major
# within it
SENSOR_BLOCKS = (POS, QUAT, LIN, ANG)

Quat = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def sensor_bodies(sensordata: torch.Tensor) -> int:
    """Bodies of a body model's sensordata (N, nb * 13): every body model's sensors are its tracked
    bodies' position, orientation, linear and angular velocity blocks (24 for the SMPL humanoid)."""
    nb, rest = divmod(int(sensordata.shape[-1]), NCH)
    if rest or nb == 0:
        raise ValueError(f"sensordata of width {sensordata.shape[-1]} is not 13 channels per body")
    return nb


@lru_cache(maxsize=None)
def _sensor_columns(device: torch.device, nb: int = NB) -> torch.Tensor:
    """Sensordata column of each (body, channel) of the packed layout: (nb * 13,)."""
    starts, o = {}, 0
    for blk in SENSOR_BLOCKS:
        starts[blk.start], o = o, o + nb * (blk.stop - blk.start)
    cols = [starts[blk.start] + b * (blk.stop - blk.start) + (ch - blk.start)
            for b in range(nb) for blk in SENSOR_BLOCKS for ch in range(blk.start, blk.stop)]
    return torch.tensor(cols, dtype=torch.long, device=device)


def packed_from_sensors(sensordata: torch.Tensor) -> torch.Tensor:
    """(N, nsensordata) -> (N, nb, 13) float32 body states (nb = 24 for the SMPL humanoid)."""
    s = sensordata.to(torch.float32)
    nb = sensor_bodies(s)
    return s.index_select(1, _sensor_columns(s.device, nb)).view(s.shape[0], nb, NCH)


def planes_from_packed(body: torch.Tensor) -> torch.Tensor:
    """(..., 24, 13) packed body states -> (13, ..., 24) planes."""
    return body.movedim(-1, 0).contiguous()


@lru_cache(maxsize=None)
def _plane_columns(device: torch.device, nb: int = NB) -> torch.Tensor:
    """Sensordata column of each (channel, body), channel-major: (13 * nb,)."""
    return _sensor_columns(device, nb).view(nb, NCH).t().reshape(-1)


def planes_from_sensors(sensordata: torch.Tensor) -> torch.Tensor:
    """(N, nsensordata) -> (13, N, nb) float32 planes (gathered channel-major, then one transpose)."""
    s = sensordata.to(torch.float32)
    nb = sensor_bodies(s)
    return s.index_select(1, _plane_columns(s.device, nb)).view(s.shape[0], NCH, nb).transpose(0, 1).contiguous()


# The quaternion products of a step as constant linear maps of the 16 component products a_i b_j
# (row i * 4 + j of an outer product): one broadcast product and one small matmul replace the ~30
# plane ops of the component formulas (``motion.rotations.quat_mul_parts``/``quat_matrix_columns``),
# which on a CPU cost per op (module docstring). Each entry: output row, (i, j), sign; w x y z = 0 1 2 3.
_MUL_CONJ = (  # a * conj(b)
    (0, 0, 0, 1), (0, 1, 1, 1), (0, 2, 2, 1), (0, 3, 3, 1),
    (1, 0, 1, -1), (1, 1, 0, 1), (1, 2, 3, -1), (1, 3, 2, 1),
    (2, 0, 2, -1), (2, 1, 3, 1), (2, 2, 0, 1), (2, 3, 1, -1),
    (3, 0, 3, -1), (3, 1, 2, -1), (3, 2, 1, 1), (3, 3, 0, 1),
)
_COLUMNS01 = (  # R(q)[:, 0], R(q)[:, 1] = e + 2 / |q|^2 * (these sums of q_i q_j)
    (0, 2, 2, -1), (0, 3, 3, -1), (1, 1, 2, 1), (1, 0, 3, 1), (2, 1, 3, 1), (2, 0, 2, -1),
    (3, 1, 2, 1), (3, 0, 3, -1), (4, 1, 1, -1), (4, 3, 3, -1), (5, 2, 3, 1), (5, 0, 1, 1),
)


@lru_cache(maxsize=None)
def _product_maps(device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(4, 16) a * conj(b), (6, 16) rotation columns 0-1 and their identity part (6, 1)."""
    def table(rows: int, entries) -> torch.Tensor:
        m = torch.zeros(rows, 16)
        for r, i, j, sign in entries:
            m[r, i * 4 + j] = sign
        return m.to(device)
    eye = torch.tensor([[1.0], [0.0], [0.0], [0.0], [1.0], [0.0]], device=device)
    return table(4, _MUL_CONJ), table(6, _COLUMNS01), eye


def mul_conj_stacked(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a * conj(b) of quaternions stacked as (4, ...) (wxyz first; ``b`` broadcasts against ``a``)."""
    outer = a[:, None] * b[None]  # (4, 4, ...)
    shape = outer.shape[2:]
    return (_product_maps(outer.device)[0] @ outer.reshape(16, -1)).view(4, *shape)


def columns01_stacked(q: torch.Tensor) -> torch.Tensor:
    """The first two columns of the rotation matrix of quaternions (4, ...) (normalised first; the
    zero quaternion gives I), stacked (6, ...): column 0 xyz, column 1 xyz, the 6D rotation
    representation (``motion.rotations``)."""
    shape = q.shape[1:]
    outer = (q[:, None] * q[None]).reshape(16, -1)
    scale = 2.0 / (q * q).sum(0).reshape(-1).clamp_min(1e-24)  # 2 / |q|^2, as quat_matrix_columns
    _, cols, eye = _product_maps(q.device)
    return torch.addcmul(eye, cols @ outer, scale).view(6, *shape)


def heading_cos_sin(root_quat: Quat) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the yaw of the pelvis body's x (forward) axis, per env."""
    w, x, y, z = root_quat
    yaw = torch.atan2(2.0 * (x * y + w * z), 1.0 - 2.0 * (y * y + z * z))
    return torch.cos(yaw), torch.sin(yaw)
