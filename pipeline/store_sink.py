"""``--store``: each stage's outputs also go into a clip store, ``DIR/store/<stage>/``, one shard per task.

A task writes its shard after its clips' files and records, from those files: clips as Motion records
(``add_motion``), features as ``{"features": (T, 135)}`` with ``meta {"clip": ID}``, tokens as the store's
token record (``motionlib.tokenizer.tokens.tokens_to_record``: ``tokens.indices`` and ``meta["tokens"]``).
Each record's id is the output file's name without its suffix (``ID``, ``ID_seg1``, ...).

The shard's name is the stage and a hash of what it holds (each clip's id, outputs and input hashes), so a
retried task writes the same name: when that shard is committed already (the task died after its commit) it is
left as it is, and a tar without its index (the task died during the commit) is deleted and written again.
A clip is therefore never in two shards of one run. A rerun that changes a batch (other clips done, another
``--batch``) writes new shards; the store then reads each clip's newest copy, and ``motionlib store compact``
writes a store without the older ones.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from motionlib.motion.io import load_motion
from motionlib.motion.store import ClipStore, is_store
from motionlib.motion.store.shard import INDEX_SUFFIX

from .io import FolderSink
from .stages import STAGES

STORE_DIR = "store"


def store_path(out: str | Path, stage: str) -> Path:
    return Path(out) / STORE_DIR / stage


def remove_store_temporaries(out: str | Path, stages: tuple[str, ...]) -> None:
    """Delete what writers killed before their shard's commit left in the stages' stores (the driver, once
    no task is in flight)."""
    for stage in stages:
        if is_store(store_path(out, stage)):
            ClipStore.open(store_path(out, stage), skip_bad=True).remove_temporaries()


def create_stores(out: str | Path, stages: tuple[str, ...]) -> None:
    """Make each stage's store (the driver, before any task)."""
    for stage in stages:
        p = store_path(out, stage)
        if not is_store(p):
            ClipStore.create(p)


def shard_name(stage: str, records: list[dict]) -> str:
    """The stage and a hash of the clips' ids, outputs and input hashes."""
    what = [[r["id"], r["outputs"], r.get("input_sha256")] for r in records]
    return f"{stage}-{hashlib.sha1(json.dumps(what).encode()).hexdigest()[:16]}"


def write_shard(out: str | Path, stage: str, results: list[dict]) -> str | None:
    """Write the shard of a task's clips that are done (or were done before); returns its name (None when no
    clip of the task has outputs)."""
    sink = FolderSink(out, stage)
    records = [rec for r in results if r["status"] != "failed" and (rec := sink.read_record(r["id"]))]
    records = [r for r in records if r["outputs"]]
    if not records:
        return None
    store = ClipStore.open(store_path(out, stage))
    name = shard_name(stage, records)
    shard = f"{name}-00000"  # the writer's first shard; max_clips below keeps it the only one
    if (store.shards_dir / f"{shard}{INDEX_SUFFIX}").exists():
        return shard  # committed by an earlier attempt of this task
    store.shard_path(shard).unlink(missing_ok=True)  # a tar whose commit was cut short (no index: not a shard)
    n = sum(len(r["outputs"]) for r in records)
    with store.writer(shard_name=name, max_clips=max(1, n)) as w:
        for r in records:
            for o in r["outputs"]:
                _add(w, stage, r["id"], sink.path(o))
    return shard


def _add(w, stage: str, uid: str, path: Path) -> None:
    rid = path.name[: -len(".tokens.npz")] if path.name.endswith(".tokens.npz") else path.stem
    if STAGES[stage].makes_clips:
        w.add_motion(rid, load_motion(path))
    elif stage == "features":
        w.add(rid, {"features": np.load(path, allow_pickle=False)}, {"clip": uid, "stage": stage})
    elif stage == "tokenize":
        from motionlib.tokenizer.tokens import RECORD_META, load_tokens, tokens_to_record

        arrays, meta = tokens_to_record(load_tokens(path))
        w.add(rid, arrays, {"clip": uid, "stage": stage, RECORD_META: meta})
    else:
        raise ValueError(f"no store record for stage {stage!r}")
