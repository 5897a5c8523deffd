"""Text -> motion and motion -> text with a trained motion-language model.

Motion is written by a decoding loop of its own (:func:`sample_motion_ids`): the prompt is followed by
``<mot>``, and each next token is chosen among the motion codes only, plus ``</mot>`` at a step boundary,
by computing the output layer for those rows alone (16,385 of the 65,538 SmolLM2 has with the motion
vocabulary): the first speed lever, and a guarantee that what comes out decodes. With ``restrict=False`` the model writes
its answer freely through transformers' ``generate`` (the whole output layer; it must open ``<mot>``
itself), which is the baseline the lever is measured against.

Speed (measured lever by lever by ``benchmarks/bench_generate.py``; figures in the speed section of
``llm/README.md``): the loop runs the prompt once and then one token per step through the KV cache under
``torch.inference_mode``, on one CPU thread by default (``GenConfig.threads``: on a
machine whose cores other jobs share, a second thread waits for a busy core and decodes about 2.5x slower);
the model comes merged and in float32 from :func:`~.model.prepare_for_inference`.

A model of the grouped layout (:mod:`.grouped`) writes one step per forward pass instead
(:func:`sample_motion_steps`): the backbone's hidden state at ``<mot>`` or at the last step goes through the
part head, which draws the next step's six codes in part order (or ends the motion at part 0), and the step's
embedding is fed back through the KV cache: 7.5 forward passes per second of motion instead of 45.

Sampling is seeded (``torch.Generator``): the same prompt, seed and model give the same motion. A
sequence that does not decode (no motion, a stray token) is drawn again with the next seed, ``tries`` times
in all, then reported as a :class:`MotionError` that names the prompt. A prompt that with its answer does not
fit the model's context is refused before anything runs.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from motionlib.motion.errors import MotionError

from .grouped import body_of, decode_steps, embed, item_tensors
from .model import MotionLM
from .sequence import Segment, fill
from .templates import M2T_PLAIN, T2M_PLAIN
from .vocab import MotionDecodeError


@dataclass(frozen=True)
class GenConfig:
    seconds: float | None = None  # exact length; None: the model ends the motion (up to max_seconds)
    max_seconds: float = 10.0
    temperature: float = 1.0
    top_k: int = 0  # 0: the whole (restricted) distribution
    greedy: bool = False
    seed: int = 0
    tries: int = 3
    restrict: bool = True  # output layer restricted to the motion codes inside <mot>...</mot>
    steps_per_second: float = 7.5
    static_cache: bool = False  # a preallocated StaticCache (where the model can use one) for the DynamicCache
    threads: int | None = 1  # torch CPU threads while decoding (restored after); None: leave torch's setting

    def steps(self) -> tuple[int, int]:
        """(fewest, most) steps of the motion."""
        if self.seconds is not None:
            n = max(1, int(round(self.seconds * self.steps_per_second)))
            return n, n
        return 1, max(1, int(round(self.max_seconds * self.steps_per_second)))


_body = body_of


def _pick(logits: torch.Tensor, cfg: GenConfig, gen: torch.Generator) -> int:
    if cfg.greedy:
        return int(torch.argmax(logits))
    z = logits.float() / max(cfg.temperature, 1e-6)
    if cfg.top_k and cfg.top_k < z.numel():
        kth = torch.topk(z, cfg.top_k).values[-1]
        z = torch.where(z < kth, torch.full_like(z, float("-inf")), z)
    return int(torch.multinomial(torch.softmax(z, -1), 1, generator=gen))


def _check_context(lm: MotionLM, n_prompt: int, n_new: int, prompt: str) -> None:
    if n_prompt + n_new > lm.context:
        raise MotionError(f"prompt {prompt!r} is {n_prompt} tokens; with the answer's {n_new} tokens that exceeds the "
                          f"model's context of {lm.context} tokens: shorten it (or ask for fewer seconds)")


@contextmanager
def cpu_threads(n: int | None):
    """torch's intra-op CPU threads set to ``n`` inside the block (None: unchanged)."""
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        if n:
            torch.set_num_threads(old)


def _new_cache(model, length: int, static: bool):
    """None (the model makes a DynamicCache) or a StaticCache of ``length`` positions."""
    if not static or not getattr(model, "_can_compile_fullgraph", False):
        return None
    from transformers import StaticCache

    return StaticCache(config=model.config, max_cache_len=length)


@torch.inference_mode()
def sample_motion_ids(lm: MotionLM, prompt_ids: list[int], cfg: GenConfig, seed: int) -> list[int]:
    """Code ids after ``prompt_ids + [<mot>]``, from the restricted output layer, with a KV cache: the prompt
    runs once, then each step feeds only the token just drawn."""
    model = lm.base_model
    v, p = lm.vocab, lm.vocab.num_parts
    lo_steps, hi_steps = cfg.steps()
    head = model.get_output_embeddings()
    w, bias = head.weight, getattr(head, "bias", None)
    end_row = w[v.end_id]
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    body = _body(model)
    device = lm.device
    x = torch.tensor([prompt_ids + [v.start_id]], device=device)
    cache = _new_cache(model, x.shape[1] + hi_steps * p, cfg.static_cache)
    out = body(input_ids=x, cache=cache, use_cache=True)
    cache, h = out.cache, out.last_hidden_state[0, -1]
    codes: list[int] = []
    while True:
        n = len(codes)
        lo, hi = v.part_range(n % p)
        logits = h @ w[lo:hi].T
        if bias is not None:
            logits = logits + bias[lo:hi]
        if n % p == 0 and n // p >= lo_steps:  # </mot> may end the motion at a step boundary
            end = (h @ end_row + (bias[v.end_id] if bias is not None else 0)).reshape(1)
            logits = torch.cat([logits, end])
        k = _pick(logits.cpu(), cfg, gen)
        if k == hi - lo:
            break
        codes.append(lo + k)
        if len(codes) % p == 0 and len(codes) // p >= hi_steps:  # complete: the last code needs no forward pass
            break
        out = body(input_ids=torch.tensor([[lo + k]], device=device), cache=cache, use_cache=True)
        cache, h = out.cache, out.last_hidden_state[0, -1]
    return codes


def _embed_items(lm: MotionLM, items) -> torch.Tensor:
    ids, codes = item_tensors(items, lm.tokenizer.pad_token_id, lm.vocab.num_parts, lm.device)
    return embed(lm.base_model, lm.steps, ids, codes).to(lm.base_model.dtype)


@torch.inference_mode()
def sample_motion_steps(lm: MotionLM, prompt_items: list, cfg: GenConfig, seed: int) -> list[tuple[int, ...]]:
    """Steps (tuples of P codes) after ``prompt_items + [<mot>]`` for a grouped-layout model: one forward pass
    of the backbone per step, the part head drawing the step's codes in part order."""
    model, steps = lm.base_model, lm.steps
    lo_steps, hi_steps = cfg.steps()
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    body = _body(model)
    x = _embed_items(lm, list(prompt_items) + [lm.vocab.start_id])
    cache = _new_cache(model, x.shape[1] + hi_steps, cfg.static_cache)
    out = body(inputs_embeds=x, cache=cache, use_cache=True)
    cache, h = out.cache, out.last_hidden_state[0, -1]

    def pick(logits: torch.Tensor) -> int:
        return _pick(logits.cpu(), cfg, gen)

    result: list[tuple[int, ...]] = []
    while True:
        codes = steps.sample_step(h.float(), pick, allow_end=len(result) >= lo_steps)
        if codes is None:
            break
        result.append(tuple(codes))
        if len(result) >= hi_steps:  # complete: the last step needs no forward pass
            break
        e = steps.embed_steps(torch.tensor([[codes]], device=h.device)).to(x.dtype)
        out = body(inputs_embeds=e, cache=cache, use_cache=True)
        cache, h = out.cache, out.last_hidden_state[0, -1]
    return result


@torch.no_grad()
def sample_free_ids(lm: MotionLM, prompt_ids: list, max_new: int, cfg: GenConfig, seed: int,
                    suppress_motion: bool = False) -> list[int]:
    """The model's answer through transformers' ``generate`` over the whole output layer (until eos). A
    grouped-layout prompt (with steps) goes in as input embeddings."""
    model = lm.base_model
    torch.manual_seed(int(seed))
    kw: dict = {"do_sample": not cfg.greedy, "max_new_tokens": max_new, "pad_token_id": lm.tokenizer.pad_token_id,
                "eos_token_id": lm.formatter.eos_id}
    if not cfg.greedy:
        kw.update(temperature=cfg.temperature, top_k=cfg.top_k or None)
    if suppress_motion:
        kw["suppress_tokens"] = list(range(lm.vocab.start_id, lm.vocab.code_end))
    if lm.layout == "grouped":
        x = _embed_items(lm, prompt_ids)
        att = torch.ones(x.shape[:2], dtype=torch.long, device=lm.device)
        return model.generate(inputs_embeds=x, attention_mask=att, **kw)[0].tolist()  # the new tokens only
    x = torch.tensor([prompt_ids], device=lm.device)
    out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), **kw)
    return out[0, len(prompt_ids):].tolist()


def prompt_text(prompt: list[Segment]) -> str:
    return "".join(s if isinstance(s, str) else f"<motion of {len(s)} steps>" for s in prompt)


def generate_grid(lm: MotionLM, prompt: list[Segment], cfg: GenConfig) -> tuple[np.ndarray, dict]:
    """A (T', P) motion grid answering ``prompt`` (segments); (grid, info: seed used, tries, tokens)."""
    ids = lm.formatter.prompt_ids(prompt)
    name = prompt_text(prompt)
    _, hi = cfg.steps()
    grouped = lm.layout == "grouped"
    n_new = hi * (1 if grouped else lm.vocab.num_parts) + 3
    _check_context(lm, len(ids), n_new, name)
    if grouped and not cfg.restrict:
        raise MotionError("a model of the grouped layout writes motion through its part head only: unrestricted "
                          "decoding (--no-restrict) applies to the flat layout")
    last = ""
    for t in range(max(1, cfg.tries)):
        seed = cfg.seed + t
        with cpu_threads(cfg.threads):
            if grouped:
                answer = [lm.vocab.start_id] + sample_motion_steps(lm, ids, cfg, seed)
            elif cfg.restrict:
                codes = sample_motion_ids(lm, ids, cfg, seed)
                answer = [lm.vocab.start_id] + codes
            else:
                answer = sample_free_ids(lm, ids, n_new, cfg, seed)
        try:
            if grouped:
                grid = decode_steps(lm.vocab, answer)
            else:
                grid = lm.vocab.decode(answer) if not cfg.restrict else lm.vocab.ids_to_codes(codes)
        except MotionDecodeError as e:
            last = e.problem if hasattr(e, "problem") else str(e)
            continue
        if cfg.seconds is not None:
            grid = grid[:cfg.steps()[1]]
        return grid, {"seed": seed, "tries": t + 1, "tokens": len(answer)}
    raise MotionError(f"no motion could be decoded for the prompt {name!r} after {max(1, cfg.tries)} tries "
                      f"(last: {last})")


def generate_motion(lm: MotionLM, text: str, cfg: GenConfig) -> tuple[np.ndarray, dict]:
    """Text -> motion grid, through the plain text -> motion prompt the model was aligned on."""
    text = " ".join(text.split())
    if not text:
        raise MotionError("the prompt is empty")
    return generate_grid(lm, fill(T2M_PLAIN.prompt, {"caption": text}), cfg)


def caption_grid(lm: MotionLM, grid: np.ndarray, cfg: GenConfig, max_words: int = 48) -> str:
    """Motion grid -> one caption (motion tokens suppressed in the answer)."""
    prompt = fill(M2T_PLAIN.prompt, {"motion": np.asarray(grid)})
    ids = lm.formatter.prompt_ids(prompt)
    _check_context(lm, len(ids), max_words, prompt_text(prompt))
    with cpu_threads(cfg.threads):
        out = sample_free_ids(lm, ids, max_words, cfg, cfg.seed, suppress_motion=True)
    return lm.formatter.text_of(out)
