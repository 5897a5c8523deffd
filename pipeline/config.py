"""The settings of one pipeline run (``motionlib pipeline run``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from motionlib.motion.errors import MotionError

# the stages in the order they run; a run takes any of them, in this order
STAGE_ORDER = ("ingest", "refine", "features", "tokenize")
DEFAULT_STAGES = STAGE_ORDER


def parse_stages(text: str | None) -> tuple[str, ...]:
    """``"ingest,features"`` -> the stages named, in the pipeline's order; an unknown name is an error."""
    if text is None:
        return DEFAULT_STAGES
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in STAGE_ORDER]
    if unknown or not names:
        raise MotionError(f"unknown stage(s) {unknown or names!r}: choose from {', '.join(STAGE_ORDER)}")
    return tuple(s for s in STAGE_ORDER if s in names)


@dataclass
class IngestOptions:
    """``motionlib ingest``'s reading options (``motionlib.motion.ingest.formats.ReadOptions``)."""

    fps: float | None = None  # WHAM frame rate (required for WHAM) / resample target for the others
    mapping: str = "auto"
    body: str = "scaled"
    smpl_model: str | None = None
    fit_iters: int | None = None


@dataclass
class RefineOptions:
    """``motionlib refine``'s options that the pipeline passes on (the others keep their defaults)."""

    policy: str | None = None  # tracking policy file (None: the shipped one)
    backend: str = "cpu"  # cpu (MuJoCo rollout threads) or warp (MuJoCo Warp)
    device: str = "cpu"  # cpu or cuda
    gpus: float = 1.0  # GPUs a refine task asks Ray for when the backend or device is a GPU one
    batch: int = 16  # clips per refine task (they share one simulation)

    @property
    def uses_gpu(self) -> bool:
        return self.backend == "warp" or self.device.startswith("cuda")


@dataclass
class PipelineConfig:
    out: Path
    stages: tuple[str, ...] = DEFAULT_STAGES
    address: str | None = None  # a Ray cluster ("auto", "ray://host:10001", "host:6379"); None: embedded Ray
    workers: int | None = None  # embedded: CPUs of the local Ray (default: every core); cluster: tasks at once
    batch: int = 1  # clips per task of the ingest, features and tokenize stages
    max_retries: int = 3  # Ray retries of a task whose worker died
    ingest: IngestOptions = field(default_factory=IngestOptions)
    refine: RefineOptions = field(default_factory=RefineOptions)
    tokenizer: str | None = None  # checkpoint or run folder (None: $MOTIONLIB_TOKENIZER, else the shipped one)
    tokenizer_device: str = "cpu"
    store: bool = False  # also write each stage's outputs into a clip store, DIR/store/<stage>/
    progress: bool = True
    flush_s: float = 1.0  # the manifest is rewritten at most this often while results arrive (and at the end)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.batch < 1 or self.refine.batch < 1:
            raise MotionError("--batch and --refine-batch must be at least 1")
