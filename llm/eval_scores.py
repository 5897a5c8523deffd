"""Scores of one set of (text, motion) pairs through the evaluator, beside the real test clips.

:func:`embed_set` embeds every clip's centre window and every caption; :func:`retrieval` gives R-precision
top-1/2/3 (batches of 32) and MM-Dist, each repeat drawing one caption per clip and a new batch order;
:func:`score_set` adds Diversity, MultiModality (clips that share a prompt, or for real clips a label key)
and FID against the real clips.

FID and its noise floor are measured on sets of the same size so that they compare: each repeat splits the
real test clips at random into halves A and B; the **noise floor** is FID(real A, real B) and the candidate's
FID is FID(candidate A, real B), where candidate A is the candidate clips made for the prompts of A when the
candidates pair one-to-one with the test clips (``paired``), else a random draw of as many candidates. The
real clips scored as candidates therefore give exactly the noise floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import eval_metrics as EM
from .evaluator import Evaluator
from .evaluator_data import EvalItem, centre_window


@dataclass
class EmbeddedSet:
    items: list[EvalItem]
    motion: np.ndarray  # (N, D)
    texts: list[np.ndarray]  # per item: (C_i, D), one row per caption

    def __len__(self) -> int:
        return len(self.items)

    def draw_texts(self, rng: np.random.Generator) -> np.ndarray:
        return np.stack([t[int(rng.integers(len(t)))] for t in self.texts])

    def groups(self) -> list[np.ndarray]:
        """Motion embeddings grouped by label key (the prompt, for generated clips)."""
        by: dict[str, list[int]] = {}
        for i, it in enumerate(self.items):
            by.setdefault(it.key, []).append(i)
        return [self.motion[ix] for ix in by.values()]


def embed_set(ev: Evaluator, items: list[EvalItem]) -> EmbeddedSet:
    wins = [centre_window(it.feats, ev.cfg.max_frames) for it in items]
    motion = ev.embed_motions(wins)
    flat = [c for it in items for c in it.captions]
    emb = ev.embed_texts(flat)
    texts, k = [], 0
    for it in items:
        texts.append(emb[k:k + len(it.captions)])
        k += len(it.captions)
    return EmbeddedSet(items, motion, texts)


def _ci(iv: EM.Interval) -> dict:
    return iv.to_dict()


def retrieval(s: EmbeddedSet, repeats: int = EM.REPEATS, seed: int = 0, batch: int = EM.BATCH) -> dict:
    """R-precision top-1/2/3 in batches of ``batch`` (fewer clips: one batch of them all) and MM-Dist."""
    b = min(batch, len(s))

    def one(rng):
        t = s.draw_texts(rng)
        return np.r_[EM.r_precision(t, s.motion, rng, b), EM.mm_dist(t, s.motion)]

    iv = EM.repeat(one, repeats, seed)
    return {"batch": b, "r_precision": {f"top{k + 1}": _ci(iv[k]) for k in range(EM.TOP_K)},
            "mm_dist": _ci(iv[EM.TOP_K])}


def fid_halves(real: np.ndarray, cand: np.ndarray | None, paired: bool, repeats: int = EM.REPEATS,
               seed: int = 0) -> tuple[EM.Interval, EM.Interval | None]:
    """(noise floor, candidate FID) over ``repeats`` random halvings of the real set (module docstring)."""
    n = len(real)
    if n < 4:
        raise ValueError(f"FID halves need at least 4 real clips, got {n}")
    if paired and cand is not None and len(cand) != n:
        raise ValueError(f"paired candidates must match the real clips one-to-one ({len(cand)} vs {n})")
    floor, fids = [], []
    for r in range(repeats):
        rng = np.random.default_rng(seed + r)
        perm = rng.permutation(n)
        a, b = perm[: n // 2], perm[n // 2:]
        floor.append(EM.fid(real[a], real[b]))
        if cand is not None:
            ca = cand[a] if paired else cand[rng.permutation(len(cand))[: len(a)]]
            fids.append(EM.fid(ca, real[b]))
    return EM.interval(floor), (EM.interval(fids) if fids else None)


def score_set(s: EmbeddedSet, real: EmbeddedSet, paired: bool, repeats: int = EM.REPEATS, seed: int = 0,
              batch: int = EM.BATCH) -> dict:
    """Every metric of the candidate set ``s`` against the real test set."""
    out = {"clips": len(s), **retrieval(s, repeats, seed, batch)}
    out["diversity"] = _ci(EM.repeat(lambda rng: EM.diversity(s.motion, rng), repeats, seed)[0])
    groups = s.groups()
    if any(len(g) >= 2 for g in groups):
        out["multimodality"] = _ci(EM.repeat(lambda rng: EM.multimodality(groups, rng), repeats, seed)[0])
        out["multimodality_prompts"] = sum(len(g) >= 2 for g in groups)
    else:
        out["multimodality"], out["multimodality_prompts"] = None, 0
    _, fid = fid_halves(real.motion, s.motion, paired, repeats, seed)
    out["fid"] = _ci(fid)
    out["fid_all"] = EM.fid(s.motion, real.motion)  # every candidate against every real clip
    return out


def ceiling(real: EmbeddedSet, repeats: int = EM.REPEATS, seed: int = 0, batch: int = EM.BATCH) -> dict:
    """The real test clips scored as candidates (their own captions), with the FID noise floor."""
    out = score_set(real, real, True, repeats, seed, batch)
    floor, _ = fid_halves(real.motion, None, True, repeats, seed)
    out["fid_noise_floor"] = _ci(floor)
    return out
