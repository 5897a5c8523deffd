"""The Ray driver: every stage's clips as Ray tasks, results into the manifest as they arrive.

Why tasks and not Ray Data: a stage's work per clip is a file in, files out (the data never passes through
the driver), the stages want different resources (refine a GPU with MuJoCo Warp, the others a CPU), and the
manifest needs each clip's own outcome, failures included, the moment it is known. A remote function per
batch of clips, with ``max_retries`` (a worker that dies is retried elsewhere) and errors caught per clip
inside it, gives exactly that; Ray Data's operators would hide the per-clip outcome inside blocks and make
one bad row a failed dataset.

Stages run one after another (a clip's refine needs its ingest; the barrier also gives each stage its own
wall time and throughput); within a stage the clips stream through a window of tasks in flight (twice the
CPUs), so a run of a million clips never holds a million task references. The driver alone writes
``manifest.json``; tasks write their outputs and records (atomically) and report a marker
``DIR/.tasks/<stage>.<first id>.json`` (the worker's pid and node) while they run.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from motionlib.motion.atomic import write_text_atomic
from motionlib.motion.errors import MotionError

from .config import PipelineConfig
from .io import FolderSink, Unit, folder_units
from .manifest import Manifest
from .stages import STAGES, stage_key
from .summary import StageStats, summary_dict

TASKS = ".tasks"


def _run_task(stage: str, jobs: list, out: str, cfg: PipelineConfig, key: dict) -> list[dict]:
    """One Ray task: ``stage`` for a batch of clips (in a worker process)."""
    import torch

    from .stages import run_jobs

    torch.set_num_threads(1)
    marker = Path(out) / TASKS / f"{stage}.{jobs[0][0]}.json"
    write_text_atomic(marker, json.dumps({"pid": os.getpid(), "node": socket.gethostname(),
                                         "ids": [j[0] for j in jobs]}))
    try:
        results = run_jobs(stage, jobs, out, cfg, key)
        if cfg.store:
            from .store_sink import write_shard

            shard = write_shard(out, stage, results)
            for r in results:
                if r["status"] != "failed" and r.get("outputs"):
                    r["shard"] = shard
        return results
    finally:
        marker.unlink(missing_ok=True)


def init_ray(cfg: PipelineConfig) -> tuple[bool, float]:
    """Connect to Ray: the cluster at ``cfg.address``, else an embedded one on ``cfg.workers`` local CPUs
    (default: every core). Returns (whether this call started it, the CPUs it offers)."""
    import ray

    if ray.is_initialized():
        return False, float(ray.cluster_resources().get("CPU", 1))
    if cfg.address:
        ray.init(address=cfg.address, log_to_driver=False)
    else:
        # a local Ray needs no token: Ray 2.60 asks for one unless told otherwise (docs/scale.md "Running")
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=cfg.workers or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    return True, float(ray.cluster_resources().get("CPU", 1))


def run_pipeline(sources: list[str | os.PathLike], cfg: PipelineConfig) -> dict:
    """Run ``cfg.stages`` over the clips of ``sources`` into ``cfg.out``; returns the summary
    (:func:`motionlib.pipeline.summary.summary_dict`)."""
    import ray

    t_start = time.perf_counter()
    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    units, problems = folder_units(sources, raw=cfg.stages[0] == "ingest")
    if not units and not problems.errors:
        raise MotionError("no clips found", ", ".join(map(str, sources)))
    manifest = Manifest.load(out, cfg.flush_s)
    manifest.start(cfg.stages, units, problems.errors)
    manifest.flush(force=True)
    keys = {s: stage_key(s, cfg) for s in cfg.stages}  # before Ray: a missing policy is an error at once
    if cfg.store:
        from .store_sink import create_stores

        create_stores(out, cfg.stages)
    started, cpus = init_ray(cfg)
    if "refine" in cfg.stages and cfg.refine.uses_gpu and not ray.cluster_resources().get("GPU"):
        if started:
            ray.shutdown()
        raise MotionError(f"refine on {cfg.refine.backend}/{cfg.refine.device} asks Ray for GPUs and the Ray "
                          f"cluster has none (use --backend cpu --device cpu, or a cluster with GPU nodes)")
    window = max(2, 2 * int(cfg.workers if cfg.address and cfg.workers else cpus))
    remote = ray.remote(_run_task)
    stats: list[StageStats] = []
    try:
        for i, stage in enumerate(cfg.stages):
            stats.append(_run_stage(stage, i, units, cfg, keys[stage], manifest, remote, window))
    finally:
        manifest.flush(force=True)
        if started:
            ray.shutdown()
    for stage in cfg.stages:  # no task is in flight now: what a killed writer left can go
        FolderSink(out, stage).remove_stale_temps()
    if cfg.store:
        from .store_sink import remove_store_temporaries

        remove_store_temporaries(out, cfg.stages)
    if (out / TASKS).is_dir():
        for marker in (out / TASKS).glob("*.json"):  # of tasks whose worker died
            marker.unlink(missing_ok=True)
        try:
            (out / TASKS).rmdir()
        except OSError:  # a cluster's task still ending writes one
            pass
    return summary_dict(stats, out=str(out), workers=cpus, address=cfg.address,
                        wall_s=time.perf_counter() - t_start, problems=problems.errors)


def _inputs(u: Unit, i: int, cfg: PipelineConfig, manifest: Manifest) -> list[str] | str:
    """The input files of unit ``u`` for the run's ``i``-th stage: the outputs of the latest earlier stage
    of the run that makes clips, else the unit's source; a stage name when that stage is not done."""
    for prev in reversed(cfg.stages[:i]):
        if STAGES[prev].makes_clips:
            e = manifest.entry(u.id, prev)
            if e["status"] != "done":
                return prev
            return [str(cfg.out / p) for p in e.get("outputs", [])]
    return [u.source]


def _run_stage(stage: str, i: int, units: list[Unit], cfg: PipelineConfig, key: dict, manifest: Manifest,
               remote, window: int) -> StageStats:
    import ray
    from tqdm import tqdm

    st = StageStats(stage)
    jobs = []
    for u in units:
        inputs = _inputs(u, i, cfg, manifest)
        if isinstance(inputs, str):
            st.pending += 1
            manifest.set_pending(u.id, stage, f"{inputs} " + manifest.entry(u.id, inputs)["status"])
        else:
            jobs.append((u.id, inputs))
    st.clips = len(jobs)
    size = cfg.refine.batch if stage == "refine" else cfg.batch
    batches = [jobs[k : k + size] for k in range(0, len(jobs), size)]
    gpus = cfg.refine.gpus if stage == "refine" and cfg.refine.uses_gpu else 0
    opts = remote.options(num_cpus=1, num_gpus=gpus, max_retries=cfg.max_retries, retry_exceptions=False,
                          name=f"pipeline-{stage}")
    t0 = time.perf_counter()
    bar = tqdm(total=len(jobs), desc=stage, unit="clip", disable=not cfg.progress, dynamic_ncols=True)
    in_flight: dict = {}
    todo = list(reversed(batches))
    out = str(cfg.out)
    while todo or in_flight:
        while todo and len(in_flight) < window:
            b = todo.pop()
            in_flight[opts.remote(stage, b, out, cfg, key)] = b
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
        for ref in ready:
            batch = in_flight.pop(ref)
            try:
                results = ray.get(ref)
            except ray.exceptions.RayError as e:  # the retries were used up, or the task could not run
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                results = [{"id": uid, "status": "failed", "error": f"{inputs[0] if inputs else uid}: {stage} task "
                            f"failed ({type(e).__name__}: {first})"} for uid, inputs in batch]
            for r in results:
                manifest.set(r["id"], stage, r)
                st.add(r)
            bar.update(len(results))
        manifest.flush()
    bar.close()
    st.wall_s = time.perf_counter() - t0
    return st
