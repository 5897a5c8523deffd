"""The sharded clip store (motionlib.motion.store) and `motionlib store`, and training from a store."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest

from motionlib.cli.main import main as cli_main
from motionlib.motion.errors import MotionError
from motionlib.motion.io import load_motion, save_motion
from motionlib.motion.store import ClipStore, is_store

from walk_fixture import make_walking_clip

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "dataset-2_wave-right-hand_normal_001.npz"


def same_motion(a, b) -> None:
    for k in ("trans", "rotations", "betas"):
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and np.array_equal(x, y), k
    assert (a.offsets is None) == (b.offsets is None)
    if a.offsets is not None:
        assert np.array_equal(a.offsets, b.offsets)
    assert (a.fps, a.gender, a.body_scale, a.meta) == (b.fps, b.gender, b.body_scale, b.meta)


def sample_clips():
    """The bundled ingested clip, a procedural walk on a scaled body, and a mirrored walk (own offsets)."""
    walk = make_walking_clip(seconds=1.0, speed=1.2)
    walk.meta.update({"texts": {"captions": ["a person walks"], "body_parts": {}}, "x": [1, 2.5, None]})
    return {"sample": load_motion(SAMPLE), "walk": walk.copy(body_scale=1.07, gender="female", fps=29.97),
            "mirrored": walk.mirrored()}


def rec(i: int) -> tuple[dict, dict]:
    r = np.random.default_rng(i)
    return ({"x": r.normal(size=(3 + i % 5, 4)), "n": np.arange(i, dtype=np.int32), "s": np.array(f"clip {i}")},
            {"i": i, "name": f"c{i:03d}"})


def assert_rec(got, i: int) -> None:
    arrays, meta = got
    want_a, want_m = rec(i)
    assert meta == want_m and set(arrays) == set(want_a)
    for k, v in want_a.items():
        assert arrays[k].dtype == v.dtype and np.array_equal(arrays[k], v)


# ------------------------------------------------------------------------------------------- API
def test_motion_round_trip_bit_exact(tmp_path):
    clips = sample_clips()
    store = ClipStore.create(tmp_path / "s")
    with store.writer(max_clips=2) as w:
        for cid, m in clips.items():
            w.add_motion(cid, m)
    assert len(w.shards) == 2 and store.shards() == w.shards
    again = ClipStore.open(tmp_path / "s")
    assert again.ids() == sorted(clips) and len(again) == 3 and "walk" in again and "nope" not in again
    for cid, m in clips.items():
        same_motion(again.read_motion(cid), m)
    streamed = dict(again.iter_motions(shuffle=True, seed=3))
    assert sorted(streamed) == sorted(clips)
    for cid, m in streamed.items():
        same_motion(m, clips[cid])


def test_random_access_and_streaming(tmp_path):
    store = ClipStore.create(tmp_path / "s")
    with store.writer(shard_name="part", max_clips=7) as w:
        for i in range(40):
            w.add(f"c{i:03d}", *rec(i))
    assert store.shards() == [f"part-{k:05d}" for k in range(6)]
    order = np.random.default_rng(0).permutation(40)
    for i in order:
        assert_rec(store.read(f"c{i:03d}"), int(i))
    with pytest.raises(KeyError, match="c999"):
        store.read("c999")
    seen = [cid for cid, a, m in store.iter_records()]
    assert sorted(seen) == store.ids() and len(seen) == 40
    a = [cid for cid, *_ in store.iter_records(shuffle=True, seed=1)]
    b = [cid for cid, *_ in store.iter_records(shuffle=True, seed=1)]
    c = [cid for cid, *_ in store.iter_records(shuffle=True, seed=2)]
    assert a == b and a != c and sorted(a) == sorted(seen)
    # one worker's share of the shards
    half = store.shards()[::2]
    part = [cid for cid, *_ in store.iter_records(shards=half)]
    assert sorted(part) == sorted(i for s in half for i in store.shard_ids(s))


def test_create_open_and_record_errors(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(MotionError, match="not an empty folder"):
        ClipStore.create(tmp_path / "full")
    with pytest.raises(MotionError, match=f"{tmp_path / 'full'}.*not a motionlib clip store"):
        ClipStore.open(tmp_path / "full")
    assert not is_store(tmp_path / "full")
    store = ClipStore.create(tmp_path / "s")
    assert is_store(tmp_path / "s") and len(ClipStore.open(tmp_path / "s")) == 0
    with store.writer() as w:
        w.add("a", *rec(1))
        with pytest.raises(ValueError, match="already"):
            w.add("a", *rec(2))
        for bad in ("", "a/b", ".hidden", "tab\there"):
            with pytest.raises(ValueError, match="clip id"):
                w.add(bad, *rec(1))
        with pytest.raises(ValueError, match="pickles"):
            w.add("obj", {"o": np.array([{"a": 1}], dtype=object)}, {})
        with pytest.raises(TypeError, match="JSON"):
            w.add("meta", {}, {"f": object()})
    assert store.ids() == ["a"]
    # a writer that fails leaves no shard and no temporary file behind
    with pytest.raises(RuntimeError):
        with store.writer() as w:
            w.add("b", *rec(2))
            raise RuntimeError("stop")
    assert store.refresh().ids() == ["a"] and len(list((tmp_path / "s" / "shards").iterdir())) == 2


def _write_part(path: str, worker: int, n: int) -> None:
    store = ClipStore.open(path)
    with store.writer(max_clips=3) as w:
        for i in range(n):
            k = worker * 1000 + i
            w.add(f"w{worker}-{i:03d}", *rec(k))


def test_two_writer_processes_at_once(tmp_path):
    parent = ClipStore.create(tmp_path / "s")
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    procs = [ctx.Process(target=_write_part, args=(str(tmp_path / "s"), k, 20)) for k in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(parent) == 0 and len(parent.refresh()) == 40  # shards of other processes appear on refresh
    store = ClipStore.open(tmp_path / "s")
    assert len(store) == 40 and store.duplicates() == {} and len(store.shards()) == 14
    assert not [p for p in (tmp_path / "s" / "shards").iterdir() if p.name.startswith(".")]  # no temporary left
    assert sum(len(store.shard_ids(s)) for s in store.shards()) == 40
    # what a writer killed before its commit leaves: hidden temporaries, which no reader sees and which
    # remove_temporaries deletes (the pipeline's driver calls it once no task runs)
    for name in (".w9-00000.12.34.tar.tmp", ".w9-00000.12.34.idx.json.tmp"):
        (tmp_path / "s" / "shards" / name).write_bytes(b"half")
    assert len(ClipStore.open(tmp_path / "s")) == 40
    assert store.remove_temporaries() == 2 and store.remove_temporaries() == 0
    assert len(list((tmp_path / "s" / "shards").iterdir())) == 2 * 14
    for k in (1, 2):
        for i in range(20):
            assert_rec(store.read(f"w{k}-{i:03d}"), k * 1000 + i)


def test_duplicate_id_newest_shard_wins(tmp_path):
    store = ClipStore.create(tmp_path / "s")
    with store.writer(shard_name="old") as w:
        w.add("a", *rec(1))
        w.add("b", *rec(2))
    with store.writer(shard_name="new") as w:
        w.add("a", *rec(3))
    assert store.duplicates() == {"a": ["old-00000", "new-00000"]}  # the writing process's view
    assert_rec(store.read("a"), 3)
    store = ClipStore.open(tmp_path / "s")
    assert store.ids() == ["a", "b"] and len(store) == 2
    assert_rec(store.read("a"), 3)
    assert store.duplicates() == {"a": ["old-00000", "new-00000"]}
    assert [cid for cid, *_ in store.iter_records()].count("a") == 1
    compact = store.compact(tmp_path / "c")
    assert compact.duplicates() == {} and compact.ids() == ["a", "b"]
    assert_rec(ClipStore.open(tmp_path / "c").read("a"), 3)
    # a shard name is never reused
    with pytest.raises(MotionError, match="exists already"):
        with store.writer(shard_name="old") as w:
            w.add("z", *rec(9))


def test_corrupt_shard_named(tmp_path):
    store = ClipStore.create(tmp_path / "s")
    with store.writer(shard_name="good") as w:
        w.add("a", *rec(1))
    with store.writer(shard_name="bad") as w:
        for i in range(3):
            w.add(f"b{i}", *rec(10 + i))
    tar = tmp_path / "s" / "shards" / "bad-00000.tar"
    data = bytearray(tar.read_bytes())
    # a flipped byte inside a stored array: the read names the shard
    off = store._where["b1"][1].arrays["x"][0] + 200
    data[off] ^= 0xFF
    tar.write_bytes(bytes(data))
    with pytest.raises(MotionError, match=r"bad-00000\.tar.*b1.*checksum"):
        ClipStore.open(tmp_path / "s").read("b1")
    # a truncated shard: open names it, or skips it with a warning
    tar.write_bytes(bytes(data[:len(data) // 2]))
    with pytest.raises(MotionError, match=r"bad-00000\.tar.*truncated"):
        ClipStore.open(tmp_path / "s")
    with pytest.warns(UserWarning, match="bad-00000"):
        s2 = ClipStore.open(tmp_path / "s", skip_bad=True)
    assert s2.ids() == ["a"] and "bad-00000" in s2.skipped
    # an index that is not JSON
    (tmp_path / "s" / "shards" / "bad-00000.idx.json").write_text("{not json")
    with pytest.raises(MotionError, match=r"bad-00000\.tar.*unreadable"):
        ClipStore.open(tmp_path / "s")
    # an unfinished shard (tar without index) is not a shard
    (tmp_path / "s" / "shards" / "bad-00000.idx.json").unlink()
    assert ClipStore.open(tmp_path / "s").ids() == ["a"]


# ------------------------------------------------------------------------------------------- CLI
def _tokens(n: int, tid: str = "tok-1"):
    from motionlib.tokenizer.tokens import TokenFile

    return TokenFile(indices=np.arange(n * 7).reshape(n, 7) % 50, tokenizer_id=tid, config_hash="h",
                     num_frames=4 * n, fps=30.0, config={"bits": 8}, origin={"yaw": 0.1, "xy": [0.0, 1.0]},
                     body_scale=1.0, offsets=None, source="x.npz")


def test_cli_pack_unpack_info(tmp_path, capsys):
    from motionlib.tokenizer.tokens import load_tokens, save_tokens

    src = tmp_path / "clips"
    clips = sample_clips()
    for cid, m in clips.items():
        save_motion(m, src / f"{cid}.npz")
    save_tokens(src / "walk.tokens.npz", _tokens(5))
    (src / "broken.npz").write_bytes(b"not a zip")
    out = tmp_path / "store"
    assert cli_main(["store", "pack", str(src), "--out", str(out), "--max-clips", "2", "--json"]) == 1
    res = json.loads(capsys.readouterr().out)
    assert res["packed"] == 3 and res["with_tokens"] == 1 and res["failed"] == 1 and "broken.npz" in res["errors"][0]
    assert res["clips"] == 3 and res["shards"] == 2
    # packing a clip again adds a shard: its id is then a duplicate, reported by info
    assert cli_main(["store", "pack", str(src / "sample.npz"), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["replaced"] == 1
    assert cli_main(["store", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["clips"], info["shards"], info["records"], info["duplicates"]) == (3, 3, 4, 1)
    assert info["bytes"] > 0 and list(info["duplicate_ids"]) == ["sample"]
    assert cli_main(["store", "unpack", str(out), "--out", str(tmp_path / "back"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert (res["clips"], res["tokens"]) == (3, 1)
    store = ClipStore.open(out)
    for cid in clips:
        # the store holds the loaded clip bit for bit, and the unpacked file holds the store's arrays
        same_motion(store.read_motion(cid), load_motion(src / f"{cid}.npz"))
        arrays, _ = store.read(cid)
        with np.load(tmp_path / "back" / f"{cid}.npz", allow_pickle=False) as z:
            for k in ("trans", "rotations", "betas"):
                assert np.array_equal(z[k], arrays[k])
        back = load_motion(tmp_path / "back" / f"{cid}.npz")
        assert back.meta == {"source": str(src / f"{cid}.npz")} | clips[cid].meta
    a, b = load_tokens(tmp_path / "back" / "walk.tokens.npz"), load_tokens(src / "walk.tokens.npz")
    assert np.array_equal(a.indices, b.indices) and (a.tokenizer_id, a.origin, a.config, a.num_frames) == (
        b.tokenizer_id, b.origin, b.config, b.num_frames)
    assert cli_main(["store", "compact", str(out), "--out", str(tmp_path / "c"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["duplicates_dropped"] == 1
    assert cli_main(["store", "info", str(tmp_path / "clips")]) == 2
    assert "not a motionlib clip store" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- training
def test_tokenizer_trains_from_a_store_like_from_the_folder(tmp_path):
    import torch

    from motionlib.tokenizer.config import TokenizerConfig, TokenizerTrainConfig
    from motionlib.tokenizer.data import load_split
    from motionlib.tokenizer.train import train_tokenizer

    torch.set_num_threads(1)
    folder = tmp_path / "walks"
    for i, (speed, cadence) in enumerate([(1.1, 0.9), (0.8, 0.7), (1.4, 1.1), (1.0, 0.8)]):
        save_motion(make_walking_clip(seconds=2.0, speed=speed, cadence_hz=cadence), folder / f"walk-{i}.npz")
    save_motion(make_walking_clip(seconds=2.0), folder / "walk.npz")  # sorts after walk-N as a file name
    assert cli_main(["store", "pack", str(folder), "--out", str(tmp_path / "store"), "--max-clips", "2"]) == 0
    a = load_split(folder, 30.0, 32, 0.4)
    b = load_split(tmp_path / "store", 30.0, 32, 0.4)
    for xs, ys in zip(a[:2], b[:2]):
        assert [x.path.name for x in xs] == [y.path.name for y in ys] and xs
        for x, y in zip(xs, ys):
            assert np.array_equal(x.feats, y.feats) and x.origin == y.origin and np.array_equal(x.offsets, y.offsets)
    assert np.array_equal(a[2].mean, b[2].mean) and np.array_equal(a[2].std, b[2].std)
    cfg = TokenizerConfig(kind="lfq2d", window=32, width=16, depth=1, bits=8)
    losses = []
    for name, src in (("f", folder), ("s", tmp_path / "store")):
        tcfg = TokenizerTrainConfig(out=str(tmp_path / name), steps=2, batch=4, lr=2e-3, warmup_steps=1, eval_every=2,
                                    log_every=1, val_fraction=0.4, tensorboard=False, progress=False)
        res = train_tokenizer(src, cfg, tcfg)
        assert res.step == 2 and res.train_clips == len(a[0])
        losses.append(res.last_losses)
    assert losses[0] == losses[1]


def test_lm_instruction_data_from_a_store(tmp_path):
    from motionlib.llm.dataset import DataConfig, InstructionData
    from motionlib.llm.splits import build_manifest
    from motionlib.tokenizer.tokens import save_tokens

    folder = tmp_path / "clips"
    for i in range(6):
        m = make_walking_clip(seconds=1.0, speed=1.0 + 0.1 * i)
        m.meta.update({"texts": {"captions": [f"walk number {i}"], "body_parts": {}},
                       "labels": {"dataset": "dataset-2", "content": "walk", "style": "normal"}})
        save_motion(m, folder / f"c{i}.npz")
        if i != 5:  # one clip without tokens
            save_tokens(folder / f"c{i}.tokens.npz", _tokens(4 + i))
    save_motion(make_walking_clip(seconds=1.0), folder / "nocaption.npz")
    assert cli_main(["store", "pack", str(folder), "--out", str(tmp_path / "store")]) == 0
    mf, ms = build_manifest([folder], 0.3), build_manifest([tmp_path / "store"], 0.3)
    assert [(e.id, e.split, e.frames, e.fps, e.captions) for e in mf.clips] == [
        (e.id, e.split, e.frames, e.fps, e.captions) for e in ms.clips]
    assert all(e.store == str(tmp_path / "store") and e.clip == e.id for e in ms.clips) and len(ms.skipped) == 1
    for split in ("train", "val"):
        df, ds = InstructionData(mf, split, DataConfig(), "tok-1"), InstructionData(ms, split, DataConfig(), "tok-1")
        assert sorted(df.grids) == sorted(ds.grids) and len(df.missing) == len(ds.missing)
        for k in df.grids:
            assert np.array_equal(df.grids[k], ds.grids[k])
    with pytest.raises(MotionError, match="tokenizer"):
        InstructionData(ms, "train", DataConfig(), "another-tokenizer")
