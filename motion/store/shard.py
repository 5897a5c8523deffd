"""One shard of the clip store: a plain tar file of ``.npy`` / ``.json`` members and its JSON index.

A clip ``ID`` is the members ``ID.meta.json`` (its meta) and ``ID.NAME.npy`` (one per array), stored
one after the other (WebDataset's layout: ``tar tf`` lists them, any tar tool unpacks them). The
index ``NAME.idx.json`` beside ``NAME.tar`` holds, per clip, each member's byte offset in the tar,
its size and its CRC-32, so a clip is read with one seek and one read, and a corrupt or truncated
shard is reported by name instead of yielding wrong arrays.

A shard is written under hidden temporary names and committed in two steps: the tar is linked (or
renamed) to ``NAME.tar``, then the index to ``NAME.idx.json``. The index is the commit: a tar
without its index is an unfinished shard, which readers ignore. Committing never replaces an
existing shard (a name taken by another writer is an error).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import MotionError
from .records import check_array_name, check_clip_id, decode_array, decode_meta, encode_array, encode_meta

SHARD_FORMAT = "motionlib.clip_store.shard"
SHARD_VERSION = 1
TAR_SUFFIX = ".tar"
INDEX_SUFFIX = ".idx.json"
BLOCK = 512


@dataclass
class ClipEntry:
    """Where one clip's members are in its shard: name -> (offset, size, crc32); ``meta`` separately."""

    id: str
    meta: tuple[int, int, int]
    arrays: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def start(self) -> int:
        return min([self.meta[0]] + [a[0] for a in self.arrays.values()])

    @property
    def end(self) -> int:
        return max([self.meta[0] + self.meta[1]] + [a[0] + a[1] for a in self.arrays.values()])

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "meta": list(self.meta), "arrays": {k: list(v) for k, v in self.arrays.items()}}


@dataclass
class ShardIndex:
    """A committed shard: its name (without suffix), tar size, commit time and clips in tar order."""

    name: str
    tar_bytes: int
    created_ns: int
    clips: list[ClipEntry]

    def to_json(self) -> dict[str, Any]:
        return {"format": SHARD_FORMAT, "version": SHARD_VERSION, "shard": self.name + TAR_SUFFIX,
                "bytes": self.tar_bytes, "created_ns": self.created_ns, "clips": [c.to_json() for c in self.clips]}


def _triple(v: Any) -> tuple[int, int, int]:
    if not isinstance(v, list) or len(v) != 3:
        raise ValueError(f"bad member location {v!r}")
    off, size, crc = (int(x) for x in v)
    if off < 0 or size < 0:
        raise ValueError(f"bad member location {v!r}")
    return off, size, crc


def read_index(index_path: Path) -> ShardIndex:
    """Parse a shard index and check it against its tar (present, not shorter than recorded);
    :class:`MotionError` naming the shard otherwise."""
    tar = tar_of(index_path)
    src = str(tar)
    try:
        d = json.loads(index_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MotionError("shard index is missing", src) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MotionError(f"shard index {index_path.name} is unreadable ({e})", src) from None
    if not isinstance(d, dict) or d.get("format") != SHARD_FORMAT:
        raise MotionError(f"{index_path.name} is not a clip store shard index", src)
    if d.get("version") != SHARD_VERSION:
        raise MotionError(f"unsupported shard index version {d.get('version')} (this motionlib reads "
                          f"{SHARD_VERSION})", src)
    try:
        clips = [ClipEntry(str(c["id"]), _triple(c["meta"]), {str(k): _triple(v) for k, v in c["arrays"].items()})
                 for c in d["clips"]]
        idx = ShardIndex(index_path.name[:-len(INDEX_SUFFIX)], int(d["bytes"]), int(d["created_ns"]), clips)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise MotionError(f"shard index {index_path.name} is invalid ({e})", src) from None
    try:
        size = tar.stat().st_size
    except FileNotFoundError:
        raise MotionError("shard tar is missing (its index is present)", src) from None
    if size < idx.tar_bytes:
        raise MotionError(f"shard is truncated ({size} bytes, its index records {idx.tar_bytes})", src)
    return idx


def tar_of(index_path: Path) -> Path:
    return index_path.with_name(index_path.name[:-len(INDEX_SUFFIX)] + TAR_SUFFIX)


def read_clip(tar_path: Path, entry: ClipEntry, fh=None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """One clip's (arrays, meta) from its shard: one read of its byte range, CRCs checked. ``fh``: an
    open binary file of the shard (else it is opened here)."""
    src = f"{tar_path} (clip {entry.id})"
    start, end = entry.start, entry.end
    with (contextlib.nullcontext(fh) if fh is not None else open(tar_path, "rb")) as f:
        f.seek(start)
        blob = f.read(end - start)
    if len(blob) != end - start:
        raise MotionError("shard is truncated (clip data past the end of the file)", src)
    view = memoryview(blob)

    def member(loc: tuple[int, int, int], what: str) -> memoryview:
        off, size, crc = loc
        data = view[off - start:off - start + size]
        if zlib.crc32(data) != crc:
            raise MotionError(f"shard is corrupt (checksum mismatch in {what})", src)
        return data

    meta = decode_meta(bytes(member(entry.meta, "meta")), src)
    arrays = {k: decode_array(member(loc, f"array {k}"), src) for k, loc in entry.arrays.items()}
    return arrays, meta


class ShardWriter:
    """Appends clips to one new tar under a temporary name; :meth:`commit` makes it a shard."""

    def __init__(self, shards_dir: Path, name: str):
        self.dir, self.name = shards_dir, name
        self.final_tar = shards_dir / (name + TAR_SUFFIX)
        self.final_index = shards_dir / (name + INDEX_SUFFIX)
        if self.final_index.exists() or self.final_tar.exists():
            raise MotionError("a shard of this name exists already (shards are immutable)", str(self.final_tar))
        tag = f".{name}.{os.getpid()}.{time.monotonic_ns()}"
        self.tmp_tar = shards_dir / (tag + TAR_SUFFIX + ".tmp")
        self.tmp_index = shards_dir / (tag + INDEX_SUFFIX + ".tmp")
        self._f = open(self.tmp_tar, "xb")
        self._tar = tarfile.open(fileobj=self._f, mode="w", format=tarfile.PAX_FORMAT)
        self.clips: list[ClipEntry] = []
        self.ids: set[str] = set()
        self.nbytes = 0  # payload bytes added

    def __len__(self) -> int:
        return len(self.clips)

    def _member(self, name: str, data: bytes, mtime: float) -> tuple[int, int, int]:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), mtime, 0o644
        self._tar.addfile(info, io.BytesIO(data))
        end = self._f.tell()  # after the data, padded to whole blocks
        offset = end - (len(data) + BLOCK - 1) // BLOCK * BLOCK
        self.nbytes += len(data)
        return offset, len(data), zlib.crc32(data)

    def add(self, clip_id: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        check_clip_id(clip_id)
        if clip_id in self.ids:
            raise ValueError(f"clip id {clip_id!r} was already added to shard {self.name}")
        encoded = {check_array_name(k): encode_array(v) for k, v in arrays.items()}
        meta_bytes = encode_meta(meta)
        now = time.time()
        entry = ClipEntry(clip_id, self._member(f"{clip_id}.meta.json", meta_bytes, now))
        for k, data in encoded.items():
            entry.arrays[k] = self._member(f"{clip_id}.{k}.npy", data, now)
        self.clips.append(entry)
        self.ids.add(clip_id)

    def commit(self) -> ShardIndex:
        """Close the tar and commit it (tar, then index); never replaces an existing shard."""
        self._tar.close()
        self._f.flush()
        os.fsync(self._f.fileno())
        size = self._f.tell()
        self._f.close()
        idx = ShardIndex(self.name, size, time.time_ns(), self.clips)
        with open(self.tmp_index, "x", encoding="utf-8") as f:
            json.dump(idx.to_json(), f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        try:
            _publish(self.tmp_tar, self.final_tar)
            _publish(self.tmp_index, self.final_index)
        except BaseException:
            self.abort()
            raise
        return idx

    def abort(self) -> None:
        """Drop the unfinished shard (its temporary files)."""
        with contextlib.suppress(Exception):
            self._tar.close()
        with contextlib.suppress(Exception):
            self._f.close()
        for p in (self.tmp_tar, self.tmp_index):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def _publish(tmp: Path, final: Path) -> None:
    """Give ``tmp`` the name ``final`` unless ``final`` exists (a hard link fails on an existing name, a
    rename would replace it); file systems without hard links fall back to a checked rename."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise MotionError("a shard of this name was committed by another writer", str(final)) from None
    except OSError:
        if final.exists():
            raise MotionError("a shard of this name was committed by another writer", str(final)) from None
        os.replace(tmp, final)
        return
    tmp.unlink()


def iter_index_files(shards_dir: Path) -> Iterator[Path]:
    """The committed shards' index files (hidden temporary files are not)."""
    if not shards_dir.is_dir():
        return
    for p in sorted(shards_dir.iterdir()):
        if p.name.endswith(INDEX_SUFFIX) and not p.name.startswith("."):
            yield p
