"""The grouped sequence layout: one position per time step of a motion, all six parts at once.

In the flat layout (:mod:`.sequence`) a motion is ``<mot>``, its (T', P) grid as T' x P code tokens, ``</mot>``:
45 positions, so 45 forward passes of the backbone, per second of motion. In the grouped layout it is
``<mot>``, then ONE position per time step, then ``</mot>``: 7.5 positions per second.

* **Input.** A step position's input embedding is a learned step vector plus a linear map of its P codes'
  embeddings, concatenated in part order (:meth:`StepCoder.embed_steps`). The codes live in one small table
  of ``dim`` (default 96) columns, not in the LM vocabulary: only ``<mot>`` and ``</mot>`` are tokens. With
  ``VocabSpec.shared`` (the default) one table serves all parts and the part is told by the slot in the
  concatenation; ``shared=False`` gives each part a table of its own.
* **Output.** At ``<mot>`` and at every step position the backbone's hidden state predicts the NEXT step
  through a small part head (:meth:`StepCoder.part_logits`), part by part in part order, each part seeing the
  hidden state plus the embeddings of the parts already chosen for that step (each through a projection of
  its own slot), then a residual MLP, and scoring the part's 16,384 codes against the code table (tied) plus a
  per-part bias. That keeps the dependence between the parts of one step, as the depth transformer of
  RQ-Transformer does, at the cost of a few small matrix products per part. Whether the motion ends is one
  more class of part 0 (an "end" row beside the codes): at a step boundary ``</mot>`` competes with the next
  step's first code, as in the flat layout.
* **Text** positions are unchanged: token embeddings in, the LM head out (captions, ``</mot>`` -> eos).
* **Codes by their bits** (``code_bits`` = d > 0, for LFQ tokenizers, whose code k IS a d-bit sign vector that
  the tokenizer's decoder reads): a code's row is a learned linear map of its d signs plus a free row of its own
  (started at zero), so codes that share bits start close and a code seldom or never seen in training still has
  a meaningful row, in the input and in the tied output alike. ``code_bits = 0``: free rows only.

Position ``i`` predicts what stands at ``i + 1``: a token (LM head, cross-entropy), a step (the P part
cross-entropies), or ``</mot>`` after ``<mot>`` or a step (the end class of part 0). The loss is the mean over
all these predictions, each part code counting as one, like a code token in the flat layout.

Part requests (``part_t2m``, ``part_m2t``) need no mask: every motion in every task is a whole grid (all P
parts); the body part is named in the text of the prompt.

A grouped sequence is a list whose items are token ids (int) or steps (tuples of P codes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motionlib.motion.errors import MotionError

from .sequence import Formatter, Segment
from .vocab import MotionDecodeError, MotionVocab, VocabSpec

Item = int | tuple[int, ...]


# ----------------------------------------------------------------------------------------- sequences
def encode_steps(vocab: MotionVocab, grid: np.ndarray) -> list[Item]:
    """(T', P) grid -> ``[<mot>, step, ..., step, </mot>]``."""
    idx = np.asarray(grid, dtype=np.int64)
    if idx.ndim != 2 or idx.shape[1] != vocab.num_parts:
        raise MotionError(f"motion token grid must be (steps, {vocab.num_parts}), got {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= vocab.spec.codebook_size):
        raise MotionError(f"motion codes must lie in [0, {vocab.spec.codebook_size}), got [{idx.min()}, {idx.max()}]")
    return [vocab.start_id] + [tuple(int(c) for c in row) for row in idx] + [vocab.end_id]


def decode_steps(vocab: MotionVocab, items, source: str | None = None) -> np.ndarray:
    """The first ``<mot> ... </mot>`` of ``items`` -> (T', P) grid (a segment never closed runs to the end; no
    ``<mot>`` reads steps from the start). No step, or a token among the steps, is a MotionDecodeError."""
    items = list(items)
    start = next((i + 1 for i, x in enumerate(items) if x == vocab.start_id), 0)
    rows = []
    for x in items[start:]:
        if x == vocab.end_id:
            break
        if not isinstance(x, tuple) or len(x) != vocab.num_parts:
            raise MotionDecodeError(f"item {x!r} after step {len(rows)} is not a step of {vocab.num_parts} codes",
                                    source)
        rows.append(x)
    if not rows:
        raise MotionDecodeError("the motion holds no step", source)
    return np.asarray(rows, dtype=np.int64)


class GroupedFormatter(Formatter):
    """:class:`~.sequence.Formatter` whose motions are steps: ids are lists of :data:`Item`."""

    def segments(self, segs: list[Segment]) -> list[Item]:
        out: list[Item] = []
        for s in segs:
            out += encode_steps(self.vocab, s) if isinstance(s, np.ndarray) else self._text(s)
        return out


@dataclass
class GroupedBatch:
    ids: torch.Tensor  # (B, L) token ids; padding at step positions (their embedding is the step's)
    attention_mask: torch.Tensor  # (B, L)
    codes: torch.Tensor  # (B, L, P) the step's codes at step positions, -1 elsewhere
    lm_targets: torch.Tensor  # (B, L) the next token where the next item is a token, else -100
    part_targets: torch.Tensor  # (B, L, P) the next step's codes; part 0 = codebook_size for "end"; else -100

    def to(self, device) -> "GroupedBatch":
        return GroupedBatch(*(getattr(self, k).to(device) for k in self.__dataclass_fields__))


def grouped_batch(fmt: Formatter, sequences: list[tuple[list[Item], int]], target_only: bool) -> GroupedBatch:
    """Right-padded tensors of ``(items, prompt length)`` pairs (already cropped); with ``target_only``
    only what follows the prompt is predicted."""
    v = fmt.vocab
    p, k = v.num_parts, v.spec.codebook_size
    b, width = len(sequences), max(len(s) for s, _ in sequences)
    ids = torch.full((b, width), fmt.tok.pad_token_id, dtype=torch.long)
    att = torch.zeros((b, width), dtype=torch.long)
    codes = torch.full((b, width, p), -1, dtype=torch.long)
    lm_t = torch.full((b, width), -100, dtype=torch.long)
    part_t = torch.full((b, width, p), -100, dtype=torch.long)
    for r, (items, n) in enumerate(sequences):
        att[r, :len(items)] = 1
        for i, x in enumerate(items):
            if isinstance(x, tuple):
                codes[r, i] = torch.tensor(x)
            else:
                ids[r, i] = x
            if i == 0 or (target_only and i < n):
                continue
            prev = items[i - 1]
            if isinstance(x, tuple):
                part_t[r, i - 1] = torch.tensor(x)
            elif x == v.end_id and (isinstance(prev, tuple) or prev == v.start_id):
                part_t[r, i - 1, 0] = k
            else:
                lm_t[r, i - 1] = x
    return GroupedBatch(ids, att, codes, lm_t, part_t)


# ----------------------------------------------------------------------------------------- the module
class StepCoder(nn.Module):
    """The step embedding (codes in) and the part head (codes out) of the grouped layout."""

    def __init__(self, spec: VocabSpec, hidden: int, dim: int = 96, code_bits: int = 0):
        super().__init__()
        p, k = spec.num_parts, spec.codebook_size
        self.spec, self.dim, self.code_bits = spec, dim, code_bits
        self.table = nn.Embedding(spec.num_codes, dim)  # shared by the parts, or P tables stacked
        if code_bits:
            if 2 ** code_bits != k:
                raise MotionError(f"code_bits {code_bits} needs a codebook of 2^{code_bits} codes, not {k}")
            # row = signs(k) @ bit_map + table[k]; the free part starts at zero, the map at unit-variance rows
            self.bit_map = nn.Parameter(torch.randn(code_bits, dim) / code_bits ** 0.5)
            nn.init.zeros_(self.table.weight)
            self.register_buffer("signs", code_signs(code_bits).repeat(spec.num_codes // k, 1), persistent=False)
        # the code table computed once for decoding (:meth:`freeze`; a buffer, so it follows .to(device))
        self.register_buffer("_frozen", None, persistent=False)
        self.inp = nn.Linear(p * dim, hidden)  # concatenated part embeddings -> the backbone's width
        self.step = nn.Parameter(torch.zeros(hidden))
        self.h_proj = nn.Linear(hidden, dim)
        self.query = nn.Parameter(torch.randn(p, dim) * 0.02)
        self.slot = nn.Parameter(torch.randn(p, dim, dim) / dim ** 0.5)  # a chosen part -> the head's input
        self.mlp = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.out_norm = nn.LayerNorm(dim)
        self.bias = nn.Parameter(torch.zeros(p, k))
        self.end = nn.Parameter(torch.zeros(dim))
        self.end_bias = nn.Parameter(torch.zeros(1))
        self.register_buffer("offsets", torch.arange(p) * (0 if spec.shared else k), persistent=False)

    def init_scale(self, embedding: torch.Tensor) -> None:
        """Step embeddings start on the scale of the backbone's token embeddings (``embedding``: its rows)."""
        with torch.no_grad():
            e = embedding.float()
            self.step.copy_(e.mean(0))
            self.inp.weight.normal_(0.0, float(e.std()) / (self.inp.in_features ** 0.5))
            self.inp.bias.zero_()

    def _rows(self, codes: torch.Tensor) -> torch.Tensor:
        return codes.clamp(0, self.spec.codebook_size - 1) + self.offsets

    def code_table(self) -> torch.Tensor:
        """(num_codes, dim): every code's row (its bits' map plus its free row when ``code_bits``)."""
        if self._frozen is not None:
            return self._frozen
        if not self.code_bits:
            return self.table.weight
        return self.signs @ self.bit_map + self.table.weight

    def train(self, mode: bool = True) -> "StepCoder":
        if mode:
            self._frozen = None  # training changes the rows again
        return super().train(mode)

    def freeze(self) -> None:
        """For decoding with frozen weights: the code table is computed once here, not at every step."""
        self._frozen = None
        with torch.no_grad():
            self._frozen = self.code_table().detach().clone()

    def _code_rows(self, codes: torch.Tensor) -> torch.Tensor:
        rows = self._rows(codes)
        if self._frozen is not None or not self.code_bits:  # whole rows at hand
            return F.embedding(rows, self.code_table())
        return self.signs[rows] @ self.bit_map + self.table(rows)  # only the rows asked for

    def embed_steps(self, codes: torch.Tensor) -> torch.Tensor:
        """(..., P) codes -> (..., hidden) input embeddings."""
        e = self._code_rows(codes)
        return self.step + self.inp(e.flatten(-2))

    def _out(self, z: torch.Tensor) -> torch.Tensor:
        return self.out_norm(z + self.mlp(z))

    def _weights(self) -> torch.Tensor:
        """(P or 1, K, dim): the code table each part is scored against."""
        k = self.spec.codebook_size
        return self.code_table().view(-1, k, self.dim)

    def part_logits(self, h: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced: hidden states (N, hidden) and the next steps' codes (N, P) -> (part 0's logits with
        the end class last (N, K + 1), the other parts' logits (N, P - 1, K))."""
        e = torch.einsum("npd,pde->npe", self._code_rows(codes), self.slot)
        prev = torch.cumsum(e, 1) - e  # the parts before each part
        z = self._out(self.h_proj(h)[:, None] + self.query + prev)
        w = self._weights()
        logits = torch.einsum("npd,pkd->npk", z, w.expand(self.spec.num_parts, -1, -1)) + self.bias
        end = z[:, 0] @ self.end + self.end_bias
        return torch.cat([logits[:, 0], end[:, None]], -1), logits[:, 1:]

    def sample_step(self, h: torch.Tensor, pick, allow_end: bool) -> list[int] | None:
        """One step's P codes from hidden state ``h`` (hidden,), each drawn by ``pick(logits) -> index`` in part
        order; None when ``allow_end`` and part 0 draws the end class."""
        k, w = self.spec.codebook_size, self._weights()
        base, codes = self.h_proj(h), []
        for p in range(self.spec.num_parts):
            z = self._out(base + self.query[p])
            logits = w[p if w.shape[0] > 1 else 0] @ z + self.bias[p]
            if p == 0 and allow_end:
                logits = torch.cat([logits, (z @ self.end + self.end_bias).reshape(1)])
            c = pick(logits)
            if c == k:
                return None
            codes.append(c)
            base = base + w[p if w.shape[0] > 1 else 0, c] @ self.slot[p]
        return codes


def code_signs(bits: int) -> torch.Tensor:
    """(2^bits, bits): code k's latent in {-1, 1}, in the LFQ library's bit order (dim 0 the most significant;
    ``tokenizer.quantizers.lfq_index_from_latent`` inverts it)."""
    k = torch.arange(2 ** bits)[:, None]
    return ((k >> torch.arange(bits - 1, -1, -1)) & 1).float() * 2 - 1


def parameter_bytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


# ----------------------------------------------------------------------------------------- forward and loss
def body_of(model):
    """The transformer under a causal LM's head (LlamaModel, GPT2Model...)."""
    return getattr(model, model.base_model_prefix)


def embed(model, steps: StepCoder, ids: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """(B, L, hidden) input embeddings: token embeddings, step embeddings where ``codes`` >= 0."""
    tok = model.get_input_embeddings()(ids)
    is_step = codes[..., 0] >= 0
    if not bool(is_step.any()):
        return tok
    return torch.where(is_step[..., None], steps.embed_steps(codes).to(tok.dtype), tok)


def item_tensors(items: list[Item], pad_id: int, num_parts: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, L) ids and (1, L, P) codes of one sequence."""
    ids = torch.tensor([[pad_id if isinstance(x, tuple) else x for x in items]], device=device)
    codes = torch.tensor([[x if isinstance(x, tuple) else (-1,) * num_parts for x in items]], device=device)
    return ids, codes


def grouped_loss(model, steps: StepCoder, batch: GroupedBatch) -> torch.Tensor:
    """Mean over the batch's predictions: next tokens (LM head), next steps' part codes and end (part head)."""
    h = body_of(model)(inputs_embeds=embed(model, steps, batch.ids, batch.codes),
                       attention_mask=batch.attention_mask).last_hidden_state
    total, count = h.new_zeros(()), 0
    tm = batch.lm_targets != -100
    if bool(tm.any()):
        logits = model.get_output_embeddings()(h[tm])
        total = total + F.cross_entropy(logits.float(), batch.lm_targets[tm], reduction="sum")
        count += int(tm.sum())
    pm = (batch.part_targets != -100).any(-1)
    if bool(pm.any()):
        tgt = batch.part_targets[pm]
        first, rest = steps.part_logits(h[pm].float(), tgt.clamp(min=0))
        total = total + F.cross_entropy(first, tgt[:, 0], reduction="sum", ignore_index=-100)
        total = total + F.cross_entropy(rest.flatten(0, 1), tgt[:, 1:].flatten(), reduction="sum", ignore_index=-100)
        count += int((tgt != -100).sum())
    return total / max(count, 1)
