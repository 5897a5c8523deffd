"""Augmented motion for the language model's training split: the clip's tokens under an augmentation of
:mod:`motionlib.motion.augment` (``motionlib tokenize --augment NAME`` writes them), with its texts made to
say what the augmented motion shows.

A mirrored clip is the same motion with left and right swapped, so its texts swap them too: "walks to the
left" -> "walks to the right", "the right hand waves" -> "the left hand waves", and the body-part phrases move
to the other side's part. HumanML3D doubles its data this way (Guo et al., CVPR 2022: every clip mirrored,
"left" and "right" exchanged in its texts). A change of speed (``speed:0.9``, ``speed:1.1``) keeps the texts:
a walk played 10 % faster is still a walk. The content and style labels are not changed: a mirrored
walk-left is drawn as the walk-left clip it came from and is described as a walk to the right.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from motionlib.motion.augment import check_augment
from motionlib.motion.errors import MotionError
from motionlib.tokenizer.tokens import load_tokens, token_path

# words whose left/right form swaps under a mirror (whole words, any case as written in the captions)
_SIDE = re.compile(r"\b(left|right)(ward|wards)?\b", re.IGNORECASE)
_SWAP = {"left": "right", "right": "left"}
_PART_SWAP = {"left_leg": "right_leg", "right_leg": "left_leg", "left_arm": "right_arm", "right_arm": "left_arm"}


def is_mirrored(augment: str) -> bool:
    """Whether ``augment`` swaps left and right (an odd number of mirrors in its chain)."""
    return sum(kind == "mirror" for kind, _ in check_augment(augment)) % 2 == 1


def mirror_text(text: str) -> str:
    """``text`` with left and right exchanged ("leftward" <-> "rightward"; the case of the first letter kept)."""

    def swap(m: re.Match) -> str:
        word = _SWAP[m.group(1).lower()]
        if m.group(1)[0].isupper():
            word = word.capitalize()
        return word + (m.group(2) or "")

    return _SIDE.sub(swap, text)


def mirror_parts(parts: dict[str, list[str]]) -> dict[str, list[str]]:
    """Body-part phrases of a mirrored clip: each side's phrases under the other side's part, texts mirrored."""
    return {_PART_SWAP.get(k, k): [mirror_text(p) for p in v] for k, v in parts.items()}


def variant_grids(clip_path: str | Path, augments: tuple[str, ...], tokenizer_id: str | None
                  ) -> list[tuple[str, np.ndarray]]:
    """(augment, grid) for each of ``augments``, read from the clip's ``.aug-*.tokens.npz`` files; a missing
    file is a :class:`MotionError` that says which ``motionlib tokenize --augment`` writes it."""
    out = []
    for a in augments:
        tp = token_path(clip_path, a)
        if not tp.is_file():
            raise MotionError(f"no tokens of the clip under augmentation {a!r} (run `motionlib tokenize "
                              f"--augment {a}` on its folder)", str(clip_path))
        out.append((a, load_tokens(tp, tokenizer_id=tokenizer_id).indices))
    return out
