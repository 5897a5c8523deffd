"""Observation terms by name, and the fused observation a table of them lays out.

An observation term is a named function of the simulated body planes (and, for a
task term, of the future reference frames) that returns component planes
(:mod:`body_planes`): either ``3 * nv`` planes of ``nv`` vectors (x y z of the
first, then the next...) that are turned into the heading frame, or plain planes
taken as they are. A row also says which bodies of those planes enter the
observation. The observation of a table is, in table order, the self terms
(of the simulated state), then, for each future reference frame, the task terms;
within a term, body by body, each body's vectors (x y z each) or planes.

The computation is fused: every term of a part runs once on the whole batch, all
heading vectors of the part are turned with one rotation, and a single column
permutation, built from the table, flattens the stacks into the documented
layout. A body other than the SMPL humanoid lists its own terms in a table of its
own (see :mod:`term_sets`).

"Heading frame": the world rotated by the root's yaw (the x axis of the pelvis
body projected on the ground), origin at the root; observations are expressed
there so the policy is invariant to where the humanoid stands and which way it
faces.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Callable

import torch

from .body_planes import ANG, LIN, NB, POS, QUAT, columns01_stacked, heading_cos_sin, mul_conj_stacked


@dataclass
class ObsInputs:
    """What an observation term reads. ``p``: simulated body planes (13, N, 24); ``refs``: the
    future reference frames (13, N, K, 24); ``cos``/``sin``: the heading yaw, shaped to broadcast
    over the term's planes ((N, 1) for self terms, (N, 1, 1) for task terms)."""

    p: torch.Tensor
    refs: torch.Tensor
    cos: torch.Tensor
    sin: torch.Tensor

    @property
    def now(self) -> torch.Tensor:
        """The simulated planes (13, N, 1, 24), against the K future frames."""
        return self.p[:, :, None]


@dataclass(frozen=True)
class ObsTerm:
    """One named observation term (see the module text).

    ``fn`` returns ``3 * nv`` planes of vectors when ``heading`` (turned into the heading
    frame), else ``channels`` plain planes; ``bodies``: those of its planes' bodies that enter
    the observation (None: all); ``task``: a term of each future reference frame."""

    name: str
    fn: Callable[[ObsInputs], torch.Tensor]
    channels: int  # planes fn returns (3 per vector of a heading term)
    heading: bool = True
    bodies: tuple[int, ...] | None = None
    task: bool = False

    def __post_init__(self) -> None:
        if self.heading and self.channels % 3:
            raise ValueError(f"observation term {self.name!r}: a heading term returns x y z planes per vector "
                             f"(channels a multiple of 3, got {self.channels})")

    def size(self, num_bodies: int = NB) -> int:
        """Observation entries of one instance of the term (one future frame for a task term)."""
        return self.channels * len(self.bodies if self.bodies is not None else range(num_bodies))


def unyaw_vectors(v: torch.Tensor, c: torch.Tensor, s: torch.Tensor) -> list[torch.Tensor]:
    """Vectors stacked vector-major (3 * nv, ...) (x y z of the first, then the next...) turned into
    the heading frame: [x planes (nv, ...), y planes, z planes] (``c``/``s`` broadcast over them)."""
    x, y = v[0::3], v[1::3]
    return [c * x + s * y, c * y - s * x, v[2::3]]


class ObservationLayout:
    """The fused observation of a table of :class:`ObsTerm` rows over body planes of ``num_bodies``
    bodies (the SMPL humanoid's 24 by default; body 0 is the root, whose yaw is the heading)."""

    def __init__(self, terms: tuple[ObsTerm, ...], num_future: int, num_bodies: int = NB):
        names = [t.name for t in terms]
        if len(set(names)) != len(names):
            raise ValueError(f"observation terms named twice: {names}")
        self.terms = terms
        self.num_future = num_future
        self.num_bodies = nb = int(num_bodies)
        for t in terms:
            if t.bodies is not None and (min(t.bodies) < 0 or max(t.bodies) >= nb):
                raise ValueError(f"observation term {t.name!r} names bodies outside 0..{nb - 1}")
        self.self_terms = tuple(t for t in terms if not t.task)
        self.task_terms = tuple(t for t in terms if t.task)
        self.self_dim = sum(t.size(nb) for t in self.self_terms)
        self.task_dim = num_future * sum(t.size(nb) for t in self.task_terms)
        self.dim = self.self_dim + self.task_dim
        self._perms: dict[torch.device, torch.Tensor] = {}

    def slices(self) -> dict[str, list[slice]]:
        """Where each term sits in the observation: one slice per instance (per future frame for a task term)."""
        out: dict[str, list[slice]] = {}
        o = 0
        nb = self.num_bodies
        for t in self.self_terms:
            out[t.name] = [slice(o, o + t.size(nb))]
            o += t.size(nb)
        for _ in range(self.num_future):
            for t in self.task_terms:
                out.setdefault(t.name, []).append(slice(o, o + t.size(nb)))
                o += t.size(nb)
        return out

    # ------------------------------------------------------------- the layout
    @staticmethod
    def _stack_columns(terms: tuple[ObsTerm, ...], nb: int = NB) -> list[list[int]]:
        """Per term, the flat (channel * nb + body) columns of its entries in the part's stack: the
        heading terms' vectors turned together ([x planes | y planes | z planes]), then the plain planes."""
        nv = sum(t.channels // 3 for t in terms if t.heading)
        out, v0, p0 = [], 0, 3 * nv
        for t in terms:
            bodies = t.bodies if t.bodies is not None else range(nb)
            if t.heading:
                k = t.channels // 3
                out.append([(c * nv + v0 + v) * nb + b for b in bodies for v in range(k) for c in range(3)])
                v0 += k
            else:
                out.append([(p0 + j) * nb + b for b in bodies for j in range(t.channels)])
                p0 += t.channels
        return out

    def permutation(self, device: torch.device) -> torch.Tensor:
        """Columns of [self stack | task stacks of the K frames], flattened (env-major), in observation order."""
        perm = self._perms.get(device)
        if perm is None:
            nb = self.num_bodies
            cols = [c for cs in self._stack_columns(self.self_terms, nb) for c in cs]
            self_width = sum(t.channels for t in self.self_terms) * nb
            task_width = sum(t.channels for t in self.task_terms) * nb
            task_cols = self._stack_columns(self.task_terms, nb)
            for k in range(self.num_future):
                o = self_width + k * task_width
                cols += [o + c for cs in task_cols for c in cs]
            perm = self._perms[device] = torch.tensor(cols, dtype=torch.long, device=device)
        return perm

    # ------------------------------------------------------------ the values
    @staticmethod
    def _stack(terms: tuple[ObsTerm, ...], inputs: ObsInputs) -> torch.Tensor:
        vecs = [t.fn(inputs) for t in terms if t.heading]
        plain = [t.fn(inputs) for t in terms if not t.heading]
        turned = unyaw_vectors(torch.cat(vecs), inputs.cos, inputs.sin) if vecs else []
        return torch.cat(turned + plain)

    def __call__(self, p: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
        """(N, dim) from the simulated body planes ``p`` (13, N, 24) and the future reference frames
        ``refs`` (13, N, K, 24), K = ``num_future``."""
        n = p.shape[1]
        c, s = heading_cos_sin(p[QUAT, :, 0].unbind(0))
        parts = []
        if self.self_terms:
            own = self._stack(self.self_terms, ObsInputs(p, refs, c[:, None], s[:, None]))
            parts.append(own.permute(1, 0, 2).reshape(n, -1))
        if self.task_terms:
            task = self._stack(self.task_terms, ObsInputs(p, refs, c[:, None, None], s[:, None, None]))
            parts.append(task.permute(1, 2, 0, 3).reshape(n, -1))
        flat = torch.cat(parts, dim=-1)
        return flat.index_select(1, self.permutation(flat.device))


# ------------------------------------------------------------------------------------------------
# The SMPL humanoid's observation terms.
# Self part: root height, then in the heading frame body positions relative to the root (bodies
# 1..23), orientations in 6D (two rotation-matrix columns), linear and angular velocities. Task part,
# per future frame: body position differences, rotation differences ref * conj(sim) in 6D,
# reference positions relative to the humanoid's root, linear and angular velocity differences,
# all in the heading frame.

def root_height(x: ObsInputs) -> torch.Tensor:
    return x.p[POS][2:]


def local_body_pos(x: ObsInputs) -> torch.Tensor:
    pos = x.p[POS]
    return pos - pos[:, :, :1]


def body_rot_6d(x: ObsInputs) -> torch.Tensor:
    return columns01_stacked(x.p[QUAT])


def body_lin_vel(x: ObsInputs) -> torch.Tensor:
    return x.p[LIN]


def body_ang_vel(x: ObsInputs) -> torch.Tensor:
    return x.p[ANG]


def ref_pos_diff(x: ObsInputs) -> torch.Tensor:
    return x.refs[POS] - x.now[POS]


def ref_rot_diff_6d(x: ObsInputs) -> torch.Tensor:
    """ref * conj(sim) in 6D, turned into the heading frame: conjugating a rotation by the heading
    turns its axis, i.e. its quaternion's vector part."""
    q = mul_conj_stacked(x.refs[QUAT], x.now[QUAT])  # (4, N, K, 24)
    q = torch.cat([q[:1], *unyaw_vectors(q[1:], x.cos, x.sin)])
    return columns01_stacked(q)


def ref_pos_from_root(x: ObsInputs) -> torch.Tensor:
    return x.refs[POS] - x.now[POS, :, :, :1]


def ref_lin_vel_diff(x: ObsInputs) -> torch.Tensor:
    return x.refs[LIN] - x.now[LIN]


def ref_ang_vel_diff(x: ObsInputs) -> torch.Tensor:
    return x.refs[ANG] - x.now[ANG]


SMPL_OBSERVATION: tuple[ObsTerm, ...] = (
    ObsTerm("root_height", root_height, 1, heading=False, bodies=(0,)),
    ObsTerm("local_body_pos", local_body_pos, 3, bodies=tuple(range(1, NB))),
    ObsTerm("body_rot_6d", body_rot_6d, 6),
    ObsTerm("body_lin_vel", body_lin_vel, 3),
    ObsTerm("body_ang_vel", body_ang_vel, 3),
    ObsTerm("ref_pos_diff", ref_pos_diff, 3, task=True),
    ObsTerm("ref_rot_diff_6d", ref_rot_diff_6d, 6, heading=False, task=True),
    ObsTerm("ref_pos_from_root", ref_pos_from_root, 3, task=True),
    ObsTerm("ref_lin_vel_diff", ref_lin_vel_diff, 3, task=True),
    ObsTerm("ref_ang_vel_diff", ref_ang_vel_diff, 3, task=True),
)


# ------------------------------------------------------------------------------------------------
# An MJCF robot's observation terms (``term_sets``: "mjcf_robot"), over the bodies its reward looks at
# (body 0, the floating base, is the anchor: the heading and the origin of the local positions). The
# functions and rows are the humanoid's; the local positions take every body (a robot's count is its
# own), the root's local position (always 0) included. BeyondMimic's anchor observations (anchor position and
# orientation error) are body 0's entries of ``ref_pos_diff`` and ``ref_rot_diff_6d``.

MJCF_ROBOT_OBSERVATION: tuple[ObsTerm, ...] = tuple(
    replace(t, bodies=None) if t.name == "local_body_pos" else t for t in SMPL_OBSERVATION)
