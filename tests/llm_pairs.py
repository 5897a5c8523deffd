"""What the language-model training tests share: a tiny motion vocabulary, one text -> motion and one
motion -> text pair to overfit, and a tiny LLaMA backbone written to a folder."""

from __future__ import annotations

import numpy as np

from motionlib.llm.sequence import Example, fill
from motionlib.llm.templates import M2T_PLAIN, T2M_PLAIN
from motionlib.llm.tiny import TinyConfig, save_tiny
from motionlib.llm.vocab import VocabSpec

SPEC = VocabSpec(codebook_size=64, num_parts=6)
CAPTION = "a person waves the right hand"
OTHER = "someone bows"


def tiny_backbone(tmp_path_factory) -> str:
    return str(save_tiny(tmp_path_factory.mktemp("tiny") / "llama", TinyConfig(hidden=64, layers=2)))


def pairs():
    """Two motion grids and the examples that pair the first with CAPTION and the second with OTHER."""
    rng = np.random.default_rng(1)
    g1, g2 = rng.integers(0, 64, (4, 6)), rng.integers(0, 64, (3, 6))
    t2m = Example("t2m", fill(T2M_PLAIN.prompt, {"caption": CAPTION}), [g1])
    m2t = Example("m2t", fill(M2T_PLAIN.prompt, {"motion": g2}), [OTHER])
    return g1, g2, [t2m, m2t]
