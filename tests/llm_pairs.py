"""What the language-model tests share: a tiny motion vocabulary, one text -> motion and one motion -> text
pair to overfit, a tiny LLaMA backbone written to a folder, and labelled synthetic Bandai-like clips."""

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


def write_labelled_clip(folder, ds: str, content: str, style: str, take: int, rng):
    """A synthetic clip named and labelled as a Bandai clip (a walk, or standing with a wave), with the texts
    ingest would give it; returns its path."""
    from conftest import make_standing_clip
    from motionlib.motion.ingest.captions import bandai_texts
    from motionlib.motion.io import save_motion
    from walk_fixture import make_walking_clip

    if content == "walk":
        clip = make_walking_clip(seconds=2.0, speed=float(rng.uniform(0.8, 1.4)))
    else:
        clip = make_standing_clip(frames=60, wave=float(rng.uniform(0.3, 0.6)))
    labels = {"dataset": ds, "content": content, "style": style, "take": take}
    clip.meta.update(labels=labels, texts=bandai_texts(labels))
    return save_motion(clip, folder / f"{ds}_{content}_{style}_{take:03d}.npz")
