"""Body state as component planes: the layout the per-step tracking math runs on.

A step's observations and rewards are a few hundred small tensor ops over
N envs x 24 bodies. On a CPU their cost is per op, and an op over the last
axis of an (N, 24, 3) or (N, 24, 4) tensor is a strided one: measured on this
2-core machine, a product of two (3072, 4) quaternion tensors component by
component took 140-250 us, the same arithmetic over contiguous (3072,) planes
~4 us an op. So the state is transposed once per step into planes, one
contiguous (N, ..., 24) tensor per component, and the math works on tuples of
planes (a vector is (x, y, z), a quaternion (w, x, y, z)).

Channels (13), in planes (13, N, ..., 24) and in the packed body states
(..., 24, 13) that the reference library stores and the sensors are gathered
into: position xyz 0-2, orientation quaternion wxyz 3-6 (sim-frame), linear
velocity 7-9, angular velocity 10-12, all world frame.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from motionlib.motion.rotations import quat_matrix_columns, quat_mul_parts

NB = 24
NCH = 13
POS, QUAT, LIN, ANG = slice(0, 3), slice(3, 7), slice(7, 10), slice(10, 13)
# the humanoid's sensordata (``sim.humanoid``): one block per channel group, body-major within it
SENSOR_BLOCKS = (POS, QUAT, LIN, ANG)

Vec = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
Quat = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@lru_cache(maxsize=None)
def _sensor_columns(device: torch.device) -> torch.Tensor:
    """Sensordata column of each (body, channel) of the packed layout: (24 * 13,)."""
    starts, o = {}, 0
    for blk in SENSOR_BLOCKS:
        starts[blk.start], o = o, o + NB * (blk.stop - blk.start)
    cols = [starts[blk.start] + b * (blk.stop - blk.start) + (ch - blk.start)
            for b in range(NB) for blk in SENSOR_BLOCKS for ch in range(blk.start, blk.stop)]
    return torch.tensor(cols, dtype=torch.long, device=device)


def packed_from_sensors(sensordata: torch.Tensor) -> torch.Tensor:
    """(N, nsensordata) -> (N, 24, 13) float32 body states."""
    s = sensordata.to(torch.float32)
    return s.index_select(1, _sensor_columns(s.device)).view(s.shape[0], NB, NCH)


def planes_from_packed(body: torch.Tensor) -> torch.Tensor:
    """(..., 24, 13) packed body states -> (13, ..., 24) planes."""
    return body.movedim(-1, 0).contiguous()


def planes_from_sensors(sensordata: torch.Tensor) -> torch.Tensor:
    """(N, nsensordata) -> (13, N, 24) float32 planes."""
    return planes_from_packed(packed_from_sensors(sensordata))


def comps(p: torch.Tensor, ch: slice) -> tuple[torch.Tensor, ...]:
    """The planes of channels ``ch`` (e.g. POS -> (x, y, z), QUAT -> (w, x, y, z))."""
    return p[ch].unbind(0)


def sub(a: Vec, b: Vec) -> Vec:
    return a[0] - b[0], a[1] - b[1], a[2] - b[2]


def qmul_conj(a: Quat, b: Quat) -> Quat:
    """a * conj(b)."""
    bw, bx, by, bz = b
    return quat_mul_parts(a, (bw, -bx, -by, -bz))


def matrix_columns01(q: Quat) -> tuple[Vec, Vec]:
    """First two columns of the rotation matrix of ``q`` (normalised first): the 6D rotation
    representation (``motion.rotations``)."""
    return quat_matrix_columns(q, 2)


def heading_cos_sin(root_quat: Quat) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the yaw of the pelvis body's x (forward) axis, per env."""
    w, x, y, z = root_quat
    yaw = torch.atan2(2.0 * (x * y + w * z), 1.0 - 2.0 * (y * y + z * z))
    return torch.cos(yaw), torch.sin(yaw)


def unyaw(v: Vec, c: torch.Tensor, s: torch.Tensor) -> Vec:
    """Rotate world vectors by minus the heading yaw (into the heading frame); ``c``/``s``
    broadcast against the planes."""
    x, y, z = v
    return c * x + s * y, c * y - s * x, z
