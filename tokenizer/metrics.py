"""Tokenizer evaluation: reconstruction error through FK and codebook usage.

* MPJPE (mean per-joint position error, mm) over SMPL joints 0..21, from
  joint positions decoded by forward kinematics of the clip's own skeleton
  (:func:`motionlib.motion.features.decode_positions_t`). *Global*: positions
  with the root path integrated from the decoded root velocities, both
  sequences starting at the same canonical origin (so it includes trajectory
  drift over the evaluated span); *windowed global*: the same over consecutive
  windows of ``GLOBAL_WINDOW_S`` (10 s, about the longest HumanML3D clip, on
  which MotionBook and T2M-GPT report MPJPE), each window's two paths anchored
  at their own root position in its first frame, so a 60 s clip does not
  accumulate a minute of drift; *root-aligned*: pelvis subtracted per frame.
* Per-part MPJPE (mm): root-aligned error of each part's joints
  (:data:`motionlib.tokenizer.parts.PART_JOINTS`); the root part reports the
  global pelvis error (its root-aligned error is zero by construction).
* Feature error: mean absolute error of normalised D135 features.
* Utilisation: fraction of the codebook used at least once on the set.
* Perplexity: exp of the entropy (nats) of the empirical code distribution
  -- the effective number of equally used codes (codebook size at best).
* Tokens per second of motion: parts x fps / alpha.
* Feature shift (:func:`feature_shift`): how far the evaluated clips' D135
  statistics are from the tokenizer's training data, in units of the training
  standard deviation; a tokenizer reconstructs data unlike its training set
  worse, so a large shift explains a large MPJPE.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from motionlib.motion.features import feature_names

from .config import TokenizerConfig
from .data import ClipFeatures, WindowDataset
from .losses import FeatureDenormalizer, joint_positions
from .model import MotionTokenizer, pad_to_multiple
from .parts import PART_JOINTS, PART_NAMES, part_indices

# Mean |z| of the per-feature means above which a set of clips is called shifted. Measured
# with the first shipped tokenizer (trained on Bandai dataset-2): other dataset-2 clips 0.05;
# dataset-1 (another capture session) 0.32; the same clips after the level-feet BVH fit
# change 0.56 (dataset-2) and 0.87 (dataset-1). A few clips of one action differ from a
# dataset's mean by themselves (with the shipped tokenizer, random dataset-2 clips: one clip
# 0.45-0.73, 3 clips 0.26-0.37, 10 clips 0.15-0.24, 30 clips 0.09-0.14, 10th-90th
# percentile; 30 dataset-1 clips: 0.36), so sets under SHIFT_MIN_CLIPS clips are not judged.
SHIFT_WARN = 0.25
SHIFT_MIN_CLIPS = 30
GLOBAL_WINDOW_S = 10.0  # HumanML3D clips are at most 196 frames at 20 fps (9.8 s)


def utilization(counts: torch.Tensor | np.ndarray) -> float:
    c = torch.as_tensor(counts)
    return float((c > 0).sum()) / c.numel()


def perplexity(counts: torch.Tensor | np.ndarray) -> float:
    c = torch.as_tensor(counts, dtype=torch.float64)
    total = c.sum()
    if total <= 0:
        return 0.0
    p = c[c > 0] / total
    return float(torch.exp(-(p * p.log()).sum()))


def code_counts(indices: torch.Tensor, codebook_size: int) -> torch.Tensor:
    return torch.bincount(indices.reshape(-1).long().cpu(), minlength=codebook_size)


@torch.no_grad()
def joint_errors(gt: torch.Tensor, rec: torch.Tensor, denorm: FeatureDenormalizer, offsets: torch.Tensor,
                 fps: float) -> torch.Tensor:
    """FK joint position differences ``rec - gt`` (B, T, 22, 3) in metres, float64, of normalised
    (B, T, 135) features with skeleton ``offsets`` (24, 3) or (B, 24, 3); subtracting joint 0's
    difference per frame gives the root-aligned error."""
    if offsets.ndim == 3:
        offsets = offsets[:, None]
    p_gt = joint_positions(denorm(gt).double(), offsets.double(), fps)
    p_rec = joint_positions(denorm(rec).double(), offsets.double(), fps)
    return p_rec - p_gt


class MetricAccumulator:
    """Running sums of the reconstruction and codebook metrics."""

    def __init__(self, cfg: TokenizerConfig, codebook_size: int):
        self.cfg = cfg
        self.counts = torch.zeros(codebook_size, dtype=torch.long)
        self.sum_g = self.sum_gw = self.sum_ra = self.sum_feat = 0.0
        self.window = max(1, int(round(GLOBAL_WINDOW_S * cfg.fps)))
        self.n_joint = self.n_feat = 0
        self.frames = 0
        self.part_sum = {p: 0.0 for p in PART_NAMES}
        self.part_n = {p: 0 for p in PART_NAMES}

    @torch.no_grad()
    def add(self, gt: torch.Tensor, rec: torch.Tensor, denorm: FeatureDenormalizer, offsets: torch.Tensor,
            indices: torch.Tensor | None = None) -> None:
        """``gt``/``rec``: normalised (B, T, 135); ``offsets``: (24, 3) or (B, 24, 3)."""
        diff = joint_errors(gt, rec, denorm, offsets, self.cfg.fps)  # (B, T, 22, 3)
        err_g = diff.norm(dim=-1)
        # anchoring both paths at a frame's root subtracts that frame's root difference: root-aligned anchors
        # every frame at itself, the windowed global error every frame at its window's first frame
        err_ra = (diff - diff[:, :, :1]).norm(dim=-1)
        first = torch.arange(diff.shape[1], device=diff.device) // self.window * self.window
        self.sum_gw += float((diff - diff[:, first, :1]).norm(dim=-1).sum())
        self.sum_g += float(err_g.sum())
        self.sum_ra += float(err_ra.sum())
        self.n_joint += err_g.numel()
        for name in PART_NAMES:
            j = list(PART_JOINTS[name])
            e = err_g[..., j] if name == "root" else err_ra[..., j]
            self.part_sum[name] += float(e.sum())
            self.part_n[name] += e.numel()
        self.sum_feat += float((rec - gt).abs().sum())
        self.n_feat += gt.numel()
        self.frames += gt.shape[0] * gt.shape[1]
        if indices is not None:
            self.counts += code_counts(indices, self.counts.numel())

    def result(self) -> dict[str, Any]:
        n = max(self.n_joint, 1)
        return {
            "mpjpe_mm": 1000.0 * self.sum_g / n,
            "mpjpe_window_mm": 1000.0 * self.sum_gw / n,
            "window_s": GLOBAL_WINDOW_S,
            "mpjpe_root_aligned_mm": 1000.0 * self.sum_ra / n,
            "per_part_mpjpe_mm": {p: 1000.0 * self.part_sum[p] / max(self.part_n[p], 1) for p in PART_NAMES},
            "feature_l1": self.sum_feat / max(self.n_feat, 1),
            "codebook_size": int(self.counts.numel()),
            "utilization": utilization(self.counts),
            "perplexity": perplexity(self.counts),
            "codes_used": int((self.counts > 0).sum()),
            "tokens": int(self.counts.sum()),
            "frames": int(self.frames),
            "tokens_per_second": self.cfg.tokens_per_second(),
        }


@torch.no_grad()
def evaluate_windows(model: MotionTokenizer, data: WindowDataset, denorm: FeatureDenormalizer,
                     batch: int = 64) -> dict[str, Any]:
    """Metrics over sequential windows of ``data`` (what training validates on)."""
    acc = MetricAccumulator(model.cfg, model.codebook_size)
    dev = next(model.parameters()).device
    for x, off in data.eval_batches(batch):
        x = x.to(dev)
        idx = model.encode(x)
        acc.add(x, model.decode_indices(idx), denorm, off.to(dev), idx)
    return acc.result()


@torch.no_grad()
def reconstruct_clip(model: MotionTokenizer, normed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole clip (T, 135) normalised -> (tokens (T', P), reconstruction (T, 135)); the
    clip is padded to a multiple of alpha by repeating its last frame, then cropped."""
    x, t = pad_to_multiple(normed[None], model.cfg.alpha)
    idx = model.encode(x)
    return idx[0], model.decode_indices(idx)[0, :t]


@torch.no_grad()
def codebook_counts(model: MotionTokenizer, normed: list[torch.Tensor], max_frames: int = 65536) -> torch.Tensor:
    """Code usage counts over whole clips (each (T, 135), normalised), tokenized
    exactly as :func:`reconstruct_clip` does; clips of equal padded length are
    batched together (up to ``max_frames`` frames a batch), which gives the
    same tokens as one clip at a time because the batch rows are independent."""
    counts = torch.zeros(model.codebook_size, dtype=torch.long)
    dev = next(model.parameters()).device
    groups: dict[int, list[torch.Tensor]] = {}
    for x in normed:
        if x.shape[0] >= model.cfg.alpha:
            xp, _ = pad_to_multiple(x[None], model.cfg.alpha)
            groups.setdefault(xp.shape[1], []).append(xp[0])
    for t, xs in groups.items():
        step = max(1, max_frames // t)
        for i in range(0, len(xs), step):
            counts += code_counts(model.encode(torch.stack(xs[i:i + step]).to(dev)), counts.numel())
    return counts


@torch.no_grad()
def evaluate_clips(model: MotionTokenizer, clips: list[ClipFeatures], denorm: FeatureDenormalizer,
                   progress: bool = False) -> dict[str, Any]:
    """Metrics over whole clips, each tokenized in one pass as ``motionlib tokenize`` does
    (``progress``: a progress bar over the clips)."""
    from tqdm import tqdm

    acc = MetricAccumulator(model.cfg, model.codebook_size)
    dev = next(model.parameters()).device
    for c in tqdm(clips, desc="eval-tokenizer", unit="clip", disable=not progress):
        x = denorm.normalize(torch.as_tensor(c.feats, dtype=torch.float32, device=dev))
        idx, rec = reconstruct_clip(model, x)
        acc.add(x[None], rec[None], denorm, torch.as_tensor(c.offsets, dtype=torch.float32, device=dev), idx)
    out = acc.result()
    out["clips"] = len(clips)
    return out


def feature_shift(feats: list[np.ndarray], stats) -> dict[str, Any]:
    """Distribution shift of raw D135 features (one (T, 135) array per clip) from the
    training statistics ``stats`` (a :class:`~motionlib.motion.feature_stats.FeatureStats`):
    ``mean_abs_z`` (mean over features of |mean - train mean| / train std), per part, the
    feature with the largest |z| and ``std_ratio_max`` (largest data std / train std).
    ``shifted``: ``mean_abs_z > SHIFT_WARN``, judged on at least ``SHIFT_MIN_CLIPS`` clips
    (None below that)."""
    x = np.concatenate([np.asarray(f, dtype=np.float64) for f in feats])
    mu, sd = np.asarray(stats.mean, dtype=np.float64), np.asarray(stats.std, dtype=np.float64)
    z = np.abs(x.mean(0) - mu) / sd
    ratio = x.std(0) / sd
    worst = int(z.argmax())
    per_part = {name: float(z[idx].mean()) for name, idx in zip(PART_NAMES, part_indices())}
    return {"mean_abs_z": float(z.mean()), "per_part_mean_abs_z": per_part, "max_abs_z": float(z[worst]),
            "max_feature": feature_names()[worst], "std_ratio_max": float(ratio.max()),
            "clips": len(feats), "shifted": bool(z.mean() > SHIFT_WARN) if len(feats) >= SHIFT_MIN_CLIPS else None,
            "warn_above": SHIFT_WARN, "min_clips": SHIFT_MIN_CLIPS}
