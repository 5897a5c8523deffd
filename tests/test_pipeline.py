"""The dataset pipeline on Ray: a killed worker is retried, a killed driver is rerun, a bad clip fails alone.

The clips: the three bundled BVH samples, fitted to SMPL, each cut into short clips with their own ids (20
in all). The Ray runs are ``motionlib pipeline run`` subprocesses on an embedded Ray of one or two CPUs; the
stage functions, the records and the manifest are also tested in this process, without Ray.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from motionlib.motion.io import load_motion, save_motion

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples" / "bandai"
CROP = 30  # frames of each cut clip (1 s)
N_CLIPS = 20


@pytest.fixture(scope="module")
def crops(tmp_path_factory) -> Path:
    """20 one-second clips cut from the three samples (a short fit: the clips only need to be valid)."""
    from motionlib.motion.ingest.formats import ReadOptions, read_clips

    d = tmp_path_factory.mktemp("crops")
    n = 0
    for bvh in sorted(SAMPLES.glob("*.bvh")):
        clip = read_clips(bvh, "bvh", ReadOptions(fit_iters=40, threads=1))[0]
        for k in range(0, clip.num_frames - CROP + 1, 20):
            if n == N_CLIPS:
                break
            save_motion(clip[k : k + CROP], d / f"{bvh.stem}_at{k:03d}.npz")
            n += 1
    assert n == N_CLIPS
    return d


def _cmd(src, out: Path, *extra: str) -> list[str]:
    srcs = [str(s) for s in (src if isinstance(src, list) else [src])]
    return [sys.executable, "-m", "motionlib", "pipeline", "run", *srcs, "--out", str(out), "--json", *extra]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _run(src, out: Path, *extra: str, timeout: float = 240) -> tuple[int, dict]:
    p = subprocess.run(_cmd(src, out, *extra), capture_output=True, text=True, timeout=timeout, env=_env())
    assert p.stdout.strip(), p.stderr[-3000:]
    return p.returncode, json.loads(p.stdout.strip().splitlines()[-1])


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


STAGES = ("ingest", "features")  # of the runs that kill a process: the cheap ones (tokenize: the last test)


def _check_outputs_once(out: Path, ids: list[str]) -> None:
    """Every clip's outputs of ingest and features are there once, load, and nothing else is; so in the
    stages' clip stores (written with --store)."""
    from motionlib.motion.store import ClipStore

    for stage in STAGES:
        store = ClipStore.open(out / "store" / stage)
        assert sorted(store.ids()) == sorted(ids) and not store.duplicates(), stage
        assert not [p for p in store.shards_dir.iterdir() if p.name.startswith(".")]  # no temporary file
    assert ClipStore.open(out / "store" / "ingest").read_motion(ids[0]).num_frames == CROP
    assert ClipStore.open(out / "store" / "features").read(ids[0])[0]["features"].shape == (CROP, 135)
    for folder, suffix in {"clips": ".npz", "features": ".npy"}.items():
        names = sorted(p.name for p in (out / folder).iterdir())
        assert names == sorted(f"{i}{suffix}" for i in ids), folder  # no temporary file left, no duplicate
    m = _manifest(out)
    for i in ids:
        stages = m["clips"][i]["stages"]
        assert [stages[s]["status"] for s in STAGES] == ["done"] * len(STAGES), (i, stages)
        assert stages["ingest"]["outputs"] == [f"clips/{i}.npz"]
        assert stages["features"]["outputs"] == [f"features/{i}.npy"]
        assert load_motion(out / "clips" / f"{i}.npz").num_frames == CROP
        assert np.load(out / "features" / f"{i}.npy").shape == (CROP, 135)


def _kill_group(proc: subprocess.Popen) -> None:
    """End what is left of the process group this test started (the driver's Ray processes)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ------------------------------------------------------------------------------------------ Ray runs


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_every_output_is_there_once(crops, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(_cmd(crops, out, "--stages", ",".join(STAGES), "--workers", "2", "--store"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                            start_new_session=True)
    killed = None
    try:
        deadline = time.monotonic() + 180
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            for marker in (out / ".tasks").glob("*.json") if (out / ".tasks").is_dir() else []:
                try:
                    task = json.loads(marker.read_text())
                except (OSError, ValueError):
                    continue  # finished (removed) or being written
                os.kill(task["pid"], signal.SIGKILL)  # a worker in the middle of a task
                killed = task
                break
            time.sleep(0.02)
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        _kill_group(proc)
    assert killed is not None, "no task was seen running"
    assert proc.returncode == 0, stderr[-3000:]
    summary = json.loads(stdout.strip().splitlines()[-1])
    ids = sorted(p.stem for p in crops.glob("*.npz"))
    # the retry skips what the killed attempt had finished (its record written) and does the rest
    assert all(summary["stages"][s]["done"] + summary["stages"][s]["skipped"] == N_CLIPS for s in STAGES)
    assert all(summary["stages"][s]["failed"] == 0 for s in STAGES)
    assert set(killed["ids"]) <= set(ids)
    _check_outputs_once(out, ids)


@pytest.mark.slow
def test_a_killed_driver_loses_only_its_tasks_in_flight_and_a_rerun_completes(crops, tmp_path):
    out = tmp_path / "run"
    args = ("--stages", ",".join(STAGES), "--workers", "1", "--store")
    proc = subprocess.Popen(_cmd(crops, out, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_env(), start_new_session=True)
    done_before = 0
    try:
        deadline = time.monotonic() + 180
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                m = _manifest(out)
            except (OSError, ValueError):
                m = None
            if m is not None:
                done_before = sum(c["stages"]["ingest"]["status"] == "done" for c in m["clips"].values())
                if done_before >= 1:  # the first result: the others are in flight or waiting
                    break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        _kill_group(proc)
    assert done_before >= 1
    m = _manifest(out)  # the manifest is whole (atomic) and says what was done
    assert sum(c["stages"]["ingest"]["status"] == "done" for c in m["clips"].values()) >= done_before
    assert sum(c["stages"]["features"]["status"] == "done" for c in m["clips"].values()) < N_CLIPS
    rc, summary = _run(crops, out, *args)
    assert rc == 0, summary
    ing = summary["stages"]["ingest"]
    assert ing["skipped"] >= done_before and ing["skipped"] + ing["done"] == N_CLIPS  # not redone
    _check_outputs_once(out, sorted(p.stem for p in crops.glob("*.npz")))


@pytest.mark.slow
def test_an_unreadable_clip_fails_alone_and_the_rest_is_refined_and_tokenized(crops, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = sorted(crops.glob("*.npz"))[::7]  # three clips of different samples
    for f in good:
        (src / f.name).write_bytes(f.read_bytes())
    (src / "broken.npz").write_bytes(b"not a clip at all")
    walk = SAMPLES / "dataset-1_walk_normal_001.bvh"  # one BVH, fitted by the pipeline's ingest
    out = tmp_path / "run"
    rc, summary = _run([src, walk], out, "--workers", "2", "--iters", "20", "--refine-batch", "8")
    assert rc == 1
    m = _manifest(out)
    bad = m["clips"]["broken"]["stages"]
    assert bad["ingest"]["status"] == "failed" and "broken.npz" in bad["ingest"]["error"]
    assert all(bad[s]["status"] == "pending" for s in ("refine", "features", "tokenize"))
    ids = [f.stem for f in good] + [walk.stem]
    for s in ("ingest", "refine", "features", "tokenize"):
        st = summary["stages"][s]
        assert (st["done"], st["failed"]) == ((4, 1) if s == "ingest" else (4, 0)), (s, st)
        assert st["clips_per_s"] > 0 and st["frames_per_s"] > 0
    assert summary["stages"]["refine"]["pending"] == 1
    for i in ids:
        st = m["clips"][i]["stages"]
        assert all(st[s]["status"] == "done" for s in ("ingest", "refine", "features", "tokenize")), (i, st)
        refined = st["refine"]["outputs"]
        assert refined and all(load_motion(out / r).fps == 30.0 for r in refined)
        # features and tokens are made from the refined clips
        assert [Path(r).stem for r in refined] == [Path(f).stem for f in st["features"]["outputs"]]
    assert m["clips"][walk.stem]["stages"]["ingest"]["info"]["format"] == "bvh"


# ----------------------------------------------------------------------------- the parts, without Ray


def test_stages_parse_in_the_pipeline_order():
    from motionlib.motion.errors import MotionError
    from motionlib.pipeline.config import parse_stages

    assert parse_stages("tokenize,ingest") == ("ingest", "tokenize")
    assert parse_stages(None) == ("ingest", "refine", "features", "tokenize")
    with pytest.raises(MotionError, match="bogus"):
        parse_stages("ingest,bogus")


def test_units_are_file_stems_and_a_duplicate_id_or_archive_is_a_problem(tmp_path, crops):
    from motionlib.pipeline.io import folder_units

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    f = next(crops.glob("*.npz"))
    (a / f.name).write_bytes(f.read_bytes())
    (b / f.name).write_bytes(f.read_bytes())
    (b / "pack.tar.xz").write_bytes(b"")
    units, problems = folder_units([a, b, tmp_path / "missing"], raw=True)
    assert [u.id for u in units] == [f.stem]
    errors = " | ".join(e for _, e in problems.errors)
    assert "also that of" in errors and "archive" in errors and "missing" in errors


def test_a_stage_skips_what_loads_and_redoes_what_does_not(tmp_path, crops):
    from motionlib.pipeline.config import PipelineConfig
    from motionlib.pipeline.stages import run_jobs, stage_key

    cfg = PipelineConfig(out=tmp_path)
    key = stage_key("features", cfg)
    files = sorted(crops.glob("*.npz"))[:2]
    jobs = [(f.stem, [str(f)]) for f in files]
    first = run_jobs("features", jobs, str(tmp_path), cfg, key)
    assert [r["status"] for r in first] == ["done", "done"]
    assert first[0]["outputs"] == [f"features/{files[0].stem}.npy"] and first[0]["frames"] == CROP
    again = run_jobs("features", jobs, str(tmp_path), cfg, key)
    assert [r["status"] for r in again] == ["skipped", "skipped"]
    (tmp_path / "features" / f"{files[0].stem}.npy").write_bytes(b"truncated")  # an output that does not load
    third = run_jobs("features", jobs, str(tmp_path), cfg, {**key, "other": 1})  # and other settings
    assert [r["status"] for r in third] == ["done", "done"]
    assert np.load(tmp_path / "features" / f"{files[0].stem}.npy").shape == (CROP, 135)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"xx")
    (r,) = run_jobs("features", [("bad", [str(bad)])], str(tmp_path), cfg, key)
    assert r["status"] == "failed" and str(bad) in r["error"]


def test_the_manifest_is_rewritten_at_most_every_flush_interval(tmp_path):
    from motionlib.pipeline.io import Unit
    from motionlib.pipeline.manifest import Manifest

    m = Manifest(tmp_path, flush_s=3600)
    m.start(("ingest", "features"), [Unit("a", "a.bvh"), Unit("b", "b.bvh")], [("c.tar", "c.tar: an archive")])
    assert m.flush(force=True)
    m.set("a", "ingest", {"id": "a", "status": "done", "outputs": ["clips/a.npz"], "frames": 3})
    m.set("b", "ingest", {"id": "b", "status": "failed", "error": "b.bvh: broken"})
    m.set_pending("b", "features", "ingest failed")
    assert not m.flush()  # within the interval
    assert m.flush(force=True)
    back = Manifest.load(tmp_path)
    assert back.counts("ingest") == {"done": 1, "failed": 1, "pending": 0}
    assert back.entry("b", "ingest")["error"] == "b.bvh: broken"
    assert back.doc["problems"] == [{"source": "c.tar", "error": "c.tar: an archive"}]


def test_a_store_is_a_source_and_a_retried_task_writes_its_shard_once(tmp_path, crops):
    from motionlib.motion.store import ClipStore
    from motionlib.pipeline.config import PipelineConfig
    from motionlib.pipeline.io import folder_units
    from motionlib.pipeline.stages import run_jobs, stage_key
    from motionlib.pipeline.store_sink import create_stores, write_shard

    src = ClipStore.create(tmp_path / "src")
    files = sorted(crops.glob("*.npz"))[:3]
    with src.writer() as w:
        for f in files:
            w.add_motion(f.stem, load_motion(f))
    units, problems = folder_units([tmp_path / "src"], raw=True)
    assert sorted(u.id for u in units) == sorted(f.stem for f in files) and not problems.errors
    _, problems = folder_units([tmp_path / "src"], raw=False)  # without ingest a store is not read
    assert "ingest" in problems.errors[0][1]

    out = tmp_path / "run"
    cfg = PipelineConfig(out=out, stages=("ingest",), store=True)
    create_stores(out, cfg.stages)
    jobs = [(u.id, [u.source]) for u in units]
    results = run_jobs("ingest", jobs, str(out), cfg, stage_key("ingest", cfg))
    assert [r["status"] for r in results] == ["done"] * 3
    assert load_motion(out / "clips" / f"{files[0].stem}.npz").num_frames == CROP
    shard = write_shard(out, "ingest", results)
    store = ClipStore.open(out / "store" / "ingest")
    tar = store.shard_path(shard)
    size = tar.stat().st_size
    # a retry of the task: the same shard, not a second one
    assert write_shard(out, "ingest", run_jobs("ingest", jobs, str(out), cfg, stage_key("ingest", cfg))) == shard
    # a commit cut short (the tar without its index) is written again under its name
    index = next(p for p in store.shards_dir.iterdir() if p.name.endswith(".idx.json"))
    index.unlink()
    assert write_shard(out, "ingest", results) == shard and tar.stat().st_size == size
    store = ClipStore.open(out / "store" / "ingest")
    assert store.shards() == [shard] and sorted(store.ids()) == sorted(f.stem for f in files)
    assert not store.duplicates()
