"""Normalisation statistics of D135 features over a dataset.

Streaming (sums in float64 over any number of clips), saved as a small
versioned ``.npz`` beside the dataset (atomic write). ``std`` is floored so
nearly constant feature dimensions do not blow up after normalisation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .atomic import atomic_path
from .errors import MotionError
from .features import DIM

FORMAT = "motionlib.d135_stats"
VERSION = 1


@dataclass
class FeatureStats:
    mean: np.ndarray  # (135,)
    std: np.ndarray  # (135,), floored
    frames: int
    clips: int
    std_floor: float = 1e-2

    def normalize(self, feats: np.ndarray) -> np.ndarray:
        return (feats - self.mean.astype(feats.dtype)) / self.std.astype(feats.dtype)

    def denormalize(self, z: np.ndarray) -> np.ndarray:
        return z * self.std.astype(z.dtype) + self.mean.astype(z.dtype)

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, format=np.array(FORMAT), version=np.array(VERSION), mean=self.mean, std=self.std,
                         frames=np.array(self.frames), clips=np.array(self.clips), std_floor=np.array(self.std_floor))
        return path

    @staticmethod
    def load(path: str | os.PathLike) -> "FeatureStats":
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["format"]) != FORMAT or int(z["version"]) != VERSION:
                    raise MotionError("not a D135 statistics file (format/version)", str(path))
                return FeatureStats(z["mean"], z["std"], int(z["frames"]), int(z["clips"]), float(z["std_floor"]))
        except (OSError, KeyError, ValueError) as e:
            raise MotionError(f"cannot read D135 statistics ({e})", str(path)) from None


class StatsAccumulator:
    """Sum / sum of squares in float64: exact enough for millions of frames of
    O(1) features and trivially mergeable across workers."""

    def __init__(self) -> None:
        self.n = 0
        self.clips = 0
        self.s1 = np.zeros(DIM)
        self.s2 = np.zeros(DIM)

    def add(self, feats: np.ndarray) -> None:
        f = np.asarray(feats, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != DIM:
            raise ValueError(f"expected (T, {DIM}) features, got {f.shape}")
        if not np.all(np.isfinite(f)):
            raise ValueError("features contain NaN/inf")
        self.n += f.shape[0]
        self.clips += 1
        self.s1 += f.sum(0)
        self.s2 += (f * f).sum(0)

    def merge(self, other: "StatsAccumulator") -> None:
        self.n += other.n
        self.clips += other.clips
        self.s1 += other.s1
        self.s2 += other.s2

    def result(self, std_floor: float = 1e-2) -> FeatureStats:
        if self.n == 0:
            raise ValueError("no frames accumulated")
        mean = self.s1 / self.n
        var = np.maximum(self.s2 / self.n - mean**2, 0.0)
        return FeatureStats(mean, np.maximum(np.sqrt(var), std_floor), self.n, self.clips, std_floor)


def compute_stats(feature_arrays: Iterable[np.ndarray], std_floor: float = 1e-2) -> FeatureStats:
    acc = StatsAccumulator()
    for f in feature_arrays:
        acc.add(f)
    return acc.result(std_floor)
