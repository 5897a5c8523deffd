"""Motion tokens in the language model's vocabulary.

The MotionBook tokenizer (``tokenizer/``) turns a clip into a (T', P) grid: one row per 4-frame step, one
column per body part (P = 6: root, left_leg, right_leg, spine_head, left_arm, right_arm, the order of
:data:`motionlib.tokenizer.parts.PART_NAMES`), each cell one of 2^14 codes. :class:`MotionVocab` adds to a
Hugging Face tokenizer

* ``<mot>`` and ``</mot>``, which open and close a motion, and
* the codes: by default ONE table shared by all parts, ``<mc_00000>`` ... ``<mc_16383>`` (16,384 tokens);
  with ``shared=False`` one table per part, ``<mc{p}_{k}>`` (6 x 16,384 tokens),

appended after the backbone's own tokens, in that order, so that they have contiguous ids: the id of code
``k`` (of part ``p``) is ``code_offset + k`` (``code_offset + p * codebook_size + k``).

Order in the sequence: ``<mot>``, then the grid row by row (time-major), each row's P tokens in part order,
then ``</mot>``: ``<mot> r0 ll0 rl0 sp0 la0 ra0 r1 ll1 ... ra(T'-1) </mot>``, 45 tokens per second of motion
at 30 fps. A token's part is its position modulo P, so a shared table loses no information.

Why shared: on the 174 dataset-1 clips (8,047 steps, shipped tokenizer ``lfq2d-0c601dfcff72de46``) the parts
use 2,744 to 3,493 distinct codes each (11,633 over all parts), and the overlap between two parts' code sets is
close to what independent draws would give: Jaccard 0.092 to 0.144 (mean 0.122) against 0.101 to 0.118 (mean
0.110) by chance (:func:`code_overlap`). No part keeps to a region of the codebook of its own, and the decoder
gives a code a part-dependent meaning anyway (the part is the token's position), so one table of 16,384 rows
costs 1/6 of the embedding rows (9.4 M parameters at SmolLM2's width of 576 instead of 57 M) and the output layer
restricted to motion codes has 16,384 rows instead of 98,304. ``shared=False`` keeps per-part tables for
comparison.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from motionlib.motion.errors import MotionError

MOT_START = "<mot>"
MOT_END = "</mot>"


class MotionDecodeError(MotionError):
    """A token sequence that does not decode to a motion (no codes, a stray token inside ``<mot>...</mot>``)."""


@dataclass(frozen=True)
class VocabSpec:
    codebook_size: int = 2**14
    num_parts: int = 6
    shared: bool = True  # one code table for all parts (see the module docstring)

    @property
    def num_codes(self) -> int:
        return self.codebook_size * (1 if self.shared else self.num_parts)

    def code_names(self) -> list[str]:
        w = len(str(self.codebook_size - 1))
        if self.shared:
            return [f"<mc_{k:0{w}d}>" for k in range(self.codebook_size)]
        return [f"<mc{p}_{k:0{w}d}>" for p in range(self.num_parts) for k in range(self.codebook_size)]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "VocabSpec":
        return cls(int(d["codebook_size"]), int(d["num_parts"]), bool(d["shared"]))


class MotionVocab:
    """Ids of the motion tokens in one extended tokenizer, and the grid <-> ids maps."""

    def __init__(self, spec: VocabSpec, start_id: int, end_id: int, code_offset: int, has_codes: bool = True):
        self.spec = spec
        self.start_id, self.end_id, self.code_offset = start_id, end_id, code_offset
        self.has_codes = has_codes  # False: only <mot> and </mot> are tokens (the grouped layout, :mod:`.grouped`)

    # ------------------------------------------------------------------ building
    @classmethod
    def extend(cls, tokenizer, model=None, spec: VocabSpec | None = None, init_rows: bool = True,
               codes: bool = True) -> "MotionVocab":
        """Add the motion tokens to ``tokenizer`` (unless present) and resize ``model``'s embeddings to it;
        ``init_rows=False`` skips the mean resizing (for rows that a checkpoint then sets). ``codes=False``
        adds ``<mot>`` and ``</mot>`` only (the grouped layout feeds codes as step embeddings, not tokens)."""
        from tokenizers import AddedToken

        spec = spec or VocabSpec()
        names = [MOT_START, MOT_END] + (spec.code_names() if codes else [])
        if tokenizer.convert_tokens_to_ids(MOT_START) in (None, tokenizer.unk_token_id):
            tokenizer.add_tokens([AddedToken(n, special=True, normalized=False) for n in names])
        vocab = cls.of(tokenizer, spec, codes)
        if model is not None:
            resize_embeddings(model, len(tokenizer), init_rows)
        return vocab

    @classmethod
    def of(cls, tokenizer, spec: VocabSpec, codes: bool = True) -> "MotionVocab":
        """The motion vocabulary already in ``tokenizer``; checks that its ids are contiguous."""
        if not codes:
            start, end = ids = tokenizer.convert_tokens_to_ids([MOT_START, MOT_END])
            if None in ids or tokenizer.unk_token_id in ids or end != start + 1:
                raise MotionError(f"the language-model tokenizer lacks <mot> and </mot> as neighbours (ids {ids})")
            return cls(spec, start, end, end + 1, has_codes=False)
        names = spec.code_names()
        ids = tokenizer.convert_tokens_to_ids([MOT_START, MOT_END, names[0], names[-1]])
        start, end, first, last = ids
        if None in ids or tokenizer.unk_token_id in ids or end != start + 1 or first != end + 1 \
                or last != first + spec.num_codes - 1:
            raise MotionError("the language-model tokenizer does not hold the motion tokens as one contiguous "
                              f"block (ids of <mot>, </mot>, first and last code: {ids})")
        return cls(spec, start, end, first)

    # ----------------------------------------------------------------- ids <-> grid
    @property
    def num_parts(self) -> int:
        return self.spec.num_parts

    @property
    def code_end(self) -> int:
        """One past the last code id (past ``</mot>`` when the codes are not tokens)."""
        return self.code_offset + (self.spec.num_codes if self.has_codes else 0)

    def is_code(self, token_id: int) -> bool:
        return self.code_offset <= token_id < self.code_end

    def part_range(self, part: int) -> tuple[int, int]:
        """[lo, hi) of the ids a token of ``part`` may take."""
        if self.spec.shared:
            return self.code_offset, self.code_end
        lo = self.code_offset + part * self.spec.codebook_size
        return lo, lo + self.spec.codebook_size

    def codes_to_ids(self, indices: np.ndarray) -> list[int]:
        """(T', P) grid -> the ids of its codes, time-major, without the boundary tokens."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.ndim != 2 or idx.shape[1] != self.num_parts:
            raise MotionError(f"motion token grid must be (steps, {self.num_parts}), got {idx.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.spec.codebook_size):
            raise MotionError(f"motion codes must lie in [0, {self.spec.codebook_size}), got "
                              f"[{idx.min()}, {idx.max()}]")
        if not self.spec.shared:
            idx = idx + np.arange(self.num_parts)[None] * self.spec.codebook_size
        return (idx.reshape(-1) + self.code_offset).tolist()

    def encode(self, indices: np.ndarray) -> list[int]:
        """(T', P) grid -> ``<mot> codes </mot>`` ids."""
        return [self.start_id] + self.codes_to_ids(indices) + [self.end_id]

    def ids_to_codes(self, ids, source: str | None = None) -> np.ndarray:
        """Code ids (no boundary tokens) -> (T', P) grid. A trailing incomplete step is dropped; no complete
        step, or an id that is not a code of its part, is a :class:`MotionDecodeError`."""
        arr = np.asarray(list(ids), dtype=np.int64)
        p = self.num_parts
        steps = len(arr) // p
        if steps == 0:
            raise MotionDecodeError(f"the motion holds {len(arr)} code token(s), fewer than one step of {p}", source)
        arr = arr[:steps * p].reshape(steps, p)
        lo = np.array([self.part_range(j)[0] for j in range(p)])
        codes = arr - lo[None]
        bad = (codes < 0) | (codes >= self.spec.codebook_size)
        if bad.any():
            t, j = np.argwhere(bad)[0]
            raise MotionDecodeError(f"token id {arr[t, j]} at step {t}, part {j} is not a motion code of that part",
                                    source)
        return codes

    def decode(self, ids, source: str | None = None) -> np.ndarray:
        """The first ``<mot> ... </mot>`` segment of ``ids`` -> (T', P) grid. A segment that is never closed
        runs to the end of ``ids``; no ``<mot>`` at all is read as codes from the start."""
        ids = list(int(i) for i in ids)
        start = ids.index(self.start_id) + 1 if self.start_id in ids else 0
        body = ids[start:]
        if self.end_id in body:
            body = body[:body.index(self.end_id)]
        return self.ids_to_codes(body, source)

    def segments(self, ids) -> list[tuple[int, int]]:
        """[start, end) spans of the code ids of every ``<mot> ... </mot>`` segment in ``ids``."""
        out, open_at = [], None
        for i, t in enumerate(int(x) for x in ids):
            if t == self.start_id:
                open_at = i + 1
            elif t == self.end_id and open_at is not None:
                out.append((open_at, i))
                open_at = None
        return out


def resize_embeddings(model, n: int, mean_resizing: bool = True) -> None:
    """Grow ``model``'s (tied) input and output embeddings to ``n`` rows; with ``mean_resizing`` new rows are
    drawn around the mean of the old ones (transformers' mean resizing)."""
    if model.get_input_embeddings().weight.shape[0] != n:
        model.resize_token_embeddings(n, mean_resizing=mean_resizing)


def code_overlap(indices: np.ndarray, codebook_size: int = 2**14) -> dict:
    """How much the parts' code sets overlap on a set of token grids (rows stacked: (N, P)).

    Returns ``used`` (distinct codes per part), ``jaccard`` (P x P) and ``chance`` (P x P: the Jaccard index
    two parts with the same numbers of distinct codes would have if they drew them independently and uniformly
    from the codebook), ``union`` (distinct codes over all parts)."""
    idx = np.asarray(indices)
    p = idx.shape[1]
    sets = [set(np.unique(idx[:, j]).tolist()) for j in range(p)]
    used = [len(s) for s in sets]
    jac = np.ones((p, p))
    chance = np.ones((p, p))
    for i in range(p):
        for j in range(p):
            if i != j:
                jac[i, j] = len(sets[i] & sets[j]) / max(1, len(sets[i] | sets[j]))
                inter = used[i] * used[j] / codebook_size
                chance[i, j] = inter / max(1e-9, used[i] + used[j] - inter)
    return {"used": used, "union": len(set().union(*sets)), "jaccard": jac.round(4).tolist(),
            "chance": chance.round(4).tolist()}
