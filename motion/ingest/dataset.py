"""Dataset builder: many source files -> motionlib clips + a manifest.

``build_dataset(sources, out)`` walks files, folders and tar archives
(``.tar.xz`` is read directly), detects each file's format, converts it in a
process pool and writes, under ``out``::

    clips/<id>.npz        one motionlib clip per source clip (atomic writes)
    .done/<key>.json      per-source completion record (makes reruns resumable)
    manifest.json         every clip and every failure, plus a summary

A failing source is reported in the manifest (``status: "failed"`` with the
error, which names the file) and the batch carries on. A rerun skips sources
whose completion record and clips exist; failures are retried.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import re
import shutil
import tarfile
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ..atomic import write_text_atomic
from ..errors import MotionError
from .formats import ReadOptions, detect_format, is_archive, is_clip_candidate, read_clips

MANIFEST_VERSION = 1
# Bandai-Namco Research Motion Dataset file names: dataset-N_{content}_{style}_{take}.bvh
BANDAI_NAME = re.compile(r"^dataset-\d+_[A-Za-z-]+_[A-Za-z-]+_\d+\.bvh$", re.IGNORECASE)


@dataclass
class IngestConfig:
    out: Path
    workers: int = 2
    fps: float | None = None  # WHAM frame rate (required for WHAM) / optional resample target
    mapping: str = "auto"
    smpl_model: str | None = None  # SMPL model file: per-subject skeletons from betas (AMASS, WHAM)
    body: str = "scaled"  # BVH body: "scaled" (mean SMPL body at the source's size) or "fitted"
    fit_iters: int | None = None  # BVH -> SMPL fit optimisation steps (None: the fit's default)
    resume: bool = True
    limit: int | None = None  # convert at most this many sources (for quick looks)
    n_captions: int = 4
    progress: bool = True


@dataclass
class Item:
    """One source file; ``label`` is what the manifest shows (archive:member for archives)."""

    path: str
    label: str
    key: str  # stable id for resume bookkeeping


@dataclass
class IngestSummary:
    sources: int = 0
    converted: int = 0
    failed: int = 0
    skipped: int = 0
    clips: int = 0
    frames: int = 0
    seconds: float = 0.0
    fit_error_mm_median: float | None = None
    fit_error_mm_p95: float | None = None
    fit_error_mm_max: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def clips_per_s(self) -> float:
        return self.converted / self.seconds if self.seconds > 0 else 0.0


def item_key(label: str) -> str:
    """A source's unique name: its stem and a short hash of its label (path, or archive:member)."""
    stem = Path(label.split(":")[-1]).stem
    digest = hashlib.sha1(label.encode()).hexdigest()[:8]
    return f"{stem}-{digest}"


def collect_sources(sources: Iterable[str | os.PathLike]) -> tuple[list[tuple[str, str]], list[str]]:
    """Expand files/folders into (kind, path) pairs: kind 'file' or 'archive'.
    Returns the pairs and a list of problems (missing paths)."""
    found: list[tuple[str, str]] = []
    problems: list[str] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not f.name.startswith("."):
                    if is_archive(f):
                        found.append(("archive", str(f)))
                    elif is_clip_candidate(f):
                        found.append(("file", str(f)))
        elif p.is_file():
            found.append(("archive" if is_archive(p) else "file", str(p)))
        else:
            problems.append(f"{p}: no such file or folder")
    return found, problems


def _extract_archive(archive: str, dest: Path) -> list[Item]:
    """Extract clip-like members (and their label JSONs) of a tar archive, safely."""
    items: list[Item] = []
    try:
        with tarfile.open(archive, "r:*") as tar:
            for m in tar:
                if not m.isfile():
                    continue
                name = m.name
                if name.startswith("/") or ".." in Path(name).parts:
                    continue  # refuse path traversal
                if not (is_clip_candidate(name) or name.lower().endswith(".json")):
                    continue
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(m) as fsrc, open(target, "wb") as fdst:  # type: ignore[union-attr]
                    shutil.copyfileobj(fsrc, fdst)
                if is_clip_candidate(name):
                    label = f"{archive}:{name}"
                    items.append(Item(str(target), label, item_key(label)))
    except (tarfile.TarError, OSError, EOFError) as e:
        raise MotionError(f"cannot read archive ({e})", archive) from None
    return items


def _texts_for(path: str, fmt: str, n_captions: int, key: str) -> tuple[dict | None, dict | None]:
    """Captions/body-part texts for clips whose source carries labels (Bandai)."""
    if fmt != "bvh":
        return None, None
    from .captions import bandai_labels, bandai_texts

    if not BANDAI_NAME.match(Path(path).name):
        return None, None
    labels = bandai_labels(path)
    seed = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)
    return labels, bandai_texts(labels, n_captions=n_captions, seed=seed)


def convert_item(item: Item, clips_dir: str, opts: ReadOptions, n_captions: int) -> list[dict]:
    """Worker: convert one source; returns manifest records. Never raises."""
    t0 = time.perf_counter()
    from ..io import save_motion

    try:
        fmt = detect_format(item.path)
        clips = read_clips(item.path, fmt, opts)
        labels, texts = _texts_for(item.path, fmt, n_captions, item.key)
        records = []
        stem = Path(item.label.split(":")[-1]).stem
        for i, clip in enumerate(clips):
            cid = stem if len(clips) == 1 else f"{stem}_track{clip.meta.get('track_id', i)}"
            clip.meta["source"] = item.label
            clip.meta["format"] = fmt
            if labels is not None:
                clip.meta["labels"] = labels
            if texts is not None:
                clip.meta["texts"] = texts
            rel = f"clips/{cid}.npz"
            save_motion(clip, Path(clips_dir).parent / rel)
            records.append({
                "id": cid, "status": "ok", "source": item.label, "format": fmt, "path": rel,
                "frames": clip.num_frames, "fps": clip.fps, "duration_s": round(clip.duration, 4),
                "fit_error_mm": clip.meta.get("fit_error_mm"), "body_scale": clip.body_scale,
                "texts": clip.meta.get("texts"), "labels": labels,
                "seconds": round(time.perf_counter() - t0, 3),
            })
        return records
    except Exception as e:  # report and carry on: the batch never dies on one file
        msg = str(e) if isinstance(e, (MotionError, OSError, ValueError)) else f"{type(e).__name__}: {e}"
        if not isinstance(e, (MotionError, OSError, ValueError)):
            msg += " | " + traceback.format_exc(limit=3).replace("\n", " ")
        if item.label not in msg:
            msg = f"{item.label}: {msg}"
        return [{"id": Path(item.label.split(":")[-1]).stem, "status": "failed", "source": item.label,
                 "error": msg, "seconds": round(time.perf_counter() - t0, 3)}]


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def build_dataset(sources: Iterable[str | os.PathLike], cfg: IngestConfig,
                  on_progress: Callable[[int, int], None] | None = None) -> tuple[IngestSummary, list[dict]]:
    out = Path(cfg.out)
    clips_dir = out / "clips"
    done_dir = out / ".done"
    clips_dir.mkdir(parents=True, exist_ok=True)
    done_dir.mkdir(parents=True, exist_ok=True)
    opts = ReadOptions(fps=cfg.fps, mapping=cfg.mapping, fit_iters=cfg.fit_iters, threads=1,
                       body=cfg.body, smpl_model=cfg.smpl_model)
    t_start = time.perf_counter()
    found, problems = collect_sources(sources)
    records: list[dict] = [{"id": None, "status": "failed", "source": p.split(":")[0], "error": p} for p in problems]
    tmp_root = Path(tempfile.mkdtemp(prefix="motionlib-ingest-"))
    summary = IngestSummary()
    try:
        items: list[Item] = []
        for kind, path in found:
            if kind == "archive":
                try:
                    items.extend(_extract_archive(path, tmp_root / item_key(path)))
                except MotionError as e:
                    records.append({"id": None, "status": "failed", "source": path, "error": str(e)})
            else:
                items.append(Item(path, path, item_key(path)))
        if cfg.limit is not None:
            items = items[: cfg.limit]
        summary.sources = len(items)

        todo: list[Item] = []
        for it in items:
            done = done_dir / f"{it.key}.json"
            if cfg.resume and done.is_file():
                try:
                    prev = json.loads(done.read_text())
                    if all((out / r["path"]).is_file() for r in prev):
                        records.extend(prev)
                        summary.skipped += 1
                        continue
                except (json.JSONDecodeError, KeyError, TypeError):
                    pass
            todo.append(it)

        def _finish(it: Item, recs: list[dict]) -> None:
            records.extend(recs)
            if all(r["status"] == "ok" for r in recs):
                write_text_atomic(done_dir / f"{it.key}.json", json.dumps(recs))
                summary.converted += 1
            else:
                summary.failed += 1

        bar = _progress(len(todo), cfg.progress)
        if cfg.workers <= 1 or len(todo) <= 1:
            for it in todo:
                _finish(it, convert_item(it, str(clips_dir), opts, cfg.n_captions))
                bar.update(1)
        else:
            ctx = mp.get_context("forkserver")
            with ProcessPoolExecutor(max_workers=cfg.workers, mp_context=ctx, initializer=_worker_init) as pool:
                futs = {pool.submit(convert_item, it, str(clips_dir), opts, cfg.n_captions): it for it in todo}
                for fut in as_completed(futs):
                    _finish(futs[fut], fut.result())
                    bar.update(1)
                    if on_progress:
                        on_progress(bar.n, len(todo))
        bar.close()
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    summary.failed += len([r for r in records if r["status"] == "failed" and r.get("id") is None])
    ok = [r for r in records if r["status"] == "ok"]
    summary.clips = len(ok)
    summary.frames = int(sum(r["frames"] for r in ok))
    summary.seconds = time.perf_counter() - t_start
    fits = np.array([r["fit_error_mm"] for r in ok if r.get("fit_error_mm") is not None], dtype=float)
    if fits.size:
        summary.fit_error_mm_median = float(np.median(fits))
        summary.fit_error_mm_p95 = float(np.percentile(fits, 95))
        summary.fit_error_mm_max = float(fits.max())
    write_manifest(out, records, summary)
    return summary, records


def write_manifest(out: Path, records: list[dict], summary: IngestSummary) -> Path:
    records = sorted(records, key=lambda r: (r["status"] != "ok", str(r.get("id")), r["source"]))
    doc = {"format": "motionlib.manifest", "version": MANIFEST_VERSION,
           "summary": {**{k: v for k, v in asdict(summary).items() if k != "extra"}, **summary.extra},
           "clips": [r for r in records if r["status"] == "ok"],
           "failures": [r for r in records if r["status"] != "ok"]}
    path = out / "manifest.json"
    write_text_atomic(path, json.dumps(doc, indent=1))
    return path


def load_manifest(out: str | os.PathLike) -> dict:
    path = Path(out) / "manifest.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise MotionError(f"cannot read manifest ({e})", str(path)) from None
    if doc.get("format") != "motionlib.manifest":
        raise MotionError("not a motionlib manifest", str(path))
    return doc


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="ingest", unit="clip", disable=not enabled, dynamic_ncols=True)
