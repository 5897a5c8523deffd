"""The clip store: a folder of immutable tar shards (:mod:`.shard`) behind one small API.

Layout::

    STORE/motionlib-store.json     {"format": "motionlib.clip_store", "version": 1, "layout": "tar-shards"}
    STORE/shards/NAME.tar          clips as .npy/.json members (WebDataset layout)
    STORE/shards/NAME.idx.json     the shard's index (byte ranges, CRC-32s); its presence commits the shard

Writers only ever create new shards under unique names (temporary files, then a link or rename), and
nothing is ever rewritten in place, so writers in several processes need no lock. A reader sees the
shards committed when it opened the store or last called :meth:`ClipStore.refresh`.

A clip id found in several shards is read from the newest one (the shard committed last: its index's
commit time, then its name); :meth:`ClipStore.duplicates` lists such ids and :meth:`ClipStore.compact`
writes a store without them.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..atomic import write_text_atomic
from ..clip import Motion
from ..errors import MotionError
from .records import check_clip_id, motion_from_record, motion_to_record
from .shard import ClipEntry, ShardIndex, ShardWriter, iter_index_files, read_clip, read_index

STORE_FORMAT = "motionlib.clip_store"
STORE_VERSION = 1
MARKER = "motionlib-store.json"
SHARDS = "shards"


def is_store(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a clip store folder (has the store's marker file)."""
    return (Path(path) / MARKER).is_file()


class StoreWriter:
    """Writes clips into one or more new shards of a store (``max_clips`` each); a context manager.

    Leaving the ``with`` block commits the shard in progress; an exception drops it (shards already
    committed stay). Shard names: ``SHARD_NAME-00000``, ``-00001``, ... when ``shard_name`` is given
    (the name must be new to the store), else unique names made of the time, host, process and a
    random part."""

    def __init__(self, store: "ClipStore", shard_name: str | None = None, max_clips: int = 256):
        if max_clips < 1:
            raise ValueError(f"max_clips must be >= 1, got {max_clips}")
        if shard_name is not None:
            check_clip_id(shard_name)
        self.store, self.max_clips = store, max_clips
        self.prefix = shard_name or (f"{time.strftime('%Y%m%dT%H%M%S')}-{socket.gethostname()}-{os.getpid()}-"
                                     f"{uuid.uuid4().hex[:8]}")
        self.shards: list[str] = []  # committed by this writer
        self.ids: set[str] = set()
        self._cur: ShardWriter | None = None
        self._closed = False

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def add(self, clip_id: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Add a generic record: named numeric arrays and a JSON-serialisable dict."""
        if self._closed:
            raise ValueError("this store writer is closed")
        check_clip_id(clip_id)
        if clip_id in self.ids:
            raise ValueError(f"clip id {clip_id!r} was already written by this writer")
        if self._cur is None:
            self._cur = ShardWriter(self.store.shards_dir, f"{self.prefix}-{len(self.shards):05d}")
        self._cur.add(clip_id, arrays, meta)
        self.ids.add(clip_id)
        if len(self._cur) >= self.max_clips:
            self._commit()

    def add_motion(self, clip_id: str, motion: Motion) -> None:
        """Add a Motion clip (lossless: :func:`.records.motion_to_record`)."""
        arrays, meta = motion_to_record(motion)
        self.add(clip_id, arrays, meta)

    def _commit(self) -> None:
        cur, self._cur = self._cur, None
        if cur is not None:
            self.store._adopt(cur.commit())
            self.shards.append(cur.name)

    def close(self) -> list[str]:
        """Commit the shard in progress; the names of the shards this writer committed (the store it came
        from sees them at once; shards of other writers appear with :meth:`ClipStore.refresh`)."""
        if not self._closed:
            self._closed = True
            self._commit()
        return self.shards

    def abort(self) -> None:
        self._closed = True
        if self._cur is not None:
            self._cur.abort()
            self._cur = None


class ClipStore:
    """A clip store folder (see the module docstring). Create with :meth:`create`, open with :meth:`open`."""

    def __init__(self, path: Path, skip_bad: bool = False):
        self.path = Path(path)
        self.shards_dir = self.path / SHARDS
        self.skip_bad = skip_bad
        self.skipped: dict[str, str] = {}  # shard -> problem, for shards left out with skip_bad
        self._shards: dict[str, ShardIndex] = {}
        self._where: dict[str, tuple[str, ClipEntry]] = {}  # id -> (shard, entry) of its newest copy
        self._copies: dict[str, list[str]] = {}  # id -> shards holding it, oldest first (only when > 1)

    # ---------------------------------------------------------------- open / create
    @classmethod
    def create(cls, path: str | os.PathLike) -> "ClipStore":
        """A new empty store at ``path`` (a folder, made when missing); an error when ``path`` exists and is
        not an empty folder."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise MotionError("cannot create a clip store here: the path exists and is not an empty folder",
                              str(path))
        (path / SHARDS).mkdir(parents=True, exist_ok=True)
        write_text_atomic(path / MARKER, json.dumps({"format": STORE_FORMAT, "version": STORE_VERSION,
                                                     "layout": "tar-shards"}) + "\n")
        return cls(path)

    @classmethod
    def open(cls, path: str | os.PathLike, skip_bad: bool = False) -> "ClipStore":
        """An existing store. ``skip_bad``: leave out shards whose index is unreadable or whose tar is
        missing or truncated, with a warning (listed in :attr:`skipped`), instead of raising."""
        path = Path(path)
        marker = path / MARKER
        if not marker.is_file():
            why = "no such folder" if not path.exists() else f"no {MARKER} in it"
            raise MotionError(f"not a motionlib clip store ({why})", str(path))
        try:
            d = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise MotionError(f"not a motionlib clip store ({MARKER} is unreadable: {e})", str(path)) from None
        if not isinstance(d, dict) or d.get("format") != STORE_FORMAT:
            raise MotionError(f"not a motionlib clip store ({MARKER} names format {d.get('format')!r})"
                              if isinstance(d, dict) else f"not a motionlib clip store ({MARKER})", str(path))
        if d.get("version") != STORE_VERSION:
            raise MotionError(f"unsupported clip store version {d.get('version')} (this motionlib reads "
                              f"{STORE_VERSION})", str(path))
        store = cls(path, skip_bad)
        store.refresh()
        return store

    def refresh(self) -> "ClipStore":
        """Pick up shards committed since the store was opened (by this or other processes)."""
        new = False
        for ipath in iter_index_files(self.shards_dir):
            name = ipath.name[:-len(".idx.json")]
            if name in self._shards or name in self.skipped:
                continue
            try:
                self._shards[name] = read_index(ipath)
            except MotionError as e:
                if not self.skip_bad:
                    raise
                self.skipped[name] = str(e)
                warnings.warn(f"clip store: skipping a bad shard: {e}", stacklevel=2)
                continue
            new = True
        if new:
            self._rebuild()
        return self

    def _adopt(self, index: ShardIndex) -> None:
        """Add a shard this process just committed (without reading the folder again)."""
        self._shards[index.name] = index
        key = (index.created_ns, index.name)
        for e in index.clips:
            held = self._where.get(e.id)
            if held is None:
                self._where[e.id] = (index.name, e)
                continue
            copies = self._copies.setdefault(e.id, [held[0]])
            copies.append(index.name)
            copies.sort(key=lambda n: (self._shards[n].created_ns, n))
            if copies[-1] == index.name:
                self._where[e.id] = (index.name, e)

    def _order(self) -> list[str]:
        """Shard names oldest first (commit time, then name)."""
        return sorted(self._shards, key=lambda n: (self._shards[n].created_ns, n))

    def _rebuild(self) -> None:
        where: dict[str, tuple[str, ClipEntry]] = {}
        copies: dict[str, list[str]] = {}
        for name in self._order():
            for e in self._shards[name].clips:
                if e.id in where:
                    copies.setdefault(e.id, [where[e.id][0]]).append(name)
                where[e.id] = (name, e)
        self._where, self._copies = where, copies

    # ---------------------------------------------------------------- queries
    def ids(self) -> list[str]:
        """Every clip id, once, sorted."""
        return sorted(self._where)

    def __contains__(self, clip_id: object) -> bool:
        return clip_id in self._where

    def __len__(self) -> int:
        return len(self._where)

    def __repr__(self) -> str:
        return f"ClipStore({str(self.path)!r}, {len(self)} clips, {len(self._shards)} shards)"

    def shards(self) -> list[str]:
        """Committed shard names, oldest first."""
        return self._order()

    def shard_path(self, shard: str) -> Path:
        return self.shards_dir / f"{shard}.tar"

    def shard_ids(self, shard: str) -> list[str]:
        """The ids stored in ``shard`` (in tar order), whether or not a newer shard shadows them."""
        return [e.id for e in self._index(shard).clips]

    def remove_temporaries(self) -> int:
        """Delete the temporary files (``.NAME.tmp``) of writers that were killed before their commit; call
        it only while no writer of this store is running. Returns how many were deleted."""
        n = 0
        for p in self.shards_dir.glob(".*.tmp"):
            p.unlink(missing_ok=True)
            n += 1
        return n

    def duplicates(self) -> dict[str, list[str]]:
        """Ids stored in more than one shard -> those shards, oldest first (the last one is read)."""
        return {k: list(v) for k, v in sorted(self._copies.items())}

    def nbytes(self) -> int:
        """Bytes on disk of the committed shards (tars and indexes)."""
        total = 0
        for name in self._shards:
            for p in (self.shard_path(name), self.shards_dir / f"{name}.idx.json"):
                try:
                    total += p.stat().st_size
                except FileNotFoundError:
                    pass
        return total

    def _index(self, shard: str) -> ShardIndex:
        try:
            return self._shards[shard]
        except KeyError:
            raise MotionError(f"no shard named {shard!r} in this store", str(self.path)) from None

    # ---------------------------------------------------------------- reading
    def read(self, clip_id: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """(arrays, meta) of a clip (its newest copy); ``KeyError`` for an unknown id."""
        try:
            shard, entry = self._where[clip_id]
        except KeyError:
            raise KeyError(f"no clip {clip_id!r} in the clip store {self.path}") from None
        return read_clip(self.shard_path(shard), entry)

    def read_motion(self, clip_id: str) -> Motion:
        """The Motion clip ``clip_id`` (written with ``add_motion``)."""
        arrays, meta = self.read(clip_id)
        return motion_from_record(arrays, meta, f"{self.path}/{clip_id}")

    def iter_records(self, shuffle: bool = False, seed: int = 0, shards: list[str] | None = None
                     ) -> Iterator[tuple[str, dict[str, np.ndarray], dict[str, Any]]]:
        """Stream ``(clip_id, arrays, meta)`` shard by shard, each shard read front to back (one open file),
        every id once (its newest copy). ``shuffle``: the shards in a random order and the clips of each
        shard in a random order, from ``seed`` (a training epoch's order). ``shards``: only these shards
        (e.g. one worker's share of :meth:`shards`); an id whose newest copy is elsewhere is skipped."""
        names = self._order() if shards is None else [self._index(s).name for s in shards]
        rng = random.Random(seed)
        if shuffle:
            rng.shuffle(names)
        for name in names:
            entries = [e for e in self._index(name).clips if self._where.get(e.id, (None,))[0] == name]
            if shuffle:
                rng.shuffle(entries)
            else:
                entries.sort(key=lambda e: e.start)
            if not entries:
                continue
            with open(self.shard_path(name), "rb") as f:
                for e in entries:
                    arrays, meta = read_clip(self.shard_path(name), e, fh=f)
                    yield e.id, arrays, meta

    def iter_motions(self, shuffle: bool = False, seed: int = 0, shards: list[str] | None = None
                     ) -> Iterator[tuple[str, Motion]]:
        """:meth:`iter_records` as ``(clip_id, Motion)``."""
        for cid, arrays, meta in self.iter_records(shuffle, seed, shards):
            yield cid, motion_from_record(arrays, meta, f"{self.path}/{cid}")

    # ---------------------------------------------------------------- writing
    def writer(self, shard_name: str | None = None, max_clips: int = 256) -> StoreWriter:
        """A writer of new shards (see :class:`StoreWriter`); use it as a context manager."""
        return StoreWriter(self, shard_name, max_clips)

    def compact(self, out: str | os.PathLike, max_clips: int = 256) -> "ClipStore":
        """A new store at ``out`` with every clip once (its newest copy), in id order."""
        dst = ClipStore.create(out)
        with dst.writer(max_clips=max_clips) as w:
            for cid in self.ids():
                arrays, meta = self.read(cid)
                w.add(cid, arrays, meta)
        return dst

    def info(self) -> dict[str, Any]:
        """Figures of the store: clips, shards, bytes, duplicate ids, skipped shards."""
        dups = self.duplicates()
        return {"store": str(self.path), "clips": len(self), "shards": len(self._shards),
                "records": sum(len(s.clips) for s in self._shards.values()), "bytes": self.nbytes(),
                "duplicates": len(dups), "duplicate_ids": dict(list(dups.items())[:20]),
                "skipped_shards": dict(self.skipped)}
