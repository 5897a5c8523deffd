"""The evaluator's data: D135 feature sequences of clips with their captions and labels.

A clip is resampled to the evaluator's ``fps`` and encoded into D135 features once (:func:`load_items`).
Training draws one caption and one random window of at most ``max_frames`` frames per clip
(:func:`train_windows`); evaluation takes the centre window of that length (:func:`centre_window`), the same
rule for real and generated clips. Captions are the clip's ``meta["texts"]["captions"]`` (the texts the
language model's data uses, written from its content and style labels).

Two training pairs whose clips have the same label key (dataset, content and style; the caption itself for
clips without labels) describe the same thing: :func:`same_key_mask` marks them so that the contrastive loss
does not push them apart (TMR's filtering of false negatives).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionlib.motion.clip import Motion
from motionlib.motion.errors import MotionError
from motionlib.motion.features import encode
from motionlib.motion.io import load_motion

from .splits import ClipEntry


@dataclass
class EvalItem:
    id: str
    feats: np.ndarray  # (T, 135) at the evaluator's fps
    captions: list[str]
    key: str  # label key: clips with equal keys are described alike
    content: str = ""
    style: str = ""
    meta: dict = field(default_factory=dict)


def motion_features(m: Motion, fps: float) -> np.ndarray:
    """D135 features of a clip resampled to ``fps``."""
    if abs(m.fps - fps) > 1e-6:
        m = m.resample(fps)
    if m.num_frames < 2:
        raise MotionError(f"clip is too short to evaluate ({m.num_frames} frame(s) at {fps:g} fps)", m.source)
    return encode(m)[0]


def clip_features(path: str | os.PathLike, fps: float) -> tuple[np.ndarray, dict]:
    """(features at ``fps``, meta) of one clip file."""
    m = load_motion(path)
    return motion_features(m, fps), m.meta


def label_key(dataset: str, content: str, style: str, captions: list[str]) -> str:
    if content:
        return f"{dataset}/{content}/{style}"
    return "caption:" + (captions[0] if captions else "")


def item_of_entry(e: ClipEntry, fps: float) -> EvalItem:
    feats, _ = clip_features(e.clip, fps)
    return EvalItem(e.id, feats, list(e.captions), label_key(e.dataset, e.content, e.style, e.captions),
                    e.content, e.style)


def prompt_of(meta: dict) -> str | None:
    """The text a clip was made from (``meta["prompt"]``, as ``motionlib generate`` writes it) or, for a real
    clip, its first caption."""
    if isinstance(meta.get("prompt"), str) and meta["prompt"].strip():
        return meta["prompt"]
    caps = (meta.get("texts") or {}).get("captions") or []
    return str(caps[0]) if caps else None


def item_of_file(path: str | os.PathLike, fps: float) -> EvalItem:
    """A clip scored against its prompt (generated) or its captions (real)."""
    feats, meta = clip_features(path, fps)
    prompt = prompt_of(meta)
    if prompt is None:
        raise MotionError("clip has no prompt (meta['prompt']) and no captions to score it against", str(path))
    labels = meta.get("labels") or {}
    caps = [prompt] if "prompt" in meta else list(meta["texts"]["captions"])
    return EvalItem(Path(path).stem, feats, caps, label_key("", "", "", [prompt]), str(labels.get("content", "")),
                    str(labels.get("style", "")), {"prompt": prompt})


def load_items(entries: list[ClipEntry], fps: float, progress: bool = False) -> tuple[list[EvalItem], list[str]]:
    """(items, errors): each readable clip of ``entries``; an unreadable one is an error naming its file."""
    items, errors = [], []
    it = entries
    if progress:
        from tqdm import tqdm

        it = tqdm(entries, desc="features", unit="clip")
    for e in it:
        try:
            items.append(item_of_entry(e, fps))
        except MotionError as err:
            errors.append(str(err))
    return items, errors


def centre_window(feats: np.ndarray, max_frames: int) -> np.ndarray:
    if len(feats) <= max_frames:
        return feats
    s = (len(feats) - max_frames) // 2
    return feats[s:s + max_frames]


def random_window(feats: np.ndarray, max_frames: int, rng: np.random.Generator) -> np.ndarray:
    if len(feats) <= max_frames:
        return feats
    s = int(rng.integers(0, len(feats) - max_frames + 1))
    return feats[s:s + max_frames]


def train_windows(items: list[EvalItem], idx: np.ndarray, max_frames: int,
                  rng: np.random.Generator) -> tuple[list[str], list[np.ndarray], list[str]]:
    """(captions, windows, keys) of one training batch: a random caption and window per clip."""
    caps = [items[i].captions[int(rng.integers(len(items[i].captions)))] for i in idx]
    wins = [random_window(items[i].feats, max_frames, rng) for i in idx]
    return caps, wins, [items[i].key for i in idx]


def same_key_mask(keys: list[str]) -> np.ndarray:
    """(B, B) True where two different pairs share a label key."""
    k = np.array(keys, dtype=object)
    m = k[:, None] == k[None, :]
    np.fill_diagonal(m, False)
    return m

