"""Windows of normalised D135 features over a folder of clips.

* Clips are motionlib ``.npz`` files (found recursively; hidden files and
  ``*.tokens.npz`` token files are skipped), or the Motion records of a clip
  store (:mod:`motionlib.motion.store`, read in one streaming pass), resampled
  to the tokenizer's fps when needed, and encoded as SMPL-D135
  (:mod:`motionlib.motion.features`). A stored clip ``ID`` is named
  ``STORE/ID.npz``, the name it has as a clip file, so a store packed from a
  folder splits and orders its clips as the folder does.
* A clip shorter than one training window, or whose features are not finite,
  is an error naming the file (:class:`MotionError`): silently dropping it
  would change the data set without telling anyone.
* The train/validation split is a hash of the file name (stable when clips
  are added), and normalisation statistics come from the train split only.
* Training draws windows uniformly over all window positions of all train
  clips (long clips are sampled in proportion to their length); evaluation
  walks each clip in non-overlapping windows, the last one aligned to the
  clip's end so every frame is covered.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from motionlib.motion.augment import augmented
from motionlib.motion.clip import Motion
from motionlib.motion.errors import MotionError
from motionlib.motion.feature_stats import FeatureStats, StatsAccumulator
from motionlib.motion.features import DIM, encode_clip
from motionlib.motion.io import find_clips, load_motion
from motionlib.motion.store import ClipStore, is_store
from motionlib.motion.store.records import is_motion_record, motion_from_record

from .parts import PART_NAMES, part_indices

MIX_PARTS: tuple[str, ...] = ("left_arm", "right_arm")  # parts that --part-mix swaps between windows


def list_clips(inputs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Clip files under the given folders/files, sorted, without token files."""
    return sorted(find_clips(inputs))


def check_features(feats: np.ndarray, source: str | None, min_frames: int = 1) -> None:
    """Raise :class:`MotionError` for non-finite features or a clip shorter than ``min_frames``."""
    if feats.ndim != 2 or feats.shape[1] != DIM:
        raise MotionError(f"D135 features must have shape (T, {DIM}), got {feats.shape}", source)
    bad = ~np.isfinite(feats).all(axis=1)
    if bad.any():
        raise MotionError(f"D135 features contain NaN/inf in {int(bad.sum())} frame(s), first at frame "
                          f"{int(np.flatnonzero(bad)[0])}", source)
    if feats.shape[0] < min_frames:
        raise MotionError(f"clip has {feats.shape[0]} frames, shorter than one tokenizer window ({min_frames} frames)",
                          source)


@dataclass
class ClipFeatures:
    """One clip's D135 features plus what is needed to turn them back into a clip."""

    path: Path
    feats: np.ndarray  # (T, 135) float32, not normalised
    fps: float
    offsets: np.ndarray  # (24, 3) skeleton offsets of the clip's body
    body_scale: float = 1.0
    has_offsets: bool = False  # the clip file stores its own offsets
    origin: dict = field(default_factory=dict)  # d135 origin {"yaw", "xy"}

    @property
    def num_frames(self) -> int:
        return int(self.feats.shape[0])


def mix_parts(x: torch.Tensor, prob: float, parts: tuple[str, ...] = MIX_PARTS,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Part-mix augmentation of a training batch (B, T, 135): with probability ``prob`` a window's
    features of ``parts`` (by default both arms, together) are replaced by those of another window
    of the batch, so a part's motion is also seen beside other motions of the rest of the body.
    The features are local joint rotations (the root's aside), so any such mix is a valid pose
    and the FK loss's targets follow it. ``prob`` 0 returns ``x`` itself and draws nothing."""
    if not 0.0 <= prob <= 1.0:  # also rejects nan
        raise ValueError(f"part-mix probability must be in [0, 1], got {prob}")
    b = x.shape[0]
    if prob == 0.0 or b < 2:
        return x
    cols = [i for p in parts for i in part_indices()[PART_NAMES.index(p)]]
    # a random non-zero shift: no window is its own donor
    donor = (torch.arange(b) + torch.randint(1, b, (b,), generator=generator)) % b
    pick = (torch.rand(b, generator=generator) < prob)[:, None, None]
    out = x.clone()
    out[:, :, cols] = torch.where(pick, x[donor][:, :, cols], x[:, :, cols])
    return out


def load_clip_features(path: str | os.PathLike, fps: float, min_frames: int = 1, augment: str = "") -> ClipFeatures:
    """Load a clip, resample it to ``fps``, encode D135 and validate it; ``augment``: of the clip
    under that augmentation (:func:`augmented`)."""
    path = Path(path)
    return clip_features(load_motion(path), path, fps, min_frames, augment)


def clip_features(clip: Motion, path: Path, fps: float, min_frames: int = 1, augment: str = "") -> ClipFeatures:
    """:func:`load_clip_features` of a clip already loaded; ``path`` names it."""
    if abs(clip.fps - fps) > 1e-6:
        clip = clip.resample(fps)
    clip = augmented(clip, augment)
    feats = encode_clip(clip)
    check_features(feats, str(path), min_frames)
    return ClipFeatures(path, feats.astype(np.float32), float(clip.fps), clip.skeleton().offsets,
                        clip.body_scale, clip.offsets is not None, dict(clip.meta["d135_origin"]))


def split_clips(paths: list[Path], val_fraction: float) -> tuple[list[Path], list[Path]]:
    """Deterministic split by a hash of the file name; the train split is never empty."""
    if not paths:
        raise MotionError("no clips to train on")
    key = {p: zlib.crc32(p.name.encode()) % 10_000 for p in paths}
    val = [p for p in paths if key[p] < val_fraction * 10_000]
    if val_fraction > 0 and not val and len(paths) >= 2:
        val = [min(paths, key=lambda p: key[p])]
    if len(val) == len(paths):
        val = val[:-1]
    train = [p for p in paths if p not in set(val)]
    return train, val


def compute_train_stats(clips: list[ClipFeatures]) -> FeatureStats:
    """Normalisation statistics over every frame of ``clips`` (anything with a ``feats`` (T, D) array: the
    tokenizer's training clips, the text-motion evaluator's training items)."""
    acc = StatsAccumulator()
    for c in clips:
        acc.add(c.feats)
    return acc.result()


class WindowDataset:
    """Normalised windows of ``window`` frames over a list of clips."""

    def __init__(self, clips: list[ClipFeatures], stats: FeatureStats, window: int):
        if not clips:
            raise MotionError("a window dataset needs at least one clip")
        for c in clips:
            check_features(c.feats, str(c.path), window)
        self.clips = clips
        self.window = window
        self.stats = stats
        self.normed = [torch.from_numpy(stats.normalize(c.feats).astype(np.float32)) for c in clips]
        counts = torch.tensor([c.num_frames - window + 1 for c in clips], dtype=torch.long)
        self._cum = torch.cumsum(counts, 0)

    @property
    def num_windows(self) -> int:
        return int(self._cum[-1])

    def sample(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(batch, window, 135) windows drawn uniformly over all window positions."""
        flat = torch.randint(0, self.num_windows, (batch,), generator=generator)
        ci = torch.searchsorted(self._cum, flat, right=True)
        starts = flat - torch.cat([self._cum.new_zeros(1), self._cum[:-1]])[ci]
        return torch.stack([self.normed[int(c)][int(s):int(s) + self.window] for c, s in zip(ci, starts)])

    def sequential(self) -> Iterator[tuple[int, int, torch.Tensor]]:
        """(clip index, start frame, (window, 135)) covering every frame of every clip."""
        w = self.window
        for ci, x in enumerate(self.normed):
            t = x.shape[0]
            starts = list(range(0, t - w + 1, w))
            if starts[-1] + w < t:
                starts.append(t - w)
            for s in starts:
                yield ci, s, x[s:s + w]

    def eval_batches(self, batch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of sequential windows and their clips' skeleton offsets (B, 24, 3)."""
        buf: list[torch.Tensor] = []
        offs: list[torch.Tensor] = []
        for ci, _, x in self.sequential():
            buf.append(x)
            offs.append(torch.as_tensor(self.clips[ci].offsets, dtype=torch.float32))
            if len(buf) == batch:
                yield torch.stack(buf), torch.stack(offs)
                buf, offs = [], []
        if buf:
            yield torch.stack(buf), torch.stack(offs)


def store_clip_path(store: ClipStore, clip_id: str) -> Path:
    """The name a stored clip goes by in training: ``STORE/ID.npz`` (see the module docstring)."""
    return store.path / f"{clip_id}.npz"


def load_store_features(store: ClipStore | str | os.PathLike, fps: float, min_frames: int = 1
                        ) -> list[ClipFeatures]:
    """Features of every Motion clip of a clip store, streamed shard by shard, ordered by clip name
    (as :func:`list_clips` orders a folder). Records that are not Motion clips are left out."""
    store = store if isinstance(store, ClipStore) else ClipStore.open(store)
    clips = []
    for cid, arrays, meta in store.iter_records():
        if not is_motion_record(meta):
            continue
        path = store_clip_path(store, cid)
        clips.append(clip_features(motion_from_record(arrays, meta, str(path)), path, fps, min_frames))
    return sorted(clips, key=lambda c: str(c.path))


def load_split(clips_dir: str | os.PathLike, fps: float, window: int, val_fraction: float
               ) -> tuple[list[ClipFeatures], list[ClipFeatures], FeatureStats]:
    """Load every clip of a folder (or clip store), split it, and compute statistics on the train split."""
    if is_store(clips_dir):
        clips = load_store_features(clips_dir, fps, window)
        if not clips:
            raise MotionError("no Motion clips in the clip store", str(clips_dir))
        by_path = {c.path: c for c in clips}
        train_p, val_p = split_clips([c.path for c in clips], val_fraction)
        train = [by_path[p] for p in train_p]
        return train, [by_path[p] for p in val_p], compute_train_stats(train)
    paths = list_clips(clips_dir)
    if not paths:
        raise MotionError("no clips found", str(clips_dir))
    train_p, val_p = split_clips(paths, val_fraction)
    train = [load_clip_features(p, fps, window) for p in train_p]
    val = [load_clip_features(p, fps, window) for p in val_p]
    return train, val, compute_train_stats(train)
