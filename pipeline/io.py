"""Where a run's clips come from (sources) and where each stage's outputs go (sinks).

A *unit* is one clip of the run (one source file or one clip of a clip store), named by its id (the file's
stem, the store's clip id), which every stage's outputs and the manifest use. Sources: files, folders and clip
stores (``folder_units``); a stored clip's reference is ``store:STORE/ID`` (ids never hold a ``/``), read by
:func:`load_input_clip`. A sink is one stage's output folder, ``DIR/<folder>/``, with one record per unit,
``DIR/.records/<stage>/<id>.json``, written by the task after the unit's outputs (its presence says they are
complete, and which they are); ``--store`` adds a clip store per stage (:mod:`.store_sink`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionlib.motion.atomic import write_text_atomic
from motionlib.motion.clip import Motion
from motionlib.motion.errors import MotionError
from motionlib.motion.ingest.dataset import collect_sources
from motionlib.motion.io import find_clips, load_motion
from motionlib.motion.store import ClipStore, is_store

# each stage's output folder under DIR
STAGE_FOLDERS = {"ingest": "clips", "refine": "refined", "features": "features", "tokenize": "tokens"}
RECORDS = ".records"
STORE_REF = "store:"  # a stored clip as a unit's source: store:STORE/ID


@dataclass
class Unit:
    """One clip of a run: its id and the file it comes from (as found under the sources given)."""

    id: str
    source: str


@dataclass
class UnitProblems:
    """Sources that give no unit (a missing path, an archive, an id given twice), with their errors."""

    errors: list[tuple[str, str]] = field(default_factory=list)  # (source, error naming it)


def folder_units(sources: list[str | os.PathLike], raw: bool) -> tuple[list[Unit], UnitProblems]:
    """The units of files and folders (folders searched recursively, in sorted order). ``raw``: the run starts
    with ingest, so any file ``motionlib ingest`` reads is a unit (BVH, AMASS, WHAM, motionlib clip); else
    only motionlib clips are. Tar archives are not read by the pipeline: they are listed as problems, to be
    unpacked (or ingested with ``motionlib ingest``) first."""
    problems = UnitProblems()
    files: list[str] = []
    stores = [s for s in sources if is_store(s)]
    if stores and not raw:
        problems.errors += [(str(s), f"{s}: a clip store is read by the ingest stage (add it to --stages)")
                            for s in stores]
    elif stores:
        for s in stores:
            try:
                files += [f"{STORE_REF}{s}/{cid}" for cid in ClipStore.open(s).ids()]
            except MotionError as e:
                problems.errors.append((str(s), str(e)))
    sources = [s for s in sources if not is_store(s)]
    if raw:
        found, missing = collect_sources(sources)
        problems.errors += [(p.split(":")[0], p) for p in missing]
        for kind, path in found:
            if kind == "archive":
                problems.errors.append((path, f"{path}: an archive; unpack it first (the pipeline reads files)"))
            else:
                files.append(path)
    else:
        for s in sources:
            p = Path(s)
            if p.is_dir():
                files += [str(f) for f in find_clips([p])]
            elif p.is_file():
                files.append(str(p))
            else:
                problems.errors.append((str(p), f"{p}: no such clip file or folder"))
    units: list[Unit] = []
    seen: dict[str, str] = {}
    for f in files:
        uid = _unit_id(f)
        if uid in seen:
            problems.errors.append((f, f"{f}: clip id {uid!r} is also that of {seen[uid]} (ids are file stems)"))
            continue
        seen[uid] = f
        units.append(Unit(uid, f))
    return units, problems


def _unit_id(path: str) -> str:
    if path.startswith(STORE_REF):
        return path.rpartition("/")[2]
    name = Path(path).name
    return name[: -len(".tokens.npz")] if name.endswith(".tokens.npz") else Path(name).stem


def store_input(ref: str) -> tuple[str, str] | None:
    """(store folder, clip id) of a ``store:STORE/ID`` reference, None for a file."""
    if not ref.startswith(STORE_REF):
        return None
    store, _, cid = ref[len(STORE_REF):].rpartition("/")
    return store, cid


@functools.lru_cache(maxsize=8)
def _opened(store: str) -> ClipStore:
    return ClipStore.open(store)  # once per worker process: a run reads the clips its driver listed


def load_input_clip(ref: str) -> Motion:
    """The clip a unit's input names: a motionlib clip file or a stored clip."""
    where = store_input(ref)
    if where is None:
        return load_motion(ref)
    try:
        return _opened(where[0]).read_motion(where[1])
    except KeyError as e:
        raise MotionError(str(e).strip("'\""), ref) from None


def input_digest(ref: str) -> str:
    """SHA-256 of an input: the file's bytes, or a stored clip's arrays and metadata."""
    h = hashlib.sha256()
    where = store_input(ref)
    if where is None:
        with open(ref, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    try:
        arrays, meta = _opened(where[0]).read(where[1])
    except KeyError as e:
        raise MotionError(str(e).strip("'\""), ref) from None
    for k in sorted(arrays):
        h.update(k.encode() + str(arrays[k].dtype).encode() + str(arrays[k].shape).encode())
        h.update(np.ascontiguousarray(arrays[k]).tobytes())
    h.update(json.dumps(meta, sort_keys=True, default=_json_default).encode())
    return h.hexdigest()


class FolderSink:
    """One stage's outputs under ``out``: files in ``out/<folder>/`` and a record per unit."""

    def __init__(self, out: str | os.PathLike, stage: str):
        self.out = Path(out)
        self.stage = stage
        self.folder = self.out / STAGE_FOLDERS[stage]

    def path(self, name: str) -> Path:
        return self.folder / name

    def rel(self, name: str) -> str:
        """An output's path relative to the run folder (as the manifest lists it)."""
        return f"{STAGE_FOLDERS[self.stage]}/{name}"

    def record_path(self, uid: str) -> Path:
        return self.out / RECORDS / self.stage / f"{uid}.json"

    def read_record(self, uid: str) -> dict | None:
        """The unit's record, or None when there is none or it does not parse."""
        try:
            rec = json.loads(self.record_path(uid).read_text())
        except (OSError, ValueError):
            return None
        return rec if isinstance(rec, dict) and isinstance(rec.get("outputs"), list) else None

    def clear(self, uid: str) -> None:
        """Remove what an earlier attempt wrote for the unit: its record first (without it nothing counts as
        done), then the outputs it lists."""
        rec = self.read_record(uid)
        self.record_path(uid).unlink(missing_ok=True)
        for name in (rec or {}).get("outputs", []):
            if isinstance(name, str) and "/" not in name and name not in ("", ".", ".."):
                self.path(name).unlink(missing_ok=True)

    def write_record(self, uid: str, record: dict) -> None:
        """Written last, atomically: the unit's outputs are complete."""
        write_text_atomic(self.record_path(uid), json.dumps(record, default=_json_default))

    def remove_stale_temps(self) -> int:
        """Delete temporary files that killed writers left (``.NAME.XXXX.tmp``; call with no task in flight)."""
        n = 0
        for d in (self.folder, self.record_path("x").parent):
            if d.is_dir():
                for p in d.glob(".*.tmp"):
                    p.unlink(missing_ok=True)
                    n += 1
        return n

    def outputs(self) -> list[Path]:
        """Every output file in the stage's folder (hidden temporary files aside)."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"value of type {type(o).__name__} is not JSON-serialisable")
