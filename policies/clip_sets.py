"""Clip sets a tracker is trained and evaluated on (``motionlib tracker-sets``, ``motionlib wham-like``).

:func:`write_tracker_sets` builds the sets of the default tracker from ingested Bandai clips
(``dataset-N_CONTENT_STYLE_TAKE``, parsed by :data:`motionlib.motion.ingest.captions.FILE_NAME`):

* training (dataset-2, curriculum order): the first ``takes`` takes of every content x style,
  ordered round-robin over contents so that the first N clips of the curriculum already cover
  every content;
* evaluation: dataset-1 (never trained on), every clip in the ``normal`` style.

:func:`write_corpus_sets` builds the corpus-scale sets instead: every dataset-2 clip, a hash split held
out for validation (checkpoint choice), each clip on every body it was ingested on (the mean body and
the subject's own fitted skeleton); dataset-1 stays out of both, for the final figures.

Both are folders of symlinks, ``OUT/train`` and ``OUT/eval``, each clip's name prefixed with its
rank so that a sorted listing is the curriculum order. Augmentations (``AUG=REGEX``,
:mod:`motionlib.motion.augment` names: reverse, mirror, speed:F, posture:SEED, chained with +)
add, after them, a copy of every training clip whose name matches REGEX under AUG, written as a
clip named ``RANK_NAME_AUG.npz``. Dataset-2 has walks and turns but no backward walk:
``reverse=_(walk|walk-turn-left|walk-turn-right)_`` adds them.

:func:`write_wham_like` makes training references like the ones ``refine`` tracks: ``refine``
never tracks a clean clip but the kinematic clean-up (:mod:`motionlib.motion.cleanup`) of a video
estimate. For every clip and copy it writes ``corrupt`` (seeded per clip name as ``motionlib
corrupt`` does, plus the copy index) followed by ``clean_for_tracking`` with refine's defaults, so
that a tracker can be fine-tuned on that distribution next to the clean clips
(``train-tracker --clips CLEAN_DIR THIS_DIR``). Seeds from 1000 keep these away from the selection
clips of the refine settings (seeds 100..139).

Both take ``guard``: a factory of context managers entered around the work on each clip that
reads one (``contextlib.nullcontext``, the default, lets an error through; a command passes
``Failures.one_input`` to report an unreadable clip and carry on).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ContextManager

from motionlib.motion.augment import augmented, check_augment
from motionlib.motion.errors import MotionError
from motionlib.motion.ingest.captions import FILE_NAME
from motionlib.motion.io import find_clips, load_motion, save_motion

Guard = Callable[[], ContextManager]


@dataclass(frozen=True)
class BandaiName:
    """The parts of an ingested Bandai clip's name ``dataset-N_CONTENT_STYLE_TAKE``."""

    dataset: str  # "dataset-1" or "dataset-2"
    content: str
    style: str
    take: int


def bandai_name(path: str | os.PathLike) -> BandaiName | None:
    """The Bandai name parts of ``path``'s stem, None when it is not such a name."""
    m = FILE_NAME.match(Path(path).stem)
    if m is None:
        return None
    return BandaiName(m.group(1).lower(), m.group(2).lower(), m.group(3).lower(), int(m.group(4)))


def parse_augments(specs: Iterable[str]) -> list[tuple[str, re.Pattern]]:
    """``AUG=REGEX`` strings as (augmentation, compiled pattern); ValueError naming the bad one."""
    out = []
    for spec in specs:
        aug, sep, pattern = spec.partition("=")
        if not sep or not pattern:
            raise ValueError(f"--augment {spec!r}: expected AUG=REGEX")
        try:
            check_augment(aug)
            out.append((aug, re.compile(pattern)))
        except (ValueError, re.error) as e:
            raise ValueError(f"--augment {spec!r}: {e}") from None
    return out


def tracker_split(files: Iterable[Path], takes: int = 1) -> tuple[list[Path], list[Path]]:
    """(training clips in curriculum order, evaluation clips) among ``files`` (see the module text);
    files whose names are not Bandai names are left out."""
    if takes < 1:
        raise ValueError(f"takes must be at least 1, got {takes}")
    train: dict[str, list[tuple[str, int, Path]]] = defaultdict(list)  # content -> [(style, take, path)]
    evals = []
    for p in sorted(map(Path, files)):
        k = bandai_name(p)
        if k is None:
            continue
        if k.dataset == "dataset-2" and k.take <= takes:
            train[k.content].append((k.style, k.take, p))
        elif k.dataset == "dataset-1" and k.style == "normal":
            evals.append(p)
    order = []
    queues = {c: sorted(v) for c, v in sorted(train.items())}
    while any(queues.values()):
        for c in list(queues):
            if queues[c]:
                order.append(queues[c].pop(0)[2])
    return order, evals


@dataclass
class TrackerSets:
    """What :func:`write_tracker_sets` wrote."""

    out: Path
    train: list[Path]  # the source clips, in curriculum order
    eval: list[Path]
    augmented: dict[str, int] = field(default_factory=dict)  # augmentation -> clips added


def _link_set(folder: Path, links: Iterable[tuple[str, Path]]) -> None:
    """``folder`` holding the symlinks ``name -> file`` of ``links`` (its earlier ``*.npz`` entries removed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.npz"):
        old.unlink()
    for name, f in links:
        os.symlink(f.resolve(), folder / name)


def _ranked(files: Sequence[Path]) -> list[tuple[str, Path]]:
    """Link names ``RANK_NAME``: a sorted listing is the order of ``files``."""
    return [(f"{i:04d}_{f.name}", f) for i, f in enumerate(files)]


def write_tracker_sets(clips: Sequence[str | os.PathLike], out: str | os.PathLike, takes: int = 1,
                       augments: Sequence[str] = (), guard: Guard = contextlib.nullcontext) -> TrackerSets:
    """Write ``out/train`` and ``out/eval`` from the clip files and folders ``clips`` (module text).
    The sets' earlier ``*.npz`` entries are replaced. ``augments``: ``AUG=REGEX`` strings."""
    augs = parse_augments(augments)  # refused before anything is written
    out = Path(out)
    order, evals = tracker_split(find_clips(clips, required=True), takes)
    _link_set(out / "train", _ranked(order))
    _link_set(out / "eval", _ranked(evals))
    res = TrackerSets(out, order, evals)
    rank = len(order)
    for aug, pattern in augs:
        tag, added = re.sub(r"[^A-Za-z0-9.-]+", "-", aug), 0
        for f in (f for f in order if pattern.search(f.stem)):
            with guard():
                try:
                    clip = augmented(load_motion(f), aug)
                except ValueError as e:  # a clip the augmentation cannot take: name it
                    raise e if isinstance(e, MotionError) else MotionError(f"{aug}: {e}", str(f)) from None
                save_motion(clip, out / "train" / f"{rank:04d}_{f.stem}_{tag}.npz")
                rank, added = rank + 1, added + 1
        res.augmented[aug] = added
    return res


def corpus_validation(name: str, every: int = 20) -> bool:
    """Whether the dataset-2 clip file ``name`` (``dataset-2_CONTENT_STYLE_TAKE.npz``) is in the corpus
    validation split: its SHA-1 is 0 modulo ``every``; take 1, which the default tracker trained on, never is."""
    k = bandai_name(name)
    if k is None or k.dataset != "dataset-2":
        raise ValueError(f"{name}: not an ingested dataset-2 clip name")
    return k.take != 1 and int(hashlib.sha1(Path(name).name.encode()).hexdigest(), 16) % every == 0


@dataclass
class CorpusSets:
    """What :func:`write_corpus_sets` wrote: the source clips of each split, per body."""

    out: Path
    train: dict[str, list[Path]]  # body -> clips
    val: dict[str, list[Path]]
    missing: list[str] = field(default_factory=list)  # clips of the first body that another body lacks


def write_corpus_sets(bodies: dict[str, str | os.PathLike], out: str | os.PathLike, every: int = 20) -> CorpusSets:
    """Corpus-scale sets: ``out/train`` every dataset-2 clip but the validation split
    (:func:`corpus_validation`), ``out/val`` that split; dataset-1 is in neither. ``bodies`` maps a body
    name to a folder of the same clips ingested on that body (e.g. ``{"mean": ..., "fit": ...}`` for
    ``motionlib ingest`` and ``motionlib ingest --body fitted``): each clip is in its set once per body, as a
    symlink named ``BODY_NAME``. A clip the first body has and another lacks is left out and listed."""
    if not bodies:
        raise ValueError("no clip folders given")
    if every < 2:
        raise ValueError(f"the validation split needs every >= 2, got {every}")
    out = Path(out)
    files = {b: {f.name: f for f in find_clips([d], required=True)} for b, d in bodies.items()}
    first = next(iter(files.values()))
    res = CorpusSets(out, {b: [] for b in bodies}, {b: [] for b in bodies})
    for name in sorted(first):
        k = bandai_name(name)
        if k is None or k.dataset != "dataset-2":
            continue
        if any(name not in f for f in files.values()):
            res.missing.append(name)
            continue
        split = res.val if corpus_validation(name, every) else res.train
        for b in bodies:
            split[b].append(files[b][name])
    for sub, split in (("train", res.train), ("val", res.val)):
        _link_set(out / sub, ((f"{b}_{f.name}", f) for b, clips in split.items() for f in clips))
    return res


def wham_like_name(path: Path, copy: int) -> str:
    """File name of copy ``copy`` of the clip ``path`` in a WHAM-like set."""
    return f"{path.stem}_wham{copy}.npz"


def write_wham_like(clips: Sequence[str | os.PathLike], out: str | os.PathLike, seed: int = 1000, copies: int = 1,
                    guard: Guard = contextlib.nullcontext, progress: bool = False) -> list[Path]:
    """Write ``copies`` corrupted-then-cleaned versions of every clip under ``clips`` to ``out``
    (module text); returns the files written."""
    from motionlib.motion.cleanup import CleanupConfig, clean_for_tracking
    from motionlib.motion.corrupt import clip_seed, corrupt

    if copies < 1:
        raise ValueError(f"copies must be at least 1, got {copies}")
    files = find_clips(clips, required=True)
    if progress and len(files) > 1:
        from tqdm import tqdm

        files = tqdm(files, desc="corrupt + clean-up", unit="clip")
    written = []
    for f in files:
        with guard():
            clip = load_motion(f)
            for k in range(copies):
                seed_k = clip_seed(seed, f.stem) + k  # as `motionlib corrupt`, one more per copy
                try:
                    wham = clean_for_tracking(corrupt(clip, seed=seed_k), CleanupConfig())
                except ValueError as e:
                    raise e if isinstance(e, MotionError) else MotionError(str(e), str(f)) from None
                written.append(save_motion(wham, Path(out) / wham_like_name(f, k)))
    return written
