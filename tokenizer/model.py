"""MotionBook tokenizer autoencoders: the 2D-LFQ model and the 1D baselines.

2D-LFQ (``kind="lfq2d"``). MotionBook (Wang et al., ICML 2025) treats a clip
as a single-channel image T x 135 x 1 and encodes body parts separately so
that each token covers one part for alpha frames. Here:

    x (B, T, 135) normalised D135
      -> per-part linear projection (root 9 / legs 24 / spine 30 / arms 24 -> C)
      -> (B, C, T, P=6) grid
      -> 2D conv + residual blocks over (time, part); log2(alpha) strided convs
         (kernel 4, stride 2) downsample *time only*
      -> (B, d, T/alpha, P) -> LFQ -> token grid (B, T/alpha, P) in [0, 2^d)
      -> decoder mirrors it (nearest x2 upsampling in time + convs)
      -> per-part linear back to each part's features -> (B, T, 135)

Residual blocks are T2M-GPT's (Zhang et al., CVPR 2023): ReLU, 3-tap conv with
temporal dilation dilation_growth**i, ReLU, 1x1 conv, skip; the decoder
uses the dilations in reverse. Over the part axis kernels are 3 wide, so
information flows between neighbouring parts and, over depth, across the body.

1D baselines (``kind="lfq1d"``, ``"vq1d"``) are the same trunk with one
"part" holding all 135 features and kernel width 1 on the part axis, i.e. a
1D temporal conv net with the features as channels (as in T2M-GPT), followed
by LFQ with 2^d codes or an EMA VQ with 512 codes (see :mod:`.quantizers`).
Every model maps ``T`` frames (a multiple of alpha) to ``T/alpha x P`` tokens.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from motionlib.motion.features import DIM

from .config import TokenizerConfig
from .parts import part_indices
from .quantizers import build_quantizer


class TokenizerOutput(NamedTuple):
    recon: torch.Tensor  # (B, T, 135) normalised features
    aux_loss: torch.Tensor  # quantizer loss (commitment / entropy), weighted
    indices: torch.Tensor  # (B, T/alpha, P) int64


class ResBlock(nn.Module):
    def __init__(self, ch: int, dilation: int, part_kernel: int):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, (3, part_kernel), padding=(dilation, part_kernel // 2), dilation=(dilation, 1))
        self.conv2 = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


def _res_stack(ch: int, depth: int, growth: int, part_kernel: int, reverse: bool) -> nn.Sequential:
    dil = [growth**i for i in range(depth)]
    if reverse:
        dil = dil[::-1]
    return nn.Sequential(*[ResBlock(ch, d, part_kernel) for d in dil])


class PartProjection(nn.Module):
    """Per-part linear maps between feature groups and a (C, T, P) grid."""

    def __init__(self, groups: list[list[int]], width: int, inverse: bool):
        super().__init__()
        self.inverse = inverse
        for i, g in enumerate(groups):
            self.register_buffer(f"idx{i}", torch.tensor(g, dtype=torch.long), persistent=False)
        sizes = [len(g) for g in groups]
        self.lins = nn.ModuleList(nn.Linear(width, n) if inverse else nn.Linear(n, width) for n in sizes)

    def _idx(self, i: int) -> torch.Tensor:
        return getattr(self, f"idx{i}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.inverse:  # (B, T, 135) -> (B, C, T, P)
            cols = [lin(x.index_select(-1, self._idx(i))) for i, lin in enumerate(self.lins)]
            return torch.stack(cols, dim=-1).permute(0, 2, 1, 3)
        h = x.permute(0, 2, 3, 1)  # (B, T, P, C)
        out = x.new_zeros(h.shape[0], h.shape[1], DIM)
        for i, lin in enumerate(self.lins):
            out = out.index_copy(-1, self._idx(i), lin(h[:, :, i]))
        return out


class Encoder(nn.Module):
    def __init__(self, groups: list[list[int]], cfg: TokenizerConfig, latent: int):
        super().__init__()
        pk = 3 if len(groups) > 1 else 1
        w = cfg.width
        self.proj = PartProjection(groups, w, inverse=False)
        layers: list[nn.Module] = [nn.Conv2d(w, w, (3, pk), padding=(1, pk // 2)), nn.ReLU()]
        for _ in range(int(math.log2(cfg.alpha))):
            layers += [nn.Conv2d(w, w, (4, 1), stride=(2, 1), padding=(1, 0)),
                       _res_stack(w, cfg.depth, cfg.dilation_growth, pk, reverse=False)]
        layers.append(nn.Conv2d(w, latent, (3, pk), padding=(1, pk // 2)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.proj(x))


class Decoder(nn.Module):
    def __init__(self, groups: list[list[int]], cfg: TokenizerConfig, latent: int):
        super().__init__()
        pk = 3 if len(groups) > 1 else 1
        w = cfg.width
        layers: list[nn.Module] = [nn.Conv2d(latent, w, (3, pk), padding=(1, pk // 2)), nn.ReLU()]
        for _ in range(int(math.log2(cfg.alpha))):
            layers += [_res_stack(w, cfg.depth, cfg.dilation_growth, pk, reverse=True),
                       nn.Upsample(scale_factor=(2, 1), mode="nearest"),
                       nn.Conv2d(w, w, (3, pk), padding=(1, pk // 2))]
        layers += [nn.Conv2d(w, w, (3, pk), padding=(1, pk // 2)), nn.ReLU()]
        self.net = nn.Sequential(*layers)
        self.proj = PartProjection(groups, w, inverse=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.proj(self.net(z))


class MotionTokenizer(nn.Module):
    """Autoencoder with a discrete bottleneck over normalised D135 windows.

    ``forward(x) -> (recon, aux_loss, indices)``; ``encode(x) -> indices``
    (B, T/alpha, P) int64; ``decode_indices(indices) -> (B, T, 135)``.
    """

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        self.cfg = cfg
        groups = part_indices() if cfg.kind == "lfq2d" else [list(range(DIM))]
        latent = cfg.vq_dim if cfg.kind == "vq1d" else cfg.bits
        self.num_parts = len(groups)
        self.encoder = Encoder(groups, cfg, latent)
        self.quantizer = build_quantizer(cfg)
        self.decoder = Decoder(groups, cfg, latent)

    @property
    def codebook_size(self) -> int:
        return int(self.quantizer.codebook_size)

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[-1] != DIM:
            raise ValueError(f"tokenizer input must be (B, T, {DIM}), got {tuple(x.shape)}")
        if x.shape[1] % self.cfg.alpha or x.shape[1] == 0:
            raise ValueError(f"window length {x.shape[1]} is not a positive multiple of alpha={self.cfg.alpha}")

    def encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous encoder output before quantization, (B, L, T/alpha, P)."""
        self._check(x)
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> TokenizerOutput:
        q = self.quantizer(self.encode_latent(x))
        return TokenizerOutput(self.decoder(q.quantized), q.aux_loss, q.indices)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Token indices (B, T/alpha, P), int64; no codebook updates."""
        was = self.training
        self.eval()
        try:
            return self.quantizer(self.encode_latent(x)).indices
        finally:
            self.train(was)

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, T', P) token indices -> (B, T' alpha, 135) normalised features."""
        if indices.ndim != 3 or indices.shape[-1] != self.num_parts:
            raise ValueError(f"indices must be (B, T', {self.num_parts}), got {tuple(indices.shape)}")
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= self.codebook_size:
            raise ValueError(f"token indices must be in [0, {self.codebook_size}), got [{lo}, {hi}]")
        return self.decoder(self.quantizer.indices_to_latent(indices))


def build_tokenizer(cfg: TokenizerConfig) -> MotionTokenizer:
    return MotionTokenizer(cfg)


def pad_to_multiple(feats: torch.Tensor, alpha: int) -> tuple[torch.Tensor, int]:
    """Pad (B, T, C) along time to a multiple of ``alpha`` by repeating the
    last frame; returns the padded tensor and the original length."""
    t = feats.shape[1]
    pad = (-t) % alpha
    if pad:
        feats = torch.cat([feats, feats[:, -1:].expand(-1, pad, -1)], dim=1)
    return feats, t
