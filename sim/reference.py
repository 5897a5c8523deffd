"""Reference motion for tracking: every clip flattened into device tensors.

Clips are resampled to the control rate, converted to the body's joint
coordinates (PD targets) and to body states in the simulator's frames, and
concatenated along time: Motion clips for the SMPL humanoid (:meth:`ReferenceLibrary.from_clips`),
any body's joint coordinates and body states for another body (:meth:`ReferenceLibrary.from_states`,
e.g. a robot clip through ``sim.robot_body``). ``clip_start[c] + t`` indexes frame ``t`` of clip
``c``. Everything a step needs (targets, body positions/rotations/velocities)
is a gather from these tensors, so the same code runs on CPU and GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from motionlib.motion import rotations as R
from motionlib.motion.clip import Motion
from motionlib.motion.skeleton import SMPL_TO_ZUP

from .body_planes import ANG, LIN, POS, QUAT
from .smpl_state import motion_to_qpos, qvel_from_qpos


def body_velocities(pos: np.ndarray, rot: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """World linear (T,J,3) and angular (T,J,3) velocities by central differences."""
    dt = 1.0 / fps
    lin = np.gradient(pos, dt, axis=0)
    # omega_world from dR/dt R^T (skew part)
    drot = np.gradient(rot, dt, axis=0)
    w = drot @ np.swapaxes(rot, -1, -2)
    ang = 0.5 * np.stack([w[..., 2, 1] - w[..., 1, 2], w[..., 0, 2] - w[..., 2, 0], w[..., 1, 0] - w[..., 0, 1]], -1)
    return lin, ang


@dataclass
class ReferenceClip:
    """One clip of any body at the control rate: joint coordinates ``qpos`` (T, nq) / ``qvel`` (T, nv) of
    its model, and the states of the bodies its reward looks at (T, B, ·): world positions,
    orientations wxyz (the bodies' frames), world linear and angular velocities."""

    qpos: np.ndarray
    qvel: np.ndarray
    pos: np.ndarray
    quat: np.ndarray
    lin: np.ndarray
    ang: np.ndarray
    name: str = ""


@dataclass
class ReferenceLibrary:
    fps: float
    clip_start: torch.Tensor  # (C,) long
    clip_len: torch.Tensor  # (C,) long, frames at the control rate
    clip_body: torch.Tensor  # (C,) long: index of the clip's body model
    qpos: torch.Tensor  # (F, nq) reference joint coordinates
    qvel: torch.Tensor  # (F, nv)
    # (13, F, 24) body states of every frame as component planes (``body_planes``), SMPL body order:
    # world position (3), sim-frame orientation wxyz (4), world linear (3) and angular (3) velocity;
    # one tensor so a step gathers the frames it needs in one op (``planes_at``); ``body``,
    # ``body_pos`` etc. are views of it
    planes: torch.Tensor
    names: list[str]
    # distinct body offsets (24,3) SMPL frame; a library of another body (``from_states``) has one
    # entry, empty (its one model is the body's)
    bodies: list[np.ndarray]

    body = property(lambda self: self.planes.permute(1, 2, 0), doc="(F, 24, 13) packed body states (a view)")
    body_pos = property(lambda self: self.body[..., POS], doc="(F, 24, 3) world positions (a view of ``body``)")
    body_quat = property(lambda self: self.body[..., QUAT], doc="(F, 24, 4) sim-frame orientations wxyz (a view)")
    body_linvel = property(lambda self: self.body[..., LIN], doc="(F, 24, 3) world linear velocities (a view)")
    body_angvel = property(lambda self: self.body[..., ANG], doc="(F, 24, 3) world angular velocities (a view)")

    @property
    def num_clips(self) -> int:
        return int(self.clip_start.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.qpos.shape[0])

    def to(self, device: torch.device | str) -> "ReferenceLibrary":
        kw = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()}
        return ReferenceLibrary(**kw)

    @staticmethod
    def from_clips(clips: list[Motion], fps: float = 30.0, device: str | torch.device = "cpu",
                   names: list[str] | None = None) -> "ReferenceLibrary":
        if not clips:
            raise ValueError("the reference library needs at least one clip")
        names = names or [str(c.meta.get("source", f"clip{i}")) for i, c in enumerate(clips)]
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("qpos", "qvel", "pos", "quat", "lin", "ang")}
        starts, lens, body_ids = [], [], []
        bodies: list[np.ndarray] = []
        cinv = SMPL_TO_ZUP.T
        total = 0
        for clip in clips:
            c = clip if abs(clip.fps - fps) < 1e-9 else clip.resample(fps)
            off = c.skeleton().offsets
            for bi, b in enumerate(bodies):
                if np.allclose(b, off, atol=1e-6):
                    break
            else:
                bodies.append(off)
                bi = len(bodies) - 1
            qpos = motion_to_qpos(c)
            pos, rot = c.joints()
            lin, ang = body_velocities(pos, rot, fps)
            cols["qpos"].append(qpos)
            cols["qvel"].append(qvel_from_qpos(qpos, fps))
            cols["pos"].append(pos)
            cols["quat"].append(R.quat_fix_continuity(R.matrix_to_quat(rot @ cinv)))
            cols["lin"].append(lin)
            cols["ang"].append(ang)
            starts.append(total)
            lens.append(c.num_frames)
            body_ids.append(bi)
            total += c.num_frames

        def cat(k: str) -> torch.Tensor:
            return torch.as_tensor(np.concatenate(cols[k]), dtype=torch.float32, device=device)

        return ReferenceLibrary(
            fps=fps,
            clip_start=torch.as_tensor(starts, dtype=torch.long, device=device),
            clip_len=torch.as_tensor(lens, dtype=torch.long, device=device),
            clip_body=torch.as_tensor(body_ids, dtype=torch.long, device=device),
            qpos=cat("qpos"), qvel=cat("qvel"),
            planes=torch.cat([cat(k) for k in ("pos", "quat", "lin", "ang")], -1).movedim(-1, 0).contiguous(),
            names=list(names), bodies=bodies,
        )

    @staticmethod
    def from_states(clips: list[ReferenceClip], fps: float, device: str | torch.device = "cpu") -> "ReferenceLibrary":
        """The library of clips of one body given as joint coordinates and body states at ``fps``
        (the control rate); every clip uses body model 0."""
        if not clips:
            raise ValueError("the reference library needs at least one clip")
        shapes = {(c.qpos.shape[1], c.qvel.shape[1], c.pos.shape[1]) for c in clips}
        if len(shapes) != 1:
            raise ValueError(f"reference clips of one body must share their sizes (nq, nv, bodies): {sorted(shapes)}")
        lens = [len(c.qpos) for c in clips]
        for c, n in zip(clips, lens):
            if n < 2 or any(len(a) != n for a in (c.qvel, c.pos, c.quat, c.lin, c.ang)):
                raise ValueError(f"reference clip {c.name!r}: needs 2+ frames, every array as long as qpos")

        def cat(arrays) -> torch.Tensor:
            return torch.as_tensor(np.concatenate(arrays), dtype=torch.float32, device=device)

        body = torch.cat([cat([getattr(c, k) for c in clips]) for k in ("pos", "quat", "lin", "ang")], -1)
        return ReferenceLibrary(
            fps=float(fps),
            clip_start=torch.as_tensor(np.cumsum([0] + lens[:-1]), dtype=torch.long, device=device),
            clip_len=torch.as_tensor(lens, dtype=torch.long, device=device),
            clip_body=torch.zeros(len(clips), dtype=torch.long, device=device),
            qpos=cat([c.qpos for c in clips]), qvel=cat([c.qvel for c in clips]),
            planes=body.movedim(-1, 0).contiguous(), names=[c.name or f"clip{i}" for i, c in enumerate(clips)],
            bodies=[np.zeros((0, 3))],
        )

    def subset(self, clips: list[int]) -> "ReferenceLibrary":
        """The library of clips ``clips`` (indices, in that order)."""
        starts, lens = self.clip_start.cpu().tolist(), self.clip_len.cpu().tolist()
        frames = torch.cat([torch.arange(starts[c], starts[c] + lens[c]) for c in clips]).to(self.qpos.device)
        new_lens = [lens[c] for c in clips]
        dev = self.qpos.device
        return ReferenceLibrary(
            fps=self.fps, clip_start=torch.as_tensor(np.cumsum([0] + new_lens[:-1]), dtype=torch.long, device=dev),
            clip_len=torch.as_tensor(new_lens, dtype=torch.long, device=dev),
            clip_body=self.clip_body[torch.as_tensor(clips, device=dev)],
            qpos=self.qpos[frames], qvel=self.qvel[frames], planes=self.planes[:, frames].contiguous(),
            names=[self.names[c] for c in clips], bodies=self.bodies)

    def planes_at(self, frames: torch.Tensor) -> torch.Tensor:
        """Body planes (13, *frames.shape, 24) of flat frame indices ``frames``."""
        return self.planes.index_select(1, frames.reshape(-1)).view(self.planes.shape[0], *frames.shape, -1)

    def index(self, clip: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Flat frame index of frame ``t`` (clamped to the clip) of clip ``clip``."""
        # index_select, not clip_len[clip]: a step calls this a few times, and on a CPU advanced
        # indexing costs twice as much per call
        flat = clip.reshape(-1)
        last = (self.clip_len.index_select(0, flat) - 1).view(clip.shape)
        t = torch.minimum(torch.clamp(t, min=0), last)
        return self.clip_start.index_select(0, flat).view(clip.shape) + t
