"""Body state as component planes: the layout the per-step tracking math runs on.

A step's observations and rewards are a few hundred small tensor ops over
N envs x 24 bodies. On a CPU their cost is per op, and an op over the last
axis of an (N, 24, 3) or (N, 24, 4) tensor is a strided one: measured on this
2-core machine, a product of two (3072, 4) quaternion tensors component by
component took 140-250 us, the same arithmetic over contiguous (3072,) planes
~4 us an op. So the state is transposed once per step into planes, one
contiguous (N, ..., 24) tensor per component, and the math works on tuples of
planes (a vector is (x, y, z), a quaternion (w, x, y, z)).

Plane channels (13): position xyz 0-2, orientation quaternion wxyz 3-6
(sim-frame, as the sensors and the reference library give it), linear
velocity 7-9, angular velocity 10-12, all world frame.
"""

from __future__ import annotations

import torch

NB = 24
NCH = 13
POS, QUAT, LIN, ANG = slice(0, 3), slice(3, 7), slice(7, 10), slice(10, 13)

Vec = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
Quat = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]

_SENSOR_PERM: dict = {}


def sensor_permutation(device: torch.device) -> torch.Tensor:
    """Columns of the humanoid's sensordata (pos 24x3 | quat 24x4 | linvel 24x3 | angvel 24x3, body-major,
    ``sim.humanoid``) in channel-major plane order: (13 * 24,)."""
    perm = _SENSOR_PERM.get(device)
    if perm is None:
        cols = []
        for base, width in ((0, 3), (NB * 3, 4), (NB * 7, 3), (NB * 10, 3)):
            for c in range(width):
                cols += [base + b * width + c for b in range(NB)]
        perm = _SENSOR_PERM[device] = torch.tensor(cols, dtype=torch.long, device=device)
    return perm


def planes_from_sensors(sensordata: torch.Tensor) -> torch.Tensor:
    """(N, nsensordata) -> (13, N, 24) float32 planes."""
    s = sensordata.to(torch.float32)
    n = s.shape[0]
    return s.index_select(1, sensor_permutation(s.device)).view(n, NCH, NB).transpose(0, 1).contiguous()


def planes_from_packed(body: torch.Tensor) -> torch.Tensor:
    """(..., 24, 13) packed body states (``ReferenceLibrary.body``) -> (13, ..., 24) planes."""
    return body.movedim(-1, 0).contiguous()


def vec(p: torch.Tensor, ch: slice) -> Vec:
    return p[ch.start], p[ch.start + 1], p[ch.start + 2]


def quat(p: torch.Tensor) -> Quat:
    return p[3], p[4], p[5], p[6]


def sub(a: Vec, b: Vec) -> Vec:
    return a[0] - b[0], a[1] - b[1], a[2] - b[2]


def qmul(a: Quat, b: Quat) -> Quat:
    """Hamilton product."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw)


def qmul_conj(a: Quat, b: Quat) -> Quat:
    """a * conj(b)."""
    bw, bx, by, bz = b
    return qmul(a, (bw, -bx, -by, -bz))


def matrix_columns01(q: Quat) -> tuple[Vec, Vec]:
    """First two columns of the rotation matrix of ``q`` (normalised first): the 6D rotation
    representation (``motion.rotations``)."""
    w, x, y, z = q
    s = 2.0 / (w * w + x * x + y * y + z * z).clamp_min(1e-24)
    xx, yy, zz = s * x * x, s * y * y, s * z * z
    xy, xz, yz = s * x * y, s * x * z, s * y * z
    wx, wy, wz = s * w * x, s * w * y, s * w * z
    return (1.0 - (yy + zz), xy + wz, xz - wy), (xy - wz, 1.0 - (xx + zz), yz + wx)


def heading_cos_sin(root_quat: Quat) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the yaw of the pelvis body's x (forward) axis, per env."""
    w, x, y, z = root_quat
    fx = 1.0 - 2.0 * (y * y + z * z)
    fy = 2.0 * (x * y + w * z)
    yaw = torch.atan2(fy, fx)
    return torch.cos(yaw), torch.sin(yaw)


def unyaw(v: Vec, c: torch.Tensor, s: torch.Tensor) -> Vec:
    """Rotate world vectors by minus the heading yaw (into the heading frame); ``c``/``s``
    broadcast against the planes."""
    x, y, z = v
    return c * x + s * y, c * y - s * x, z
