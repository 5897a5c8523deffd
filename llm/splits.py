"""Train / validation / test splits of the language model's clips, written to a manifest (JSON).

The rule (the test split stays out of every training, the MotionBook tokenizer's included):

* **test** = the dataset-1 clips of the styles angry, feminine, masculinity, not-confident and sad: the 55
  clips the shipped tokenizer (``tokenizer/data/README.md``) never trained on, all of them, and nothing else.
  Three of these styles (angry, not-confident, sad) occur nowhere in training: they are the unseen styles.
  Feminine and masculine walks of dataset-2 are in training, so feminine and masculinity are unseen only in
  combination with dataset-1's contents (kick, dance, bow...).
* **val** = a fixed ``val_fraction`` of the other clips, drawn by a hash of the clip id (split by clip): for
  choosing checkpoints, never for reporting. The tokenizer did train on these.
* **train** = the rest: all of dataset-2 and the dataset-1 clips of the 10 other styles, less val.

Clips without Bandai labels (other datasets) are train or val by the same hash. A clip without captions is
left out (its reason is recorded).

A **data fraction** of the training split (:func:`with_train_fraction`, ``train-lm --data-fraction``, for
scaling studies) keeps the training clips that come first in the order of another hash of their ids (salted,
so it does not follow the val draw): the first ``round(F * N)`` of the N training clips. For one manifest the
subsets nest (10 % inside 30 % inside 100 %); val and test stay whole.

The clips are clip files (their token files beside them) or the Motion records of clip stores
(:mod:`motionlib.motion.store`, tokens packed in the record): an entry of a store has ``store`` set to the
store's folder and ``clip`` to its clip id.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from motionlib.motion.atomic import write_text_atomic
from motionlib.motion.errors import MotionError
from motionlib.motion.io import find_clips
from motionlib.motion.store import ClipStore, is_store
from motionlib.motion.store.records import is_motion_record
from motionlib.tokenizer.tokens import token_path

FORMAT = "motionlib.lm_manifest"
VERSION = 1
TEST_DATASET = "dataset-1"
TOKENIZER_HELD_OUT_STYLES = ("angry", "feminine", "masculinity", "not-confident", "sad")
RULE = ("test: the dataset-1 clips of the styles " + ", ".join(TOKENIZER_HELD_OUT_STYLES) + " (never seen by the "
        "shipped tokenizer), all of them and nothing else; val: a fixed fraction of the other clips by a hash of "
        "the clip id; train: the rest")


@dataclass
class ClipEntry:
    id: str
    clip: str  # path of the clip file
    split: str  # "train", "val" or "test"
    dataset: str = ""
    content: str = ""
    style: str = ""
    captions: list[str] = field(default_factory=list)
    body_parts: dict[str, list[str]] = field(default_factory=dict)
    frames: int = 0
    fps: float = 30.0
    store: str = ""  # a clip store's folder: ``clip`` is then the clip's id in it

    @property
    def tokens(self) -> Path:
        return token_path(self.clip)


@dataclass
class Manifest:
    clips: list[ClipEntry]
    val_fraction: float = 0.05
    skipped: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def split(self, name: str) -> list[ClipEntry]:
        return [c for c in self.clips if c.split == name]

    def counts(self) -> dict[str, int]:
        return {s: len(self.split(s)) for s in ("train", "val", "test")}

    def to_dict(self) -> dict:
        styles = {s: sorted({c.style for c in self.split(s)}) for s in ("train", "val", "test")}
        seen = set(styles["train"]) | set(styles["val"])
        return {"format": FORMAT, "version": VERSION, "rule": RULE, "val_fraction": self.val_fraction,
                "counts": self.counts(), "styles": styles,
                "unseen_test_styles": sorted(set(styles["test"]) - seen),
                "clips": [asdict(c) for c in self.clips], "skipped": self.skipped}


def split_of(clip_id: str, dataset: str, style: str, val_fraction: float) -> str:
    """The split of one clip under :data:`RULE`."""
    if dataset == TEST_DATASET and style in TOKENIZER_HELD_OUT_STYLES:
        return "test"
    h = int(hashlib.sha1(clip_id.encode()).hexdigest()[:8], 16) / 16**8
    return "val" if h < val_fraction else "train"


def fraction_rank(clip_id: str) -> str:
    """The order key of a clip in the data-fraction draw (independent of :func:`split_of`'s hash)."""
    return hashlib.sha1(("data-fraction/" + clip_id).encode()).hexdigest() + clip_id


def train_fraction_ids(manifest: Manifest, fraction: float) -> list[str]:
    """The ids of the training clips a ``fraction`` of the training split keeps (at least one), in manifest
    order: the first ``round(fraction * N)`` by :func:`fraction_rank`, so a smaller fraction's clips are
    among a larger one's."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"data fraction must be in (0, 1], got {fraction}")
    train = [c.id for c in manifest.split("train")]
    n = max(1, int(round(fraction * len(train)))) if train else 0
    keep = set(sorted(train, key=fraction_rank)[:n])
    return [i for i in train if i in keep]


def with_train_fraction(manifest: Manifest, fraction: float) -> Manifest:
    """``manifest`` with only :func:`train_fraction_ids` left of its training split (val and test whole)."""
    if fraction >= 1.0:
        return manifest
    keep = set(train_fraction_ids(manifest, fraction))
    clips = [c for c in manifest.clips if c.split != "train" or c.id in keep]
    return Manifest(clips, manifest.val_fraction, dict(manifest.skipped), manifest.path)


def _clip_meta(path: Path) -> tuple[dict, int, float]:
    """(meta, frames, fps) of a clip file without building the Motion."""
    with np.load(path, allow_pickle=False) as z:
        try:
            meta = json.loads(str(z["meta_json"])) if "meta_json" in z.files else {}
            frames, fps = int(z["trans"].shape[0]), float(z["fps"])
        except (KeyError, ValueError) as e:
            raise MotionError(f"not a readable clip ({e})", str(path)) from None
    return meta, frames, fps


def build_manifest(inputs, val_fraction: float = 0.05) -> Manifest:
    """Entries for every clip under ``inputs`` (folders, files or clip stores) with their split."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    stores = [Path(p) for p in inputs if is_store(p)]
    files = [p for p in inputs if not is_store(p)]
    # (id, clip, store, meta, frames, fps) of every clip
    found = [(f.stem, str(f), "", *_clip_meta(f)) for f in (find_clips(files, required=not stores) if files else [])]
    for sp in stores:
        for cid, arrays, rec in ClipStore.open(sp).iter_records():
            if is_motion_record(rec):
                found.append((cid, cid, str(sp), rec.get("meta") or {}, int(arrays["trans"].shape[0]),
                              float(rec["fps"])))
    entries, skipped = [], {}
    for cid, clip, store, meta, frames, fps in found:
        texts = meta.get("texts") or {}
        labels = meta.get("labels") or {}
        if not texts.get("captions"):
            skipped[f"{store}/{clip}" if store else clip] = "no captions"
            continue
        dataset, style = str(labels.get("dataset", "")), str(labels.get("style", ""))
        entries.append(ClipEntry(cid, clip, split_of(cid, dataset, style, val_fraction), dataset,
                                 str(labels.get("content", "")), style, list(texts["captions"]),
                                 {k: list(v) for k, v in (texts.get("body_parts") or {}).items()}, frames, fps,
                                 store))
    if not entries and not skipped:
        raise MotionError("no motionlib clips found", ", ".join(map(str, inputs)))
    return Manifest(entries, val_fraction, skipped)


def save_manifest(manifest: Manifest, path: str | os.PathLike) -> Path:
    path = Path(path)
    write_text_atomic(path, json.dumps(manifest.to_dict(), indent=1) + "\n")
    manifest.path = path
    return path


def load_manifest(path: str | os.PathLike) -> Manifest:
    src = str(path)
    try:
        d = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise MotionError("no such manifest", src) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MotionError(f"manifest is not valid JSON ({e})", src) from None
    if not isinstance(d, dict) or d.get("format") != FORMAT or d.get("version") != VERSION:
        raise MotionError(f"not a motionlib language-model manifest (format {FORMAT} version {VERSION})", src)
    try:
        clips = [ClipEntry(**c) for c in d["clips"]]
    except (KeyError, TypeError) as e:
        raise MotionError(f"manifest has an invalid clip entry ({e})", src) from None
    return Manifest(clips, float(d.get("val_fraction", 0.05)), dict(d.get("skipped") or {}), Path(path))


def manifest_for_run(manifest: str | os.PathLike | None, run: str | os.PathLike, clips,
                     val_fraction: float = 0.05) -> tuple[Manifest, Path]:
    """The split a training run uses, and where it is: ``manifest`` when given, else ``RUN/manifest.json``;
    a missing file is made from ``clips`` (:func:`build_manifest`) and saved there."""
    path = Path(manifest) if manifest else Path(run) / "manifest.json"
    if path.is_file():
        return load_manifest(path), path
    if not clips:
        raise MotionError("give the clips (folders or files), or --manifest", str(path))
    made = build_manifest(clips, val_fraction)
    save_manifest(made, path)
    return made, path
