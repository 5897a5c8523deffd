"""Reference motion for tracking: every clip flattened into device tensors.

Clips are resampled to the control rate, converted to the humanoid's joint
coordinates (PD targets) and to body states in the simulator's frames, and
concatenated along time. ``clip_start[c] + t`` indexes frame ``t`` of clip
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
    bodies: list[np.ndarray]  # distinct body offsets (24,3) SMPL frame

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
