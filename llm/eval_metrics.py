"""Text-to-motion metrics over evaluator embeddings (Guo et al., CVPR 2022; the protocol of HumanML3D).

Every function takes embeddings as arrays of shape (N, D): text embeddings and motion embeddings whose row i
belong together (a prompt and the motion made for it, or a caption and its clip).

* :func:`r_precision`: for each text, the motions of its batch of 32 ranked by Euclidean distance; top-k is
  the fraction whose own motion is among the k nearest. Shuffled pairs give k/32 (chance).
* :func:`mm_dist`: mean distance between each text and its own motion.
* :func:`fid`: Frechet distance between two sets of motion embeddings (Gaussians fitted to each).
* :func:`diversity`: mean distance between random pairs of different motions.
* :func:`multimodality`: mean distance between two motions made for the same prompt, averaged over prompts.

:func:`repeat` runs one of them ``repeats`` times with fresh random draws (batch composition, pairs) and gives
the mean with the 95% interval half-width ``1.96 * std / sqrt(repeats)``, as Guo et al. report them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BATCH = 32  # R-precision batch size (the protocol's)
TOP_K = 3
REPEATS = 20
DIVERSITY_PAIRS = 300
MM_PAIRS = 10


@dataclass(frozen=True)
class Interval:
    mean: float
    ci95: float  # half-width: 1.96 * std / sqrt(repeats)
    repeats: int

    def to_dict(self) -> dict:
        return {"mean": self.mean, "ci95": self.ci95, "repeats": self.repeats}


def _as2d(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be an (N, D) array, got shape {a.shape}")
    return a


def pairwise_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def r_precision(text: np.ndarray, motion: np.ndarray, rng: np.random.Generator, batch: int = BATCH,
                top_k: int = TOP_K) -> np.ndarray:
    """Top-1..``top_k`` R-precision over the full batches of ``batch`` pairs of one random order (the last,
    partial batch is left out, as in the protocol). Ties count against the match."""
    text, motion = _as2d(text, "text"), _as2d(motion, "motion")
    if text.shape != motion.shape:
        raise ValueError(f"text and motion embeddings differ in shape: {text.shape} vs {motion.shape}")
    n = len(text) // batch
    if n == 0:
        raise ValueError(f"R-precision needs at least {batch} pairs, got {len(text)}")
    order = rng.permutation(len(text))[: n * batch].reshape(n, batch)
    hits = np.zeros(top_k)
    for idx in order:
        d = pairwise_dist(text[idx], motion[idx])
        own = np.diag(d)[:, None]
        rank = (d < own).sum(1) + ((d == own).sum(1) - 1)  # motions nearer than (or as near as) the own one
        hits += [(rank < k).sum() for k in range(1, top_k + 1)]
    return hits / (n * batch)


def mm_dist(text: np.ndarray, motion: np.ndarray) -> float:
    """Mean Euclidean distance between each text and its own motion."""
    text, motion = _as2d(text, "text"), _as2d(motion, "motion")
    return float(np.linalg.norm(text - motion, axis=1).mean())


def gaussian(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = _as2d(x, "embeddings")
    if len(x) < 2:
        raise ValueError(f"a Gaussian needs at least 2 embeddings, got {len(x)}")
    return x.mean(0), np.cov(x, rowvar=False)


def frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray, eps: float = 1e-6) -> float:
    """Frechet distance of two Gaussians: |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))."""
    from scipy import linalg

    diff = mu1 - mu2
    with warnings.catch_warnings():  # a singular product (fewer samples than dimensions) is expected
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():  # singular product: offset the diagonals (as pytorch-fid does)
        off = np.eye(len(s1)) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
    covmean = np.real(covmean)
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean), 0.0))


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two sets of embeddings."""
    return frechet(*gaussian(a), *gaussian(b))


def diversity(motion: np.ndarray, rng: np.random.Generator, pairs: int = DIVERSITY_PAIRS) -> float:
    """Mean distance over ``pairs`` random pairs of two different motions."""
    motion = _as2d(motion, "motion")
    n = len(motion)
    if n < 2:
        raise ValueError(f"diversity needs at least 2 motions, got {n}")
    i = rng.integers(0, n, pairs)
    j = (i + rng.integers(1, n, pairs)) % n  # never i itself
    return float(np.linalg.norm(motion[i] - motion[j], axis=1).mean())


def multimodality(groups: list[np.ndarray], rng: np.random.Generator, pairs: int = MM_PAIRS) -> float:
    """Mean distance between two different motions of one prompt (``pairs`` random pairs per prompt),
    averaged over the prompts (``groups``: one (M_i, D) array per prompt; those with M_i < 2 are left out)."""
    vals = []
    for g in groups:
        g = _as2d(g, "group")
        m = len(g)
        if m < 2:
            continue
        i = rng.integers(0, m, pairs)
        j = (i + rng.integers(1, m, pairs)) % m
        vals.append(np.linalg.norm(g[i] - g[j], axis=1).mean())
    if not vals:
        raise ValueError("multimodality needs at least one prompt with two or more motions")
    return float(np.mean(vals))


def interval(values) -> Interval:
    v = np.asarray(values, dtype=np.float64)
    half = 1.96 * v.std() / np.sqrt(len(v)) if len(v) > 1 else 0.0
    return Interval(float(v.mean()), float(half), int(len(v)))


def repeat(fn: Callable[[np.random.Generator], float | np.ndarray], repeats: int = REPEATS,
           seed: int = 0) -> list[Interval]:
    """``fn(rng)`` ``repeats`` times with generators seeded ``seed, seed + 1, ...``; one :class:`Interval`
    per component of its (scalar or vector) value."""
    vals = np.array([np.atleast_1d(np.asarray(fn(np.random.default_rng(seed + r)), dtype=np.float64))
                     for r in range(repeats)])
    return [interval(vals[:, k]) for k in range(vals.shape[1])]
