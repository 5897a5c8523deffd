"""Typed configurations of the MotionBook tokenizer and its training run.

Defaults and where they come from:

* ``alpha = 4`` temporal downsampling and a 512-code VQ codebook with EMA
  updates (decay 0.99) and dead-code reset are the T2M-GPT recipe (Zhang et
  al., "Generating Human Motion from Textual Descriptions with Discrete
  Representations", CVPR 2023), which also uses a smooth-L1 reconstruction
  loss plus a velocity term (weight 0.5) and commitment weight 0.02.
* ``bits = 14`` (codebook 2^14) follows the MotionBook claim (Wang et al.,
  ICML 2025, arXiv:2410.03311) that 2D lookup-free quantization scales the
  vocabulary from ~512 to 2^14..2^16 codes.
* LFQ (Yu et al., "Language Model Beats Diffusion -- Tokenizer is Key to
  Visual Generation", MAGVIT-v2, ICLR 2024) needs no codebook parameters; an
  entropy penalty (per-sample entropy minus codebook entropy) keeps the
  codes in use, so its weight is set explicitly (``w_entropy``), as is the
  commitment weight (``vector_quantize_pytorch.LFQ`` defaults it to 0).
* FK loss weight 5 (``w_fk``): the held-out error of the 2D-LFQ fell from
  41-42 mm (weight 1, T2M-GPT-style recipes) to 35.7 mm at the same
  training length and 33.9 mm trained longer (docs/tokenizer.md); the 1D
  baselines keep weight 1, as they were benchmarked.
* Global joint-position loss (``w_global``): off (0) by default, see
  :mod:`.losses` and docs/tokenizer.md.
* The defaults are the shipped 2D-LFQ tokenizer (preset ``lfq2d-14`` in
  :mod:`.presets`, which also holds the 1D baselines).

The configuration is stored in every checkpoint and token file; its
:func:`config_hash` identifies the architecture a checkpoint belongs to.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from motionlib.motion.config_fields import known_fields

KINDS = ("lfq2d", "lfq1d", "vq1d")
Kind = Literal["lfq2d", "lfq1d", "vq1d"]


@dataclass
class TokenizerConfig:
    """Architecture and loss weights of one tokenizer."""

    kind: Kind = "lfq2d"
    window: int = 32  # training window, frames (~10 % of the Bandai clips are shorter than 51 frames)
    alpha: int = 4  # temporal downsampling (power of two): one token step per alpha frames
    fps: float = 30.0  # clips are resampled to this rate; used by the FK loss to integrate root velocity
    width: int = 64  # channels of the conv trunk
    depth: int = 2  # residual blocks per resolution stage
    dilation_growth: int = 3  # temporal dilation of block i is dilation_growth**i (T2M-GPT)
    bits: int = 14  # LFQ code bits d: codebook 2^d
    vq_codebook_size: int = 512
    vq_dim: int = 512  # VQ code dimension (T2M-GPT: 512)
    vq_decay: float = 0.99  # EMA decay of the VQ codebook
    vq_dead_code_threshold: float = 1.0  # codes whose EMA usage falls below this are reset to batch samples
    vq_kmeans_init: bool = True  # initialise codes from the first batch (T2M-GPT initialises from data)
    w_recon: float = 1.0  # smooth L1 on normalised features
    w_vel: float = 0.5  # smooth L1 on first differences of normalised features
    # L1 on root-relative joint positions (metres) through FK. 5 since 2026-11-28: at 1 it was ~10 % of the total
    # loss late in a run (0.012 m against 0.08 of the feature term) and the held-out error 41-42 mm; at 5, 35.7 mm
    # at the same length, 33.9 mm trained longer
    w_fk: float = 5.0
    # L1 on *global* joint positions (metres) within the training window: the root path integrated from the decoded
    # root velocity and heading from the window's first frame, as the windowed global MPJPE does. The FK term above
    # is root-relative and the feature terms give the two ground-velocity numbers 2/135 of their weight, so without it
    # the decoded ground velocity is off by ~0.3 m/s on held-out clips and the root drifts ~0.15 m within a second
    w_global: float = 0.0
    w_commit: float = 0.02  # commitment weight (LFQ and VQ)
    w_entropy: float = 0.01  # LFQ entropy penalty weight (0.1 gave worse validation MPJPE, docs/tokenizer.md)
    entropy_gamma: float = 1.0  # LFQ diversity gamma (weight of the codebook-entropy term)
    # LFQ entropy term on at most this many tokens per batch: its peak memory is about 7 x tokens x 2^d floats
    # (measured: ~460 MB for 2^14 codes at 1024 tokens, 2.7 GB for all 6144 tokens of a 64 x 64-frame batch)
    entropy_max_tokens: int = 1024
    inv_temperature: float = 100.0  # LFQ soft assignment temperature for the entropy terms

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"tokenizer kind must be one of {KINDS}, got {self.kind!r}")
        if self.alpha < 1 or self.alpha & (self.alpha - 1):
            raise ValueError(f"alpha (temporal downsampling) must be a power of two, got {self.alpha}")
        if self.window < self.alpha or self.window % self.alpha:
            raise ValueError(f"window ({self.window}) must be a positive multiple of alpha ({self.alpha})")
        if not 1 <= self.bits <= 20:
            raise ValueError(f"LFQ bits must be in 1..20 (codebook 2^bits), got {self.bits}")
        for name in ("width", "depth", "vq_codebook_size", "vq_dim", "entropy_max_tokens"):
            if getattr(self, name) < (0 if name == "depth" else 1):
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 < self.vq_decay < 1.0:
            raise ValueError(f"vq_decay must be in (0, 1), got {self.vq_decay}")

    @property
    def codebook_size(self) -> int:
        return self.vq_codebook_size if self.kind == "vq1d" else 2**self.bits

    @property
    def num_parts(self) -> int:
        from .parts import NUM_PARTS

        return NUM_PARTS if self.kind == "lfq2d" else 1

    def tokens_per_second(self) -> float:
        """Tokens the language model sees per second of motion (parts x fps / alpha)."""
        return self.num_parts * self.fps / self.alpha

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TokenizerConfig":
        return cls(**known_fields(cls, d, "tokenizer config"))

    def diff(self, other: "TokenizerConfig") -> dict[str, tuple[Any, Any]]:
        """Fields whose values differ: ``{name: (self, other)}``."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


# fields that weigh the training losses: a run may start from the weights of a checkpoint that differs from its
# config only in these (TokenizerTrainConfig.init_from)
LOSS_FIELDS = ("w_recon", "w_vel", "w_fk", "w_global", "w_commit", "w_entropy", "entropy_gamma", "entropy_max_tokens",
               "inv_temperature")


def config_hash(cfg: TokenizerConfig) -> str:
    """Short stable hash of the architecture/loss configuration."""
    text = json.dumps(cfg.to_dict(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class TokenizerTrainConfig:
    """One training run; stored in the checkpoint (not part of the config hash).

    Checkpoints keep it as a dict of its fields, never by class name, so the
    ones written when it was called ``TrainConfig`` (the shipped tokenizer among
    them) load as they are; fields a checkpoint lacks take their defaults and
    fields this version does not know are dropped (:meth:`from_dict`)."""

    out: str = "runs/tokenizer"
    steps: int = 100_000
    batch: int = 64
    lr: float = 2e-4
    weight_decay: float = 0.0
    part_mix: float = 0.0  # probability a training window's arms come from another window (data.mix_parts)
    # > 0: keep an exponential moving average of the weights with this decay (ramped in as
    # min(decay, (1 + step) / (10 + step))); validation and the saved model use the averaged weights
    ema_decay: float = 0.0
    warmup_steps: int = 1000
    grad_clip: float = 1.0
    seed: int = 0
    eval_every: int = 1000  # validation + checkpoint every this many steps
    log_every: int = 50
    val_fraction: float = 0.1  # share of clips held out (chosen by a hash of the file name)
    tensorboard: bool = True
    progress: bool = True
    num_threads: int = 0  # torch.set_num_threads when > 0
    device: str = "cpu"
    time_limit_s: float = 0.0  # > 0: checkpoint and stop after this many seconds (resume later to go on)
    # a tokenizer checkpoint to start from (fine-tuning): its weights and normalisation statistics, when the run
    # has no last.pt to resume; its config may differ from the run's in the loss weights only (LOSS_FIELDS)
    init_from: str = ""

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch < 1 or self.eval_every < 1 or self.log_every < 1:
            raise ValueError("steps, batch, eval_every and log_every must be positive")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0.0 <= self.part_mix <= 1.0:
            raise ValueError(f"part_mix must be in [0, 1], got {self.part_mix}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")

    @property
    def out_dir(self) -> Path:
        return Path(self.out)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TokenizerTrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
