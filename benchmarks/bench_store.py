"""Clip store formats compared: per-clip ``.npz`` folder, tar shards (the package's store), Parquet, zarr.

    python benchmarks/bench_store.py [CLIP_DIR] [--work DIR] [--json out.json] [--limit N]

(default: the ingested dataset-1 clips ``out/d1_v2/clips``, scratch under ``out/bench_store``; without
those clips it says so and does nothing, so ``make bench`` passes on a fresh checkout).

Each format gets the same records (the clips' lossless records, :func:`motion_to_record`, loaded into
memory first) and is timed on: writing every clip (clips/s, MB/s of array payload), reading every clip in
order, reading ``--random`` random ids one at a time (median / p95 latency), a training epoch's stream
(shards in a shuffled order, clips of a shard shuffled; the folder: files in a shuffled order), and the
bytes on disk (and files). Reads decode the arrays and the meta JSON and check one array's shape.
Reads run on a warm page cache (just written, the machine's memory holds them): they measure the
format's own costs, not the disk.

Candidates:

* ``npz-folder``: one ``np.savez_compressed`` clip file per clip (the keys of ``motionlib.motion.io.save_motion``;
  read back as arrays and meta, without building a Motion, as the other formats are).
* ``tar-shards``: :class:`motionlib.motion.store.ClipStore`, 256 clips per shard.
* ``parquet``: one row per clip (id, meta JSON, array names, ``.npy`` bytes as a list<binary>), 256 rows
  per file in row groups of 16, zstd; an id -> (file, row group, row) table is read from the id columns.
* ``zarr``: one zarr v3 group per clip (an array per record array, default zstd codec, one chunk each;
  the meta in the group's attributes).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from motionlib.motion.io import FORMAT, VERSION, find_clips, load_motion, read_versioned_npz, write_npz_atomic
from motionlib.motion.store import ClipStore, motion_to_record
from motionlib.motion.store.records import decode_array, encode_array

PER_SHARD = 256


def dir_bytes(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def check(cid: str, arrays: dict, meta: dict, frames: dict[str, int]) -> None:
    if arrays["rotations"].shape[0] != frames[cid] or "fps" not in meta:
        raise AssertionError(f"{cid}: wrong record read back")


# ----------------------------------------------------------------------------- candidates
class NpzFolder:
    name = "npz-folder"

    def __init__(self, root: Path):
        self.root = root

    def write(self, records):
        self.root.mkdir(parents=True)
        for cid, arrays, meta in records:  # the clip file's keys (motionlib.motion.io.save_motion)
            keys = {"format": np.array(FORMAT), "version": np.array(VERSION), "fps": np.array(meta["fps"]),
                    "gender": np.array(meta["gender"]), "body_scale": np.array(meta["body_scale"]),
                    "meta_json": np.array(json.dumps(meta["meta"])), **arrays}
            write_npz_atomic(self.root / f"{cid}.npz", keys)

    def open(self):
        self.files = {p.stem: p for p in find_clips(self.root)}

    def read(self, cid):
        """The record's arrays and meta, without building (and validating) a Motion."""
        d = read_versioned_npz(self.files[cid], FORMAT, VERSION, "clip")
        arrays = {k: d[k] for k in ("trans", "rotations", "betas", "offsets") if k in d}
        meta = {"kind": "motion", "fps": float(d["fps"]), "gender": str(d["gender"]),
                "body_scale": float(d["body_scale"]), "meta": json.loads(str(d["meta_json"]))}
        return arrays, meta

    def ids(self):
        return sorted(self.files)

    def stream(self, seed):
        order = self.ids()
        random.Random(seed).shuffle(order)
        for cid in order:
            yield (cid, *self.read(cid))


class TarShards:
    name = "tar-shards"

    def __init__(self, root: Path):
        self.root = root

    def write(self, records):
        store = ClipStore.create(self.root)
        with store.writer(max_clips=PER_SHARD) as w:
            for cid, arrays, meta in records:
                w.add(cid, arrays, meta)

    def open(self):
        self.store = ClipStore.open(self.root)

    def read(self, cid):
        return self.store.read(cid)

    def ids(self):
        return self.store.ids()

    def sequential(self):
        return self.store.iter_records()

    def stream(self, seed):
        return self.store.iter_records(shuffle=True, seed=seed)


class Parquet:
    name = "parquet"

    def __init__(self, root: Path, row_group: int = 16):
        self.root, self.row_group = root, row_group

    def write(self, records):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.root.mkdir(parents=True)
        schema = pa.schema([("id", pa.string()), ("meta", pa.string()), ("names", pa.list_(pa.string())),
                            ("arrays", pa.list_(pa.binary()))])
        batch, k = [], 0

        def flush():
            nonlocal batch, k
            if batch:
                cols = list(zip(*batch))
                table = pa.Table.from_arrays([pa.array(c, type=t) for c, t in zip(cols, schema.types)], schema=schema)
                pq.write_table(table, self.root / f"part-{k:05d}.parquet", row_group_size=self.row_group,
                               compression="zstd")
                batch, k = [], k + 1

        for cid, arrays, meta in records:
            batch.append((cid, json.dumps(meta), list(arrays), [encode_array(a) for a in arrays.values()]))
            if len(batch) == PER_SHARD:
                flush()
        flush()

    def open(self):
        import pyarrow.parquet as pq

        self.where, self.files = {}, sorted(self.root.glob("*.parquet"))
        for fi, f in enumerate(self.files):
            pf = pq.ParquetFile(f)
            row = 0
            for g in range(pf.num_row_groups):
                ids = pf.read_row_group(g, columns=["id"]).column(0).to_pylist()
                for r, cid in enumerate(ids):
                    self.where[cid] = (fi, g, r)
                row += len(ids)
        self._pf = {}

    def _file(self, fi):
        import pyarrow.parquet as pq

        if fi not in self._pf:
            self._pf[fi] = pq.ParquetFile(self.files[fi])
        return self._pf[fi]

    @staticmethod
    def _decode(row):
        arrays = {n: decode_array(b, "parquet") for n, b in zip(row["names"], row["arrays"])}
        return arrays, json.loads(row["meta"])

    def read(self, cid):
        fi, g, r = self.where[cid]
        t = self._file(fi).read_row_group(g).slice(r, 1).to_pylist()[0]
        return self._decode(t)

    def ids(self):
        return sorted(self.where)

    def sequential(self):
        for fi in range(len(self.files)):
            pf = self._file(fi)
            for g in range(pf.num_row_groups):
                for row in pf.read_row_group(g).to_pylist():
                    yield (row["id"], *self._decode(row))

    def stream(self, seed):
        rng = random.Random(seed)
        order = list(range(len(self.files)))
        rng.shuffle(order)
        for fi in order:
            rows = self._file(fi).read().to_pylist()
            rng.shuffle(rows)
            for row in rows:
                yield (row["id"], *self._decode(row))


class Zarr:
    name = "zarr"

    def __init__(self, root: Path):
        self.root = root

    def write(self, records):
        import zarr

        root = zarr.open_group(str(self.root), mode="w")
        for cid, arrays, meta in records:
            g = root.create_group(cid, attributes={"meta": meta})
            for n, a in arrays.items():
                g.create_array(n, data=a, chunks=a.shape)

    def open(self):
        import zarr

        self.group = zarr.open_group(str(self.root), mode="r")
        self._ids = sorted(self.group.group_keys())

    def read(self, cid):
        g = self.group[cid]
        return {n: a[...] for n, a in g.arrays()}, dict(g.attrs["meta"])

    def ids(self):
        return self._ids

    def stream(self, seed):
        order = list(self._ids)
        random.Random(seed).shuffle(order)
        for cid in order:
            yield (cid, *self.read(cid))


CANDIDATES = {c.name: c for c in (NpzFolder, TarShards, Parquet, Zarr)}
NEEDS = {"parquet": "pyarrow", "zarr": "zarr"}


def available() -> list[str]:
    import importlib.util

    return [n for n in CANDIDATES if n not in NEEDS or importlib.util.find_spec(NEEDS[n]) is not None]


# ----------------------------------------------------------------------------- measuring
def measure(cand, records, frames, payload_mb: float, n_random: int, seed: int) -> dict:
    n = len(records)
    t = time.perf_counter()
    cand.write(records)
    t_write = time.perf_counter() - t
    size, files = dir_bytes(cand.root)

    t = time.perf_counter()
    cand.open()
    t_open = time.perf_counter() - t
    ids = cand.ids()
    assert len(ids) == n, (cand.name, len(ids), n)

    seq = getattr(cand, "sequential", None) or (lambda: ((cid, *cand.read(cid)) for cid in ids))
    t = time.perf_counter()
    k = 0
    for cid, arrays, meta in seq():
        check(cid, arrays, meta, frames)
        k += 1
    t_seq = time.perf_counter() - t
    assert k == n

    rng = random.Random(seed)
    lat = []
    for cid in (rng.choice(ids) for _ in range(n_random)):
        t = time.perf_counter()
        arrays, meta = cand.read(cid)
        lat.append(time.perf_counter() - t)
        check(cid, arrays, meta, frames)
    lat.sort()

    t = time.perf_counter()
    k = 0
    for cid, arrays, meta in cand.stream(seed):
        check(cid, arrays, meta, frames)
        k += 1
    t_stream = time.perf_counter() - t
    assert k == n
    return {"format": cand.name, "clips": n, "write_clips_s": n / t_write, "write_mb_s": payload_mb / t_write,
            "open_s": t_open, "seq_read_clips_s": n / t_seq, "seq_read_mb_s": payload_mb / t_seq,
            "random_median_ms": 1e3 * statistics.median(lat), "random_p95_ms": 1e3 * lat[math.ceil(0.95 * len(lat)) - 1],
            "stream_clips_s": n / t_stream, "disk_mb": size / 1e6, "files": files}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clips", type=Path, nargs="?", default=Path("out/d1_v2/clips"), help="folder of motionlib clips")
    ap.add_argument("--work", type=Path, default=Path("out/bench_store"), help="scratch folder (made; emptied when this benchmark made it)")
    ap.add_argument("--formats", default=",".join(available()),
                    help="comma-separated (default: every format whose package is installed; parquet needs pyarrow, "
                         "zarr needs zarr: pip install motionlib[bench])")
    ap.add_argument("--limit", type=int, default=0, help="use the first N clips only")
    ap.add_argument("--random", type=int, default=200, help="random reads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)

    if not args.clips.is_dir():
        print(f"bench_store: no clip folder {args.clips} (give one: python benchmarks/bench_store.py CLIP_DIR)")
        return 0
    files = find_clips(args.clips, required=True)
    if args.limit:
        files = files[:args.limit]
    records = [(f.stem, *motion_to_record(load_motion(f))) for f in files]
    frames = {cid: a["rotations"].shape[0] for cid, a, _ in records}
    payload = sum(v.nbytes for _, a, _ in records for v in a.values()) / 1e6
    src_mb = sum(f.stat().st_size for f in files) / 1e6
    print(f"{len(records)} clips, {payload:.1f} MB of arrays, {src_mb:.1f} MB as .npz files", file=sys.stderr)
    marker = args.work / ".bench_store"
    if args.work.exists() and any(args.work.iterdir()) and not marker.exists():
        print(f"bench_store: {args.work} is not empty and not a scratch folder of this benchmark", file=sys.stderr)
        return 2
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    marker.touch()
    rows = []
    for name in args.formats.split(","):
        cand = CANDIDATES[name](args.work / name)
        row = measure(cand, records, frames, payload, args.random, args.seed)
        rows.append(row)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), file=sys.stderr)
        shutil.rmtree(cand.root)
    cols = ("format", "write_clips_s", "write_mb_s", "seq_read_clips_s", "seq_read_mb_s", "random_median_ms",
            "random_p95_ms", "stream_clips_s", "open_s", "disk_mb", "files")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    if args.json:
        args.json.write_text(json.dumps({"clips": len(records), "payload_mb": payload, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
