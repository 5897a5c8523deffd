"""Caption accuracy: does a caption name the content and the style of a Bandai clip?

The matcher reads a caption against the phrase tables the captions are written from
(:data:`motionlib.motion.ingest.captions.CONTENTS` and :data:`~motionlib.motion.ingest.captions.STYLES`):
every content's verb phrases and -ing forms ("walks backwards", "walking backward"), every style's manners,
adverbs and adjectives ("in a tired way", "wearily", "tired"). Phrases are matched as whole words in the
lower-cased caption (punctuation other than hyphens read as spaces).

The most specific match wins: of the phrases found, those with the most words name the label, so "walks
backwards" reads as walk-back, not walk, and "waves goodbye with both hands" as byebye, not bye. Several
labels may tie (a caption naming two things, or a phrase two labels share, such as "dances" for dance-long
and dance-short). A caption is **correct** when the clip's label is among the best matches and every other
best match is a synonym of it: a label that shares a phrase with it (dance-long / dance-short, masculine /
masculinity, old / elderly, tired / exhausted, which share "wearily"). A caption naming no style phrase reads
as style ``normal``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from motionlib.motion.ingest.captions import CONTENTS, STYLES

NORMAL = "normal"


def normalize(text: str) -> str:
    """Lower case, punctuation other than hyphens as spaces, single spaces, padded with one space each side."""
    t = re.sub(r"[^a-z0-9\- ]+", " ", text.lower())
    return " " + " ".join(t.split()) + " "


@lru_cache(maxsize=1)
def content_phrases() -> dict[str, tuple[str, ...]]:
    return {k: tuple(sorted({normalize(p).strip() for p in c.verbs + c.ings})) for k, c in CONTENTS.items()}


@lru_cache(maxsize=1)
def style_phrases() -> dict[str, tuple[str, ...]]:
    return {k: tuple(sorted({normalize(p).strip() for p in s.manners + s.adverbs + s.adjectives}))
            for k, s in STYLES.items()}


def _synonyms(table: dict[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    """Each label with the labels that share a phrase with it (itself included)."""
    return {a: frozenset(b for b, pb in table.items() if b == a or set(pa) & set(pb)) for a, pa in table.items()}


@lru_cache(maxsize=1)
def content_synonyms() -> dict[str, frozenset[str]]:
    return _synonyms(content_phrases())


@lru_cache(maxsize=1)
def style_synonyms() -> dict[str, frozenset[str]]:
    return _synonyms(style_phrases())


def best_matches(caption: str, table: dict[str, tuple[str, ...]]) -> set[str]:
    """The labels of ``table`` whose longest phrase found in ``caption`` is the longest found (in words)."""
    text = normalize(caption)
    best, labels = 0, set()
    for label, phrases in table.items():
        n = max((len(p.split()) for p in phrases if f" {p} " in text), default=0)
        if n and n > best:
            best, labels = n, {label}
        elif n and n == best:
            labels.add(label)
    return labels


def match_content(caption: str) -> set[str]:
    """The content labels ``caption`` names (empty when it names none)."""
    return best_matches(caption, content_phrases())


def match_style(caption: str) -> set[str]:
    """The style labels ``caption`` names; ``{"normal"}`` when it names none."""
    return best_matches(caption, style_phrases()) or {NORMAL}


def _correct(found: set[str], label: str, synonyms: dict[str, frozenset[str]]) -> bool:
    return label in found and found <= synonyms.get(label, frozenset({label}))


def content_correct(caption: str, content: str) -> bool:
    return _correct(match_content(caption), content, content_synonyms())


def style_correct(caption: str, style: str) -> bool:
    return _correct(match_style(caption), style, style_synonyms())


@dataclass(frozen=True)
class Accuracy:
    content: float
    style: float
    both: float
    n: int

    def to_dict(self) -> dict:
        return {"content": self.content, "style": self.style, "both": self.both, "n": self.n}


def accuracy(items: list[tuple[str, str, str]]) -> Accuracy:
    """Content, style and both-right rates over ``(caption, content, style)`` triples."""
    if not items:
        raise ValueError("caption accuracy needs at least one caption")
    c = [content_correct(cap, ct) for cap, ct, _ in items]
    s = [style_correct(cap, st) for cap, _, st in items]
    n = len(items)
    return Accuracy(sum(c) / n, sum(s) / n, sum(a and b for a, b in zip(c, s)) / n, n)
