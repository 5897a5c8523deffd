"""Quantizers: thin wrappers over ``vector_quantize_pytorch``'s ``LFQ`` and
``VectorQuantize`` with one interface on channel-first grids ``(B, C, T, P)``.

Lookup-free quantization (MAGVIT-v2, Yu et al., ICLR 2024): the codebook is
the set of corners of the hypercube {-1, 1}^d, so quantizing a latent is the
sign of each dimension and the token index is the integer whose binary digits
are those signs -- no nearest-neighbour search and no codebook parameters,
which is what lets the vocabulary grow to 2^14..2^16 (MotionBook, Wang et
al., ICML 2025). The paper writes Index(z) = sum_i 2^(i-1) 1[z_i > 0] with the
first dimension as the least significant bit; ``vector_quantize_pytorch.LFQ``
uses the opposite bit order (its ``mask`` buffer is 2^(d-1), ..., 2, 1), i.e.

    index = sum_{i=0}^{d-1} 1[z_i > 0] * 2^(d-1-i)      (latent dim 0 = MSB)

Both are bijections onto [0, 2^d); we keep the library's so that
``LFQ.indices_to_codes`` decodes our indices. :func:`lfq_index_from_latent`
is the formula, checked against the library in the tests.

Utilisation is kept high by LFQ's entropy penalty, E[H(q(z))] - gamma H(E[q(z)])
(per-token entropy low, batch-average entropy high). It needs a soft
assignment of every token to every code, a (tokens x 2^d) matrix: 2^16 codes
and 6000 tokens are 1.5 GB in float32 before autograd copies. We cap the
tokens entering that term at ``entropy_max_tokens`` per batch through the
library's ``frac_per_sample_entropy`` (a random subset), bounding the memory
at ``entropy_max_tokens x 2^d`` floats whatever the batch.

LFQ latents are RMS-normalised over the d channels before the sign, so the
commitment term (distance to the +-1 corner) and the entropy temperature see
unit-scale inputs regardless of the encoder's output scale; the sign (the
token) is unchanged by this scaling.

The VQ baseline follows T2M-GPT (Zhang et al., CVPR 2023): 512 codes updated by
exponential moving averages (decay 0.99) instead of gradients, codes whose
EMA usage falls below a threshold are re-initialised from encoder outputs of
the current batch ("code reset"), straight-through gradients to the encoder.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .config import TokenizerConfig


class QuantOut(NamedTuple):
    quantized: torch.Tensor  # (B, C, T, P), straight-through in training
    indices: torch.Tensor  # (B, T, P) int64
    aux_loss: torch.Tensor  # scalar: commitment (+ entropy for LFQ), already weighted


def rms_normalize(z: torch.Tensor, dim: int = 1, eps: float = 1e-6) -> torch.Tensor:
    return z * torch.rsqrt(z.pow(2).mean(dim=dim, keepdim=True) + eps)


def lfq_index_from_latent(z: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Token index of each LFQ latent (library bit order: latent dim 0 is the
    most significant bit). ``z``: latents with the d code bits along ``dim``."""
    d = z.shape[dim]
    bits = (z > 0).long().movedim(dim, -1)
    weights = 2 ** torch.arange(d - 1, -1, -1, device=z.device)
    return (bits * weights).sum(-1)


class LFQQuantizer(nn.Module):
    """``vector_quantize_pytorch.LFQ`` with codebook 2^bits, explicit
    commitment/entropy weights and a token cap on the entropy term."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        from vector_quantize_pytorch import LFQ

        self.bits = cfg.bits
        self.codebook_size = 2**cfg.bits
        self.max_entropy_tokens = cfg.entropy_max_tokens
        self.inv_temperature = cfg.inv_temperature
        self.lfq = LFQ(dim=cfg.bits, codebook_size=self.codebook_size, entropy_loss_weight=cfg.w_entropy,
                       commitment_loss_weight=cfg.w_commit, diversity_gamma=cfg.entropy_gamma,
                       frac_per_sample_entropy=1.0, channel_first=True)

    def forward(self, z: torch.Tensor) -> QuantOut:
        z = rms_normalize(z, dim=1)
        tokens = z.shape[0] * z.shape[2] * z.shape[3]
        # bound the (tokens x 2^d) soft-assignment matrix of the entropy term
        self.lfq.frac_per_sample_entropy = min(1.0, self.max_entropy_tokens / max(tokens, 1))
        q, idx, aux = self.lfq(z, inv_temperature=self.inv_temperature)
        return QuantOut(q, idx.long(), aux.reshape(()))

    def indices_to_latent(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, T, P) indices -> (B, bits, T, P) codes in {-1, 1}."""
        return self.lfq.indices_to_codes(indices.long())


class VQQuantizer(nn.Module):
    """``vector_quantize_pytorch.VectorQuantize``: EMA codebook + dead-code reset (T2M-GPT)."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.codebook_size = cfg.vq_codebook_size
        self.vq = VectorQuantize(dim=cfg.vq_dim, codebook_size=cfg.vq_codebook_size, decay=cfg.vq_decay,
                                 commitment_weight=cfg.w_commit, threshold_ema_dead_code=cfg.vq_dead_code_threshold,
                                 kmeans_init=cfg.vq_kmeans_init, kmeans_iters=10, rotation_trick=False)

    def forward(self, z: torch.Tensor) -> QuantOut:
        b, c, t, p = z.shape
        flat = z.permute(0, 3, 2, 1).reshape(b * p, t, c)  # (B*P, T, C), channel last
        q, idx, loss = self.vq(flat)
        q = q.reshape(b, p, t, c).permute(0, 3, 2, 1)
        idx = idx.reshape(b, p, t).permute(0, 2, 1)
        return QuantOut(q, idx.long(), loss.sum().reshape(()))

    def indices_to_latent(self, indices: torch.Tensor) -> torch.Tensor:
        b, t, p = indices.shape
        codes = self.vq.get_output_from_indices(indices.permute(0, 2, 1).reshape(b * p, t).long())  # (B*P, T, C)
        return codes.reshape(b, p, t, -1).permute(0, 3, 2, 1)

    @property
    def codebook(self) -> torch.Tensor:
        return self.vq.codebook


def build_quantizer(cfg: TokenizerConfig) -> nn.Module:
    return VQQuantizer(cfg) if cfg.kind == "vq1d" else LFQQuantizer(cfg)
