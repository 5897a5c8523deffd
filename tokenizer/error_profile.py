"""Where a tokenizer's reconstruction error sits: by style, by joint, by clip, and slow vs fast
(``motionlib tokenizer-profile``).

Each clip is tokenized whole, as ``motionlib eval-tokenizer`` does, and the root-aligned joint
error (SMPL joints 0..21 by FK with the clip's own skeleton, pelvis subtracted per frame) is split
into

* slow: the error vectors averaged over a centred ``smooth_s`` window (edges repeated), i.e. held
  postures the model reproduces wrongly for a second or more;
* fast: what is left, the error in the motion around that posture.

Both are reported as mean joint distances (mm), so slow + fast is at least the full error. Styles
are read from Bandai-style names ``dataset-N_CONTENT_STYLE_NNN``; other names count as style "-".
The inputs are clips (files or folders) or a feature cache (:mod:`.feature_cache`, e.g. one the
tokenizer benchmark wrote).
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ContextManager

import numpy as np
import torch

from motionlib.motion.errors import MotionError

from .data import ClipFeatures, list_clips, load_clip_features
from .feature_cache import is_feature_cache, load_cache
from .losses import BODY_JOINTS, FeatureDenormalizer
from .metrics import joint_errors, reconstruct_clip


def style_of(name: str) -> str:
    """The style of a ``dataset-N_CONTENT_STYLE_NNN`` clip name, "-" for other names."""
    parts = Path(name).stem.split("_")
    return parts[2] if len(parts) >= 4 and parts[0].startswith("dataset-") else "-"


def smooth(err: torch.Tensor, frames: int) -> torch.Tensor:
    """Centred moving average over time of (T, J, 3) with the edges repeated."""
    if frames <= 1:
        return err
    t, j, _ = err.shape
    x = err.permute(1, 2, 0).reshape(1, j * 3, t)
    x = torch.nn.functional.pad(x, (frames // 2, frames - 1 - frames // 2), mode="replicate")
    return torch.nn.functional.avg_pool1d(x, frames, 1).reshape(j, 3, t).permute(2, 0, 1)


@torch.no_grad()
def profile(clips: Sequence[ClipFeatures], model, denorm: FeatureDenormalizer, smooth_s: float = 1.0) -> dict:
    """The error profile of ``model`` on ``clips`` (module text): overall, slow and fast root-aligned
    MPJPE (mm), per style, per joint and the ten worst clips."""
    fps = float(model.cfg.fps)
    per_joint = np.zeros(BODY_JOINTS)
    slow_sum = fast_sum = 0.0
    styles: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    rows = []
    for c in clips:
        x = denorm.normalize(torch.as_tensor(c.feats, dtype=torch.float32))
        _, rec = reconstruct_clip(model, x)
        diff = joint_errors(x[None], rec[None], denorm, torch.as_tensor(c.offsets, dtype=torch.float32), fps)[0]
        err = diff - diff[:, :1]  # (T, 22, 3) metres, root-aligned as eval-tokenizer's
        slow = smooth(err, max(1, round(smooth_s * fps)))
        dist = err.norm(dim=-1) * 1000.0
        per_joint += dist.sum(0).numpy()
        slow_sum += float(slow.norm(dim=-1).sum()) * 1000.0
        fast_sum += float((err - slow).norm(dim=-1).sum()) * 1000.0
        st = styles[style_of(c.path.name)]
        st[0] += float(dist.sum())
        st[1] += dist.numel()
        rows.append({"clip": c.path.name, "frames": int(dist.shape[0]), "mpjpe_root_aligned_mm": float(dist.mean())})
    cells = sum(r["frames"] for r in rows) * BODY_JOINTS
    if not cells:
        raise ValueError("no clips to profile")
    return {"clips": len(rows), "mpjpe_root_aligned_mm": float(per_joint.sum() / cells),
            "slow_mm": slow_sum / cells, "fast_mm": fast_sum / cells, "smooth_s": smooth_s,
            "per_style_mm": {k: v[0] / v[1] for k, v in sorted(styles.items())},
            "per_joint_mm": (per_joint / (cells / BODY_JOINTS)).round(1).tolist(),
            "worst_clips": sorted(rows, key=lambda r: -r["mpjpe_root_aligned_mm"])[:10]}


def load_inputs(inputs: str | os.PathLike | Sequence[str | os.PathLike], fps: float, min_frames: int,
                guard: Callable[[], ContextManager] = contextlib.nullcontext) -> list[ClipFeatures]:
    """The clips to profile: a single feature cache as it is, else the D135 features of the clips
    under ``inputs`` (files or folders). ``guard``: a context-manager factory entered around each
    clip (``Failures.one_input`` reports an unreadable clip and goes on)."""
    paths = [Path(inputs)] if isinstance(inputs, (str, os.PathLike)) else [Path(p) for p in inputs]
    if len(paths) == 1 and paths[0].is_file() and is_feature_cache(paths[0]):
        return load_cache(paths[0])[0]
    files = list_clips(paths)
    if not files:
        raise MotionError("no motionlib clips found", ", ".join(map(str, paths)))
    clips = []
    for p in files:
        with guard():
            clips.append(load_clip_features(p, fps, min_frames))
    return clips
