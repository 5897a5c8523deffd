"""From an example (prompt and answer made of text and motion grids) to the language model's token ids.

A sequence is ``[chat prefix] prompt [chat suffix] answer <eos>``. With a backbone that has a chat template
(SmolLM2-Instruct), the prompt is the user's turn and the answer the assistant's, rendered by the template
(around a placeholder, so that motion grids are spliced in as ids and never pass through the text
tokenizer); without one (the tiny backbones), the prompt is followed by a newline. Text pieces are encoded
one by one, without special tokens; a motion grid becomes ``<mot> codes </mot>`` (:mod:`.vocab`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .vocab import MotionVocab

Segment = str | np.ndarray  # text, or a (T', P) motion grid
_SLOT = re.compile(r"\{(\w+)\}")
_PLACEHOLDER = "\u2063PROMPT\u2063"


@dataclass
class Example:
    task: str
    prompt: list[Segment]
    answer: list[Segment]
    clip: str = ""
    info: dict = field(default_factory=dict)


def fill(template: str, values: dict[str, object]) -> list[Segment]:
    """``template`` with its ``{slot}`` s replaced: strings in the text, arrays as separate segments."""
    out: list[Segment] = []
    text, pos = "", 0
    for m in _SLOT.finditer(template):
        text += template[pos:m.start()]
        pos = m.end()
        if m.group(1) not in values:
            raise KeyError(f"template slot {{{m.group(1)}}} has no value: {template!r}")
        v = values[m.group(1)]
        if isinstance(v, np.ndarray):
            if text:
                out.append(text)
            out.append(v)
            text = ""
        else:
            text += str(v)
    text += template[pos:]
    if text:
        out.append(text)
    return out


class Formatter:
    """Token ids of prompts and answers for one extended tokenizer."""

    def __init__(self, tokenizer, vocab: MotionVocab, chat: bool | None = None):
        self.tok, self.vocab = tokenizer, vocab
        use_chat = bool(getattr(tokenizer, "chat_template", None)) if chat is None else chat
        if use_chat:
            text = tokenizer.apply_chat_template([{"role": "user", "content": _PLACEHOLDER}],
                                                 add_generation_prompt=True, tokenize=False)
            pre, post = text.split(_PLACEHOLDER)
        else:
            pre, post = "", "\n"
        self.prefix, self.suffix = self._text(pre), self._text(post)
        self.eos_id = tokenizer.eos_token_id

    def _text(self, s: str) -> list[int]:
        return list(self.tok(s, add_special_tokens=False)["input_ids"]) if s else []

    def segments(self, segs: list[Segment]) -> list[int]:
        ids: list[int] = []
        for s in segs:
            ids += self.vocab.encode(s) if isinstance(s, np.ndarray) else self._text(s)
        return ids

    def prompt_ids(self, prompt: list[Segment]) -> list[int]:
        """The ids the model is given before it answers."""
        return self.prefix + self.segments(prompt) + self.suffix

    def answer_ids(self, answer: list[Segment]) -> list[int]:
        return self.segments(answer) + [self.eos_id]

    def example_ids(self, ex: Example) -> tuple[list[int], int]:
        """(ids of the whole sequence, length of its prompt part)."""
        p = self.prompt_ids(ex.prompt)
        return p + self.answer_ids(ex.answer), len(p)

    def text_of(self, ids) -> str:
        """The text of generated ids: motion tokens and everything from the first eos on dropped."""
        ids = [int(i) for i in ids]
        if self.eos_id in ids:
            ids = ids[:ids.index(self.eos_id)]
        ids = [i for i in ids if not (self.vocab.start_id <= i < self.vocab.code_end)]
        return self.tok.decode(ids, skip_special_tokens=True).strip()
