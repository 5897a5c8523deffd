"""Named tokenizer configurations: the models of the tokenizer benchmark (docs/tokenizer.md).

``lfq2d-14`` is the shipped MotionBook tokenizer (2D-LFQ, 2^14 codes per
(part, 4-frame) cell, 6 parts); ``lfq1d-14`` and ``vq1d-512`` are the 1D
baselines trained the same way (same data, windows, losses, optimiser and
budget). Widths: the 2D trunk runs its convolutions on 6 part columns, so at
equal width it costs ~6x the 1D trunk per frame; 64 channels keep its encoder
above 20k frames/s on one CPU core (``benchmarks/bench_tokenizer.py``) while
the 1D baselines get 128 channels (more parameters than the 2D model).

Shared choices: 32-frame training windows (~10 % of the Bandai clips are
shorter than 51 frames, so a 64-frame window would drop ~18 % of them);
LFQ entropy weight 0.01 (0.1 -- MAGVIT-v2's image setting -- outweighed
the reconstruction terms here); commitment 0.02 for both quantizer families.
FK loss weight: 5 for the shipped 2D model (``TokenizerConfig.w_fk``), 1 for
the 1D baselines (the benchmark in docs/tokenizer.md trained every model with 1).
"""

from __future__ import annotations

from dataclasses import replace

from .config import TokenizerConfig

_COMMON = dict(window=32, depth=2, w_entropy=0.01, w_commit=0.02)

PRESETS: dict[str, TokenizerConfig] = {
    "lfq2d-14": TokenizerConfig(kind="lfq2d", bits=14, width=64, **_COMMON),
    # the 1D baselines as benchmarked in docs/tokenizer.md, with the FK loss weight of the time (1)
    "lfq1d-14": TokenizerConfig(kind="lfq1d", bits=14, width=128, w_fk=1.0, **_COMMON),
    "vq1d-512": TokenizerConfig(kind="vq1d", vq_codebook_size=512, width=128, w_fk=1.0, **_COMMON),
}


def preset(name: str, **overrides) -> TokenizerConfig:
    """A copy of preset ``name`` with fields overridden (e.g. ``bits=16``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown tokenizer preset {name!r}; known: {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides)
