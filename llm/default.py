"""The shipped default language model (``llm/data/default_lm/``, an exported train-lm checkpoint)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from motionlib.motion.errors import MotionError

DEFAULT_LM = "default_lm"


def default_lm_path() -> Path:
    """The shipped model's folder; a clear error when this installation has none."""
    path = Path(str(resources.files("motionlib.llm").joinpath("data", DEFAULT_LM)))
    if not (path / "lm.json").is_file():
        raise MotionError("no language model ships with this installation; pass --model RUN (a `motionlib "
                          "train-lm` run)", str(path))
    return path
