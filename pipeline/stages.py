"""The stages: what one task does to its clips, through the library functions the commands use.

=========  =========================================  ==============================================
stage      input of a clip                            outputs (under the run folder)
=========  =========================================  ==============================================
ingest     a BVH / AMASS / WHAM / motionlib file      ``clips/<id>.npz`` (WHAM: ``<id>_track<k>.npz``)
refine     the clip(s) of the latest clip stage       ``refined/<name>.npz`` or ``<name>_seg<k>.npz``
features   the clip(s) of the latest clip stage       ``features/<name>.npy`` (D135, T x 135 float32)
tokenize   the clip(s) of the latest clip stage       ``tokens/<name>.tokens.npz``
=========  =========================================  ==============================================

Ingest is ``motionlib ingest``'s per-source conversion (a stored clip is written out as it is), refine ``motionlib refine``'s (the shipped tracker
by default, segments cut at restarts), features ``motionlib features``' encoding and tokenize ``motionlib
tokenize``'s. A clip's work is skipped when its record says it was done with the same settings (``key``)
from the same inputs and every output it lists loads (:func:`done_before`); otherwise the earlier outputs
are removed and the clip is done again. Errors are caught per clip and returned, naming the file; the task
itself only dies with its worker (which Ray retries).
"""

from __future__ import annotations

import functools
import hashlib
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from motionlib.motion.atomic import atomic_path
from motionlib.motion.errors import MotionError
from motionlib.motion.features import DIM
from motionlib.motion.io import load_motion, save_motion

from .config import PipelineConfig
from .io import FolderSink, input_digest, load_input_clip, store_input

Job = tuple[str, list[str]]  # (clip id, its input files)


@dataclass(frozen=True)
class StageSpec:
    name: str
    makes_clips: bool  # its outputs are clips, which the later stages take as input
    check: Callable[[Path], None]  # raises when an output does not load
    run: Callable[[list[Job], FolderSink, PipelineConfig], list[dict]]  # one result per job, same order


# ---------------------------------------------------------------------------------------------- the settings


def _sha256(path: str | Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def stage_key(stage: str, cfg: PipelineConfig) -> dict:
    """What a stage's outputs depend on besides their inputs (computed once, by the driver): a record made
    with another key is redone."""
    if stage == "ingest":
        return {"read": asdict(cfg.ingest)}
    if stage == "refine":
        from motionlib.policies.refine import MIN_SEGMENT_S, REWIND_FRAMES

        return {"policy_sha256": _sha256(policy_path(cfg)), "backend": cfg.refine.backend,
                "rewind": REWIND_FRAMES, "min_segment_s": MIN_SEGMENT_S}
    if stage == "features":
        return {"dim": DIM}
    if stage == "tokenize":
        return {"tokenizer_sha256": _sha256(tokenizer_path(cfg))}
    raise MotionError(f"unknown stage {stage!r}")


def policy_path(cfg: PipelineConfig) -> Path:
    from motionlib.policies.default import default_policy_path

    return Path(cfg.refine.policy) if cfg.refine.policy else default_policy_path()


def tokenizer_path(cfg: PipelineConfig) -> Path:
    from motionlib.tokenizer.checkpoint import resolve_tokenizer

    return resolve_tokenizer(cfg.tokenizer)


# ------------------------------------------------------------------------------------------ one task's work


def run_jobs(stage: str, jobs: list[Job], out: str, cfg: PipelineConfig, key: dict) -> list[dict]:
    """Do ``stage`` for ``jobs`` into the run folder ``out``: one result per job (``status`` skipped, done or
    failed with ``error``; ``outputs`` relative to ``out``; ``frames``, ``motion_s`` and ``seconds``)."""
    spec = STAGES[stage]
    sink = FolderSink(out, stage)
    results: dict[str, dict] = {}
    todo: list[Job] = []
    hashes: dict[str, list[str]] = {}
    for uid, inputs in jobs:
        try:
            hashes[uid] = [input_digest(p) for p in inputs]
        except (OSError, MotionError) as e:
            results[uid] = _failed(uid, e, inputs)
            continue
        rec = done_before(spec, sink, uid, key, hashes[uid])
        if rec is not None:
            results[uid] = {**_result(sink, rec), "status": "skipped"}
        else:
            sink.clear(uid)
            todo.append((uid, inputs))
    for (uid, inputs), res in zip(todo, spec.run(todo, sink, cfg) if todo else []):
        if res["status"] == "done":
            rec = {"id": uid, "stage": stage, "key": key, "inputs": inputs, "input_sha256": hashes[uid], **res}
            sink.write_record(uid, rec)
            res = _result(sink, rec)
        results[uid] = res
    return [results[uid] for uid, _ in jobs]


def done_before(spec: StageSpec, sink: FolderSink, uid: str, key: dict, input_sha256: list[str]) -> dict | None:
    """The unit's record when it was done with ``key`` from the same inputs and every output loads, else None."""
    rec = sink.read_record(uid)
    if rec is None or rec.get("key") != _as_json(key) or rec.get("input_sha256") != input_sha256:
        return None
    try:
        for name in rec["outputs"]:
            spec.check(sink.path(name))
    except (MotionError, OSError, ValueError, KeyError, TypeError):
        return None
    return rec


def _as_json(o):
    import json

    return json.loads(json.dumps(o))


def _result(sink: FolderSink, rec: dict) -> dict:
    return {"id": rec["id"], "status": "done", "outputs": [sink.rel(n) for n in rec["outputs"]],
            "frames": rec.get("frames", 0), "motion_s": rec.get("motion_s", 0.0), "seconds": rec.get("seconds", 0.0),
            "info": rec.get("info")}


def _failed(uid: str, e: BaseException, inputs: list[str], t0: float | None = None) -> dict:
    """A failed job's result; the error names the file (the first input when the message does not)."""
    expected = isinstance(e, (MotionError, OSError, ValueError))
    msg = str(e) if expected else f"{type(e).__name__}: {e} | " + traceback.format_exc(limit=3).replace("\n", " ")
    if inputs and not any(str(p) in msg for p in inputs):
        msg = f"{inputs[0]}: {msg}"
    return {"id": uid, "status": "failed", "error": msg,
            "seconds": round(time.perf_counter() - t0, 3) if t0 is not None else 0.0}


def _done(uid: str, outputs: list[str], frames: int, motion_s: float, t0: float, info=None) -> dict:
    return {"id": uid, "status": "done", "outputs": outputs, "frames": int(frames), "motion_s": round(motion_s, 4),
            "seconds": round(time.perf_counter() - t0, 4), "info": info}


def _each(jobs: list[Job], one: Callable[[str, list[str], float], dict]) -> list[dict]:
    """Run ``one(uid, inputs, t0)`` per job, turning an exception into the job's failure."""
    out = []
    for uid, inputs in jobs:
        t0 = time.perf_counter()
        try:
            out.append(one(uid, inputs, t0))
        except Exception as e:  # report and carry on: a task never dies on one clip
            out.append(_failed(uid, e, inputs, t0))
    return out


# ---------------------------------------------------------------------------------------------------- ingest


def _ingest(jobs: list[Job], sink: FolderSink, cfg: PipelineConfig) -> list[dict]:
    from motionlib.motion.ingest.dataset import Item, IngestConfig, convert_item, item_key
    from motionlib.motion.ingest.formats import ReadOptions

    o = cfg.ingest
    opts = ReadOptions(fps=o.fps, mapping=o.mapping, fit_iters=o.fit_iters, threads=1, body=o.body,
                       smpl_model=o.smpl_model)
    n_captions = IngestConfig(out=sink.out).n_captions

    def one(uid: str, inputs: list[str], t0: float) -> dict:
        (src,) = inputs
        if store_input(src) is not None:  # a stored clip: written out as the run's clip file
            clip = load_input_clip(src)
            save_motion(clip, sink.path(f"{uid}.npz"))
            return _done(uid, [f"{uid}.npz"], clip.num_frames, clip.duration, t0, {"format": "store"})
        recs = convert_item(Item(src, src, item_key(src)), str(sink.folder), opts, n_captions)
        bad = [r for r in recs if r["status"] != "ok"]
        if bad:
            return _failed(uid, MotionError(bad[0]["error"]), inputs, t0)
        info = {"format": recs[0]["format"], "fit_error_mm": [r.get("fit_error_mm") for r in recs]}
        return _done(uid, [Path(r["path"]).name for r in recs], sum(r["frames"] for r in recs),
                     sum(r["duration_s"] for r in recs), t0, info)

    return _each(jobs, one)


# ---------------------------------------------------------------------------------------------------- refine


@functools.lru_cache(maxsize=2)
def _policy(path: str, device: str):
    from motionlib.policies.actor import TrackingPolicy

    return TrackingPolicy.load(path, device=device)


def _refine(jobs: list[Job], sink: FolderSink, cfg: PipelineConfig) -> list[dict]:
    """The task's clips refined in one simulation (``motionlib refine``'s defaults: the clean-up, restarts,
    the output cut into continuous segments at the restarts)."""
    from motionlib.policies.refine import refine_clips

    t0 = time.perf_counter()
    r = cfg.refine
    results: dict[str, dict] = {}
    loaded: list[tuple[str, str]] = []  # (uid, input file) of each clip refined
    clips = []
    for uid, inputs in jobs:
        try:
            mine = [load_input_clip(p) for p in inputs]
        except Exception as e:
            results[uid] = _failed(uid, e, inputs, t0)
            continue
        loaded += [(uid, p) for p in inputs]
        clips += mine
    by_uid: dict[str, dict] = {uid: {"outputs": [], "frames": 0, "motion_s": 0.0, "reports": []}
                               for uid, _ in jobs if uid not in results}
    if clips:
        try:
            refined, _ = refine_clips(clips, _policy(str(policy_path(cfg)), r.device), threads=1, lanes=1,
                                      backend=r.backend, device=r.device)
        except Exception as e:
            refined = None
            for uid, inputs in jobs:
                results.setdefault(uid, _failed(uid, e, inputs, t0))
        for (uid, f), clip, res in zip(loaded, clips, refined or []):
            if uid in results:
                continue
            stem = Path(f).stem
            names = [f"{stem}.npz"] if not res.report["cuts"] else [f"{stem}_seg{k}.npz" for k in range(len(res.segments))]
            try:
                for name, seg in zip(names, res.segments):
                    save_motion(seg.clip, sink.path(name))
            except Exception as e:
                results[uid] = _failed(uid, e, [f], t0)
                continue
            u = by_uid[uid]
            u["outputs"] += names[: len(res.segments)]
            u["frames"] += res.report["frames"]["input"]
            u["motion_s"] += clip.duration
            u["reports"].append({k: res.report.get(k) for k in ("success", "retries", "g_mpjpe_mm", "frames")})
    for uid, u in by_uid.items():
        if uid not in results:
            results[uid] = _done(uid, u["outputs"], u["frames"], u["motion_s"], t0, {"reports": u["reports"]})
    # the batch's wall time, shared out over its clips by frames
    frames = sum(x.get("frames", 0) for x in results.values()) or 1
    wall = time.perf_counter() - t0
    for x in results.values():
        if x["status"] == "done":
            x["seconds"] = round(wall * x["frames"] / frames, 4)
    return [results[uid] for uid, _ in jobs]


# -------------------------------------------------------------------------------------------------- features


def _features(jobs: list[Job], sink: FolderSink, cfg: PipelineConfig) -> list[dict]:
    from motionlib.motion.features import encode

    def one(uid: str, inputs: list[str], t0: float) -> dict:
        names, frames, secs = [], 0, 0.0
        for f in inputs:
            clip = load_input_clip(f)
            feats, _ = encode(clip)
            name = f"{Path(f).stem}.npy"
            with atomic_path(sink.path(name)) as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, feats)
            names.append(name)
            frames, secs = frames + clip.num_frames, secs + clip.duration
        return _done(uid, names, frames, secs, t0)

    return _each(jobs, one)


def _check_features(path: Path) -> None:
    a = np.load(path, allow_pickle=False)
    if a.ndim != 2 or a.shape[1] != DIM:
        raise MotionError(f"features of shape {a.shape}, not (T, {DIM})", str(path))


# -------------------------------------------------------------------------------------------------- tokenize


@functools.lru_cache(maxsize=2)
def _tokenizer(path: str, device: str):
    from motionlib.tokenizer.checkpoint import load_tokenizer

    return load_tokenizer(path, device)


def _tokenize(jobs: list[Job], sink: FolderSink, cfg: PipelineConfig) -> list[dict]:
    from motionlib.tokenizer.codec import tokenize_clip
    from motionlib.tokenizer.tokens import save_tokens, token_path

    model, ckpt = _tokenizer(str(tokenizer_path(cfg)), cfg.tokenizer_device)

    def one(uid: str, inputs: list[str], t0: float) -> dict:
        names, frames, secs = [], 0, 0.0
        for f in inputs:
            tf = tokenize_clip(model, ckpt, f)
            name = token_path(Path(f).name).name
            save_tokens(sink.path(name), tf)
            names.append(name)
            frames, secs = frames + tf.num_frames, secs + tf.num_frames / tf.fps
        return _done(uid, names, frames, secs, t0, {"tokenizer_id": ckpt.tokenizer_id})

    return _each(jobs, one)


def _check_tokens(path: Path) -> None:
    from motionlib.tokenizer.tokens import load_tokens

    load_tokens(path)


STAGES: dict[str, StageSpec] = {
    "ingest": StageSpec("ingest", True, load_motion, _ingest),
    "refine": StageSpec("refine", True, load_motion, _refine),
    "features": StageSpec("features", False, _check_features, _features),
    "tokenize": StageSpec("tokenize", False, _check_tokens, _tokenize),
}
