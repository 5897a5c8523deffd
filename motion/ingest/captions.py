"""Text for Bandai-Namco clips: labels from the JSON beside each BVH, and
whole-body captions plus body-part descriptions built from content + style.

Labels
------
Each Bandai clip ``dataset-N_{content}_{style}_{take}.bvh`` comes with a JSON
file ``{"content": i, "style": j}`` holding 0-based indices into the label
lists of its dataset (``cfg-N/content_label.txt`` / ``style_label.txt`` in the
release; shipped here as ``data/bandai_labels.json`` with the ``dataset-N_``
prefixes removed). :func:`bandai_labels` reads the JSON and falls back to the
file name when there is no JSON.

Texts
-----
:func:`bandai_texts` returns ``{"captions": [...], "body_parts": {...}}``:
several phrasings of one whole-body caption ("a person walks backwards in a
tired way", "someone tiredly walks backward", ...), chosen deterministically
from a seed (by default one derived from the clip id), and short descriptions
of the body parts the content implies. Body-part keys are
:data:`BODY_PARTS`: ``root`` (the whole body's path and heading),
``left_leg``, ``right_leg``, ``spine`` (torso), ``head``, ``left_arm``,
``right_arm``; each maps to a list of phrases.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MotionError

BODY_PARTS: tuple[str, ...] = ("root", "left_leg", "right_leg", "spine", "head", "left_arm", "right_arm")

FILE_NAME = re.compile(r"^(dataset-\d+)_([A-Za-z-]+)_([A-Za-z-]+)_(\d+)$", re.IGNORECASE)
SUBJECTS = ("a person", "someone", "the person", "a human")


@lru_cache(maxsize=1)
def label_names() -> dict[str, dict[str, list[str]]]:
    """``{"dataset-1": {"content": [...], "style": [...]}, "dataset-2": ...}``."""
    text = resources.files("motionlib.motion.ingest").joinpath("data/bandai_labels.json").read_text()
    return json.loads(text)["datasets"]


# ----------------------------------------------------------------- phrase tables
@dataclass(frozen=True)
class Content:
    verbs: tuple[str, ...]  # third person singular verb phrases: "walks backwards"
    ings: tuple[str, ...]  # -ing forms: "walking backwards"
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Style:
    manners: tuple[str, ...] = ()  # after the verb phrase: "in a tired way"
    adverbs: tuple[str, ...] = ()  # before the verb: "tiredly"
    adjectives: tuple[str, ...] = ()  # of the person: "tired"


_STEP = ("the legs step alternately",)
_GAIT = {"left_leg": _STEP, "right_leg": _STEP}


def _both_arms(*phrases: str) -> dict[str, tuple[str, ...]]:
    return {"left_arm": phrases, "right_arm": phrases}


CONTENTS: dict[str, Content] = {
    "walk": Content(("walks", "walks forward", "walks straight ahead"), ("walking", "walking forward"),
                    {**_GAIT, "root": ("moves forward",)}),
    "run": Content(("runs", "runs forward", "runs ahead"), ("running", "running forward"),
                   {"left_leg": ("the legs take running strides",), "right_leg": ("the legs take running strides",),
                    "root": ("moves forward quickly",)}),
    "dash": Content(("dashes", "dashes forward", "dashes off"), ("dashing", "dashing forward"),
                    {"left_leg": ("the legs sprint",), "right_leg": ("the legs sprint",),
                     "root": ("bursts forward at full speed",)}),
    "walk-back": Content(("walks backwards", "walks backward", "walks in reverse"),
                         ("walking backwards", "walking backward"), {**_GAIT, "root": ("moves backwards",)}),
    "walk-left": Content(("walks to the left", "walks leftward", "walks toward the left"),
                         ("walking to the left", "walking leftward"), {**_GAIT, "root": ("moves to the left",)}),
    "walk-right": Content(("walks to the right", "walks rightward", "walks toward the right"),
                          ("walking to the right", "walking rightward"), {**_GAIT, "root": ("moves to the right",)}),
    "walk-turn-left": Content(("walks and turns to the left", "walks while turning left", "turns left while walking"),
                              ("walking and turning to the left", "walking while turning left", "turning left while walking"),
                              {**_GAIT, "root": ("turns to the left",)}),
    "walk-turn-right": Content(("walks and turns to the right", "walks while turning right",
                                "turns right while walking"),
                               ("walking and turning to the right", "walking while turning right", "turning right while walking"),
                               {**_GAIT, "root": ("turns to the right",)}),
    "bow": Content(("bows", "bows forward", "takes a bow"), ("bowing", "taking a bow"),
                   {"spine": ("the upper body bends forward",), "head": ("the head lowers",)}),
    "bye": Content(("waves goodbye", "waves goodbye with the right hand", "waves a hand to say goodbye"),
                   ("waving goodbye", "waving goodbye with the right hand"),
                   {"right_arm": ("the right hand waves goodbye",)}),
    "byebye": Content(("waves goodbye with both hands", "waves both hands to say bye-bye",
                       "says bye-bye with both hands"),
                      ("waving goodbye with both hands", "waving both hands to say bye-bye"),
                      _both_arms("both hands wave goodbye")),
    "guide": Content(("shows the way", "shows the way with a hand gesture", "gestures to show the way"),
                     ("showing the way", "guiding the way with a hand gesture"),
                     {"right_arm": ("the right arm gestures to show the way",)}),
    "respond": Content(("responds with a gesture", "gives a response", "answers with a gesture"),
                       ("responding with a gesture", "giving a response")),
    "call": Content(("calls out", "calls a friend over", "makes a calling gesture"),
                    ("calling out", "calling a friend over")),
    "punch": Content(("punches", "throws punches", "punches forward"), ("punching", "throwing punches"),
                     _both_arms("the arms throw punches")),
    "kick": Content(("kicks", "kicks with a leg", "throws a kick"), ("kicking", "throwing a kick"),
                    {"left_leg": ("a leg kicks",), "right_leg": ("a leg kicks",)}),
    "slash": Content(("slashes", "makes slashing strokes", "slashes as if with a sword"),
                     ("slashing", "making slashing strokes"),
                     {**_both_arms("the arms swing in slashing strokes"), "spine": ("the upper body twists",)}),
    "dance-long": Content(("dances", "performs a long dance", "dances for a long while"),
                          ("dancing", "performing a long dance"),
                          {**_both_arms("the arms move with the dance"),
                           "left_leg": ("the legs take dance steps",), "right_leg": ("the legs take dance steps",)}),
    "dance-short": Content(("dances", "performs a short dance", "dances briefly"),
                           ("dancing", "performing a short dance"),
                           {**_both_arms("the arms move with the dance"),
                            "left_leg": ("the legs take dance steps",), "right_leg": ("the legs take dance steps",)}),
    "wave-both-hands": Content(("waves both hands", "waves with both hands", "waves both arms"),
                               ("waving both hands", "waving with both hands"), _both_arms("the hands wave")),
    "wave-left-hand": Content(("waves the left hand", "waves with the left hand", "waves the left arm"),
                              ("waving the left hand", "waving with the left hand"),
                              {"left_arm": ("the left hand waves",)}),
    "wave-right-hand": Content(("waves the right hand", "waves with the right hand", "waves the right arm"),
                               ("waving the right hand", "waving with the right hand"),
                               {"right_arm": ("the right hand waves",)}),
    "raise-up-both-hands": Content(("raises both hands", "raises both hands up", "lifts both arms up"),
                                   ("raising both hands", "lifting both arms up"),
                                   _both_arms("both hands are raised up")),
    "raise-up-left-hand": Content(("raises the left hand", "raises the left hand up", "lifts the left arm up"),
                                  ("raising the left hand", "lifting the left arm up"),
                                  {"left_arm": ("the left hand is raised up",)}),
    "raise-up-right-hand": Content(("raises the right hand", "raises the right hand up", "lifts the right arm up"),
                                   ("raising the right hand", "lifting the right arm up"),
                                   {"right_arm": ("the right hand is raised up",)}),
}

_MASCULINE = Style(("in a masculine way", "in a manly way", "with a masculine bearing"), (), ("masculine", "manly"))
_OLD = Style(("like an old person", "in an elderly way", "slowly, like an old person"), (), ("old", "elderly"))

STYLES: dict[str, Style] = {
    "normal": Style(),
    "happy": Style(("happily", "in a happy way", "cheerfully"), ("happily", "cheerfully"), ("happy", "cheerful")),
    "sad": Style(("sadly", "in a sad way", "gloomily"), ("sadly", "gloomily"), ("sad", "gloomy")),
    "angry": Style(("angrily", "in an angry way", "furiously"), ("angrily",), ("angry", "furious")),
    "proud": Style(("proudly", "with pride", "in a proud way"), ("proudly",), ("proud",)),
    "not-confident": Style(("without confidence", "in an unsure way", "hesitantly"), ("hesitantly", "unsurely"),
                           ("unsure", "hesitant", "timid")),
    "masculinity": _MASCULINE,
    "masculine": _MASCULINE,
    "feminine": Style(("in a feminine way", "in a graceful, feminine way", "with a feminine manner"), (),
                      ("feminine",)),
    "childish": Style(("like a child", "in a childish way", "childishly"), ("childishly",), ("childish",)),
    "youthful": Style(("in a youthful way", "with youthful energy", "youthfully"), ("youthfully",),
                      ("youthful", "young")),
    "old": _OLD,
    "elderly": _OLD,
    "tired": Style(("in a tired way", "tiredly", "wearily"), ("tiredly", "wearily"), ("tired", "weary")),
    "exhausted": Style(("in an exhausted way", "as if exhausted", "wearily"), ("wearily",),
                       ("exhausted", "worn-out")),
    "active": Style(("actively", "energetically", "in an active way"), ("energetically", "actively"),
                    ("energetic", "active", "lively")),
    "musical": Style(("like in a musical", "as if performing in a musical", "theatrically, like in a musical"),
                     ("theatrically",), ("theatrical",)),
    "giant": Style(("heavily, like a giant", "like a giant", "with heavy, giant-like movements"), ("heavily",), ()),
    "chimpira": Style(("with a thug-like swagger", "like a street thug", "in a thuggish way"), ("thuggishly",),
                      ("thuggish", "thug-like")),
}


# ----------------------------------------------------------------------- labels
def bandai_labels(bvh_path: str | Path) -> dict[str, Any]:
    """Labels of one Bandai clip: ``{"dataset", "content", "style", "take"}``.

    Reads ``<stem>.json`` beside the BVH (0-based indices into the dataset's
    label lists); without it, parses ``dataset-N_{content}_{style}_{take}``
    from the file name. ``take`` is an int, or None when the name has none.
    Raises :class:`MotionError` naming the file for unknown datasets, broken
    JSON or out-of-range indices."""
    path = Path(bvh_path)
    m = FILE_NAME.match(path.stem)
    names = label_names()
    if m:
        dataset: str | None = m.group(1).lower()
    else:  # a renamed file keeps its dataset through its folder (".../dataset-2/x.bvh")
        dataset = path.parent.name.lower() if path.parent.name.lower() in names else None
    take = int(m.group(4)) if m else None
    js = path.with_suffix(".json")
    if js.is_file():
        if dataset is None:
            raise MotionError("cannot tell which Bandai dataset this clip belongs to (name it dataset-N_...)", str(js))
        if dataset not in names:
            raise MotionError(f"unknown Bandai dataset {dataset!r} (known: {sorted(names)})", str(js))
        try:
            data = json.loads(js.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise MotionError(f"label file is not valid JSON ({e})", str(js)) from None
        out = {"dataset": dataset, "take": take}
        for kind in ("content", "style"):
            idx = data.get(kind) if isinstance(data, dict) else None
            if isinstance(idx, bool) or not isinstance(idx, int):
                raise MotionError(f"label file needs an integer {kind!r} index, got {idx!r}", str(js))
            table = names[dataset][kind]
            if not 0 <= idx < len(table):
                raise MotionError(f"{kind} index {idx} is out of range for {dataset} (0..{len(table) - 1})", str(js))
            out[kind] = table[idx]
        return {k: out[k] for k in ("dataset", "content", "style", "take")}
    if m is None:
        raise MotionError("no label JSON beside the clip and the name is not dataset-N_{content}_{style}_{take}",
                          str(path))
    content, style = m.group(2).lower(), m.group(3).lower()
    if dataset not in names:
        raise MotionError(f"unknown Bandai dataset {dataset!r} (known: {sorted(names)})", str(path))
    for kind, value in (("content", content), ("style", style)):
        if value not in names[dataset][kind]:
            raise MotionError(f"unknown {kind} label {value!r} for {dataset}", str(path))
    return {"dataset": dataset, "content": content, "style": style, "take": take}


# ------------------------------------------------------------------------ texts
def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _fits(verb: str, manner: str) -> bool:
    """Avoid "waves with the right hand with pride": one "with" per caption."""
    return not (" with " in f" {verb} " and manner.startswith("with "))


def _candidates(content: Content, style: Style) -> list[list[str]]:
    """All captions, grouped by sentence pattern (one list per pattern)."""
    groups: list[list[str]] = []
    if not (style.manners or style.adverbs or style.adjectives):
        groups.append([f"{s} {v}" for s in SUBJECTS for v in content.verbs])
        groups.append([f"{s} is {g}" for s in SUBJECTS for g in content.ings])
        return groups
    groups.append([f"{s} {v} {m}" for s in SUBJECTS for v in content.verbs for m in style.manners if _fits(v, m)])
    if style.adverbs:
        groups.append([f"{s} {a} {v}" for s in SUBJECTS for a in style.adverbs for v in content.verbs])
    if style.adjectives:
        groups.append([f"{_article(a)} {a} person {v}" for a in style.adjectives for v in content.verbs])
    groups.append([f"{s} is {g} {m}" for s in SUBJECTS for g in content.ings for m in style.manners if _fits(g, m)])
    return groups


def _seed_for(labels: dict[str, Any]) -> int:
    key = f"{labels.get('dataset')}_{labels.get('content')}_{labels.get('style')}_{labels.get('take')}"
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)


def bandai_texts(labels: dict[str, Any], n_captions: int = 4, seed: int | None = None) -> dict[str, Any]:
    """Captions and body-part texts for Bandai ``labels`` (see :func:`bandai_labels`).

    Returns ``{"captions": [n distinct captions], "body_parts": {part: [...]}}``.
    The same labels and seed give the same texts; ``seed=None`` derives the seed
    from the clip id (dataset, content, style, take). Sentence patterns are
    used in turn so the captions differ in form, not only in wording."""
    if n_captions < 1:
        raise ValueError(f"n_captions must be >= 1, got {n_captions}")
    content_name = str(labels.get("content", "")).lower()
    style_name = str(labels.get("style", "")).lower()
    if content_name not in CONTENTS:
        raise MotionError(f"no caption phrases for Bandai content {content_name!r}", labels.get("source"))
    if style_name not in STYLES:
        raise MotionError(f"no caption phrases for Bandai style {style_name!r}", labels.get("source"))
    content, style = CONTENTS[content_name], STYLES[style_name]
    rng = np.random.default_rng(_seed_for(labels) if seed is None else seed)
    groups = [list(rng.permutation(g)) for g in _candidates(content, style)]
    order = list(rng.permutation(len(groups)))
    captions: list[str] = []
    while len(captions) < n_captions and any(groups):
        for gi in order:
            if groups[gi] and len(captions) < n_captions:
                c = str(groups[gi].pop())
                if c not in captions:
                    captions.append(c)
    body_parts = {p: list(content.parts[p]) for p in BODY_PARTS if p in content.parts}
    return {"captions": captions, "body_parts": body_parts}
