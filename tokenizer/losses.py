"""Tokenizer training losses.

* reconstruction: smooth L1 between normalised D135 features (T2M-GPT, Zhang
  et al., CVPR 2023, trains its VQ-VAE with smooth L1 on motion features);
* velocity: smooth L1 between first temporal differences of the normalised
  features (T2M-GPT's velocity term, weight 0.5 there);
* FK joint positions: de-normalise with the dataset statistics, decode the
  canonical joint positions differentiably through the SMPL forward
  kinematics (:func:`motionlib.motion.features.decode_positions_t`, root path
  integrated from the root velocity at the config's fps) on one body (by
  default the mean-shape skeleton), and take L1 (metres) between the
  root-relative positions of joints 0..21. Root-relative keeps the term about
  the pose; the root path is covered by the feature terms and by the
  global MPJPE metric.
* global joint positions (``w_global``): L1 (metres) between the same FK
  positions *without* subtracting the root, both root paths integrated from
  the window's first frame (origin at x = y = 0, the first frame's heading
  removed), which is what the windowed global MPJPE of :mod:`.metrics`
  measures. It is the only term that sees the integrated root path: an error
  in the decoded ground velocity or heading costs in proportion to how far it
  carries the body, not to its share of the 135 features.

The quantizer's own losses (commitment, LFQ entropy) come in already
weighted as ``aux`` (see :mod:`.quantizers`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motionlib.motion.feature_stats import FeatureStats
from motionlib.motion.features import decode_positions_t
from motionlib.motion.skeleton import Skeleton

from .config import TokenizerConfig

BODY_JOINTS = 22  # SMPL joints 0..21 (hands 22/23 are not encoded in D135)


def velocity(x: torch.Tensor) -> torch.Tensor:
    return x[:, 1:] - x[:, :-1]


class FeatureDenormalizer(nn.Module):
    """Holds the dataset mean/std as buffers (moves with the model's device)."""

    def __init__(self, stats: FeatureStats):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(stats.mean), dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(np.asarray(stats.std), dtype=torch.float32))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std + self.mean

    def normalize(self, f: torch.Tensor) -> torch.Tensor:
        return (f - self.mean) / self.std


def joint_positions(feats: torch.Tensor, offsets: torch.Tensor, fps: float) -> torch.Tensor:
    """De-normalised (B, T, 135) -> canonical global positions of joints 0..21, (B, T, 22, 3)."""
    return decode_positions_t(feats, offsets, fps)[:, :, :BODY_JOINTS]


def global_position_loss(p_rec: torch.Tensor, p_gt: torch.Tensor) -> torch.Tensor:
    """Mean L1 (metres) between global joint positions (B, T, J, 3) whose root paths both start at the
    window's canonical origin (:func:`joint_positions`): zero only when the root paths and the poses agree."""
    return (p_rec - p_gt).abs().mean()


class TokenizerLoss(nn.Module):
    """Weighted sum of the reconstruction, velocity, FK and quantizer terms."""

    def __init__(self, cfg: TokenizerConfig, stats: FeatureStats, offsets: np.ndarray | None = None):
        super().__init__()
        self.cfg = cfg
        self.denorm = FeatureDenormalizer(stats)
        off = Skeleton.default().offsets if offsets is None else offsets
        self.register_buffer("offsets", torch.as_tensor(np.asarray(off), dtype=torch.float32))

    def forward(self, recon: torch.Tensor, target: torch.Tensor,
                aux: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.cfg
        rec = F.smooth_l1_loss(recon, target)
        vel = F.smooth_l1_loss(velocity(recon), velocity(target)) if target.shape[1] > 1 else recon.new_zeros(())
        total = cfg.w_recon * rec + cfg.w_vel * vel
        parts = {"recon": float(rec.detach()), "vel": float(vel.detach())}
        if cfg.w_fk > 0 or cfg.w_global > 0:
            p_rec = joint_positions(self.denorm(recon), self.offsets, cfg.fps)
            with torch.no_grad():
                p_gt = joint_positions(self.denorm(target), self.offsets, cfg.fps)
            if cfg.w_fk > 0:
                fk = (p_rec - p_rec[:, :, :1] - (p_gt - p_gt[:, :, :1])).abs().mean()
                total = total + cfg.w_fk * fk
                parts["fk"] = float(fk.detach())
            if cfg.w_global > 0:
                glob = global_position_loss(p_rec, p_gt)
                total = total + cfg.w_global * glob
                parts["global"] = float(glob.detach())
        if aux is not None:
            total = total + aux
            parts["aux"] = float(aux.detach())
        parts["total"] = float(total.detach())
        return total, parts
