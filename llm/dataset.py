"""Instruction examples drawn from the clips of one split of a manifest (:mod:`.splits`).

Each clip contributes its MotionBook grid (``<clip>.tokens.npz``, made by the tokenizer in use; for a clip of a
clip store, the tokens packed in its record, read in one streaming pass over the store) and its
texts (``meta["texts"]``: whole-body captions and body-part phrases; ``meta["labels"]``: content and style).
:meth:`InstructionData.sample` draws a task, a clip and a template and fills it:

========== ===================================================================================
t2m        caption -> the clip (a random window of at most ``max_steps`` steps)
m2t        the clip -> one of its captions
continue   the first 25-75 % of the clip -> the rest
inbetween  its first and last quarter -> the middle
part_t2m   a body-part phrase ("the right hand waves") -> the clip
part_m2t   the clip and a body part -> that part's phrase
style      the clip -> a clip of the same dataset and content in another style of the same split
length     caption and a whole number of seconds -> a window of the clip that long
========== ===================================================================================

Stage ``align`` uses the plain pairs ``T2M_PLAIN`` / ``M2T_PLAIN`` (motion and text both ways); stage
``instruct`` every task and template. Draws are reproducible from the generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionlib.motion.augment import check_augment
from motionlib.motion.errors import MotionError
from motionlib.motion.ingest.captions import CONTENTS, STYLES
from motionlib.motion.store import ClipStore
from motionlib.tokenizer.tokens import tokens_from_record

from .augment import is_mirrored, mirror_parts, mirror_text, variant_grids
from .motion_tokens import clip_grid
from .sequence import Example, fill
from .splits import ClipEntry, Manifest
from .templates import ALIGN_TASKS, M2T_PLAIN, T2M_PLAIN, TASKS, TEMPLATES, Template

PART_NAMES = {"root": "the whole body", "left_leg": "the left leg", "right_leg": "the right leg",
              "spine": "the torso", "head": "the head", "left_arm": "the left arm", "right_arm": "the right arm"}
CONTENT_NOUNS = {"walk": "walk", "run": "run", "dash": "dash", "walk-back": "backward walk",
                 "walk-left": "walk to the left", "walk-right": "walk to the right",
                 "walk-turn-left": "walk with a left turn", "walk-turn-right": "walk with a right turn",
                 "bow": "bow", "bye": "goodbye wave", "byebye": "two-handed goodbye", "guide": "guiding gesture",
                 "respond": "response gesture", "call": "calling gesture", "punch": "punch", "kick": "kick",
                 "slash": "slash", "dance-long": "dance", "dance-short": "dance", "wave-both-hands": "wave",
                 "wave-left-hand": "wave", "wave-right-hand": "wave", "raise-up-both-hands": "hand raise",
                 "raise-up-left-hand": "hand raise", "raise-up-right-hand": "hand raise"}


@dataclass(frozen=True)
class DataConfig:
    stage: str = "instruct"  # "align" or "instruct"
    max_steps: int = 60  # longest motion segment in token steps (60 steps = 8 s at 7.5 steps/s)
    steps_per_second: float = 7.5  # tokenizer fps / alpha
    tasks: tuple[str, ...] = TASKS  # stage instruct: the tasks drawn from (uniformly)
    # which clip an example is drawn from: "clip", every clip alike; "content", every (dataset, content) alike,
    # then a clip of it (a content that only a few clips show is drawn as often as a large one)
    balance: str = "clip"
    # augmentations (motion/augment.py names) whose tokens stand beside the plain ones: an example's motion is
    # the plain clip or one of these alike (not for the style task); texts follow a mirror (llm/augment.py)
    augments: tuple[str, ...] = ()

    def __post_init__(self):
        if self.balance not in ("clip", "content"):
            raise ValueError(f"balance must be 'clip' or 'content', got {self.balance!r}")
        if self.stage not in ("align", "instruct"):
            raise ValueError(f"stage must be 'align' or 'instruct', got {self.stage!r}")
        for a in self.augments:
            if not a:
                raise ValueError("an augmentation name is empty (the plain clip is always drawn from)")
            check_augment(a)
        unknown = set(self.tasks) - set(TASKS)
        if unknown:
            raise ValueError(f"unknown task(s) {sorted(unknown)}; known: {TASKS}")


def store_grids(entries: list[ClipEntry], tokenizer_id: str | None = None
                ) -> dict[tuple[str, str], np.ndarray | MotionError]:
    """(store, clip id) -> the token grid packed with the clip (or the error why there is none), for the
    store entries ``entries``: each store is streamed once (:meth:`ClipStore.iter_records`)."""
    wanted: dict[str, set[str]] = {}
    for e in entries:
        wanted.setdefault(e.store, set()).add(e.clip)
    out: dict[tuple[str, str], np.ndarray | MotionError] = {}
    for sp, ids in wanted.items():
        for cid, arrays, meta in ClipStore.open(sp).iter_records():
            if cid in ids:
                try:
                    out[(sp, cid)] = tokens_from_record(arrays, meta, f"{sp}/{cid}", tokenizer_id).indices
                except MotionError as err:
                    out[(sp, cid)] = err
        for cid in ids:
            out.setdefault((sp, cid), MotionError("clip is not in the clip store", f"{sp}/{cid}"))
    return out


def style_words(style: str) -> tuple[str, str]:
    """(adjective, manner) for a style label: ("tired", "in a tired way")."""
    st = STYLES.get(style)
    if st is None or not (st.adjectives or st.manners):
        return "normal", "in a normal way"
    adj = st.adjectives[0] if st.adjectives else st.manners[0]
    return adj, st.manners[0] if st.manners else f"in a {adj} way"


class InstructionData:
    """The clips of ``split`` with their grids, and a sampler of examples over them."""

    def __init__(self, manifest: Manifest, split: str, cfg: DataConfig, tokenizer_id: str | None = None):
        self.cfg = cfg
        self.entries: list[ClipEntry] = []
        self.grids: dict[str, np.ndarray] = {}
        self.variants: dict[str, list[tuple[str, np.ndarray]]] = {}  # clip id -> (augment, grid)
        self.mirrored = frozenset(a for a in cfg.augments if is_mirrored(a))  # those that swap left and right
        missing = []
        entries = manifest.split(split)
        stored = store_grids([e for e in entries if e.store], tokenizer_id)
        for e in entries:
            try:
                grid = stored[(e.store, e.clip)] if e.store else clip_grid(e.clip, tokenizer_id)
                if isinstance(grid, MotionError):
                    raise grid
            except MotionError as err:
                missing.append(str(err))
                continue
            if cfg.augments:
                if e.store:
                    raise MotionError("augmented tokens are read from token files beside clip files, not from a "
                                      "clip store", f"{e.store}/{e.clip}")
                self.variants[e.id] = variant_grids(e.clip, cfg.augments, tokenizer_id)
            self.grids[e.id] = grid
            self.entries.append(e)
        if not self.entries:
            first = f"; first: {missing[0]}" if missing else ""
            raise MotionError(f"no tokenized clip in the {split!r} split (run `motionlib tokenize` on the clips "
                              f"first){first}", str(manifest.path) if manifest.path else None)
        self.missing = missing
        self.by_content: dict[tuple[str, str], list[ClipEntry]] = {}
        for e in self.entries:
            self.by_content.setdefault((e.dataset, e.content), []).append(e)
        self.contents = sorted(self.by_content)

    def __len__(self) -> int:
        return len(self.entries)

    def _window(self, grid: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        n = min(n, len(grid))
        start = int(rng.integers(0, len(grid) - n + 1))
        return grid[start:start + n]

    def _pick(self, task: str, rng: np.random.Generator) -> Template:
        if self.cfg.stage == "align":
            return T2M_PLAIN if task == "t2m" else M2T_PLAIN
        ts = TEMPLATES[task]
        return ts[int(rng.integers(len(ts)))]

    def _variant(self, task: str, e: ClipEntry, rng: np.random.Generator) -> tuple[str, np.ndarray]:
        """(augment, grid) the example's motion comes from: the plain clip or one of its augmentations alike
        (the style task pairs two plain clips). Draws nothing from ``rng`` when there are no augmentations."""
        variants = self.variants.get(e.id)
        if not variants or task == "style":
            return "", self.grids[e.id]
        k = int(rng.integers(len(variants) + 1))
        return ("", self.grids[e.id]) if k == 0 else variants[k - 1]

    def make(self, task: str, e: ClipEntry, rng: np.random.Generator) -> Example | None:
        """One example of ``task`` from clip ``e``, or None when the clip does not lend itself to it."""
        augment, g = self._variant(task, e, rng)
        ms = self.cfg.max_steps
        mirrored = augment in self.mirrored
        cap = e.captions[int(rng.integers(len(e.captions)))]
        if mirrored:
            cap = mirror_text(cap)
        v: dict[str, object] = {"caption": cap}
        info = {"caption": cap}
        if augment:
            info["augment"] = augment
        if task in ("t2m", "m2t"):
            v["motion"] = self._window(g, ms, rng)
        elif task == "continue":
            if len(g) < 4:
                return None
            w = self._window(g, min(len(g), 2 * ms), rng)
            k = int(rng.integers(len(w) // 4, 3 * len(w) // 4 + 1))
            v["motion"], answer = w[:k], w[k:k + ms]
        elif task == "inbetween":
            if len(g) < 6:
                return None
            w = self._window(g, ms, rng)
            q = max(1, len(w) // 4)
            v["motion"], v["motion_end"], answer = w[:q], w[-q:], w[q:-q]
        elif task in ("part_t2m", "part_m2t"):
            body_parts = mirror_parts(e.body_parts) if mirrored else e.body_parts
            parts = sorted(body_parts)
            if not parts:
                return None
            part = parts[int(rng.integers(len(parts)))]
            phrases = body_parts[part]
            v["part"], v["part_text"] = PART_NAMES.get(part, part.replace("_", " ")), phrases[
                int(rng.integers(len(phrases)))]
            v["motion"] = self._window(g, ms, rng)
        elif task == "style":
            others = [o for o in self.by_content.get((e.dataset, e.content), []) if o.style != e.style]
            if not others or e.content not in CONTENT_NOUNS:
                return None
            o = others[int(rng.integers(len(others)))]
            v["noun"] = CONTENT_NOUNS[e.content]
            v["style"], v["manner"] = style_words(o.style)
            v["motion"], answer = self._window(g, ms, rng), self._window(self.grids[o.id], ms, rng)
            info["target_clip"] = o.id
        elif task == "length":
            sps = self.cfg.steps_per_second
            top = int(min(len(g), ms) // sps)
            if top < 1:
                return None
            sec = int(rng.integers(1, top + 1))
            v["seconds"] = sec
            v["motion"] = self._window(g, int(round(sec * sps)), rng)
            info["seconds"] = sec
        else:
            raise ValueError(f"unknown task {task!r}")
        t = self._pick(task, rng)
        answer_value = {"{motion}": answer if task in ("continue", "inbetween", "style") else v["motion"],
                        "{caption}": cap, "{part_text}": v.get("part_text")}[t.answer]
        prompt = fill(t.prompt, v)
        return Example(task, prompt, [answer_value], e.id, {**info, "template": t.prompt})

    def _clip(self, rng: np.random.Generator) -> ClipEntry:
        if self.cfg.balance == "content":
            clips = self.by_content[self.contents[int(rng.integers(len(self.contents)))]]
            return clips[int(rng.integers(len(clips)))]
        return self.entries[int(rng.integers(len(self.entries)))]

    def sample(self, rng: np.random.Generator, tries: int = 20) -> Example:
        tasks = ALIGN_TASKS if self.cfg.stage == "align" else self.cfg.tasks
        for _ in range(tries):
            task = tasks[int(rng.integers(len(tasks)))]
            ex = self.make(task, self._clip(rng), rng)
            if ex is not None:
                return ex
        raise MotionError(f"no example could be drawn for tasks {tasks} from {len(self.entries)} clip(s)")
