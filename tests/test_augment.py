"""Named clip augmentations (motion/augment.py) and the tracker clip sets built with them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from motionlib.motion.augment import augmented, check_augment
from motionlib.cli.main import main
from motionlib.motion.io import load_motion, save_motion
from motionlib.policies.clip_sets import BandaiName, bandai_name, parse_augments, tracker_split


def test_names_chain_left_to_right(random_clip):
    assert augmented(random_clip, "") is random_clip
    both = augmented(random_clip, "reverse+speed:0.5")
    slow_back = random_clip.reversed().resample(random_clip.fps / 0.5).copy(fps=random_clip.fps)
    assert both.num_frames == 2 * random_clip.num_frames - 1
    assert np.allclose(both.positions(), slow_back.positions())
    assert np.allclose(augmented(random_clip, "mirror+reverse").positions(),
                       random_clip.mirrored().positions()[::-1], atol=1e-10)


@pytest.mark.parametrize("bad", ["spin", "speed:9", "speed:nan", "posture:x", "reverse+wobble"])
def test_unknown_or_out_of_range_names_are_refused(random_clip, bad):
    with pytest.raises(ValueError, match="augmentation"):
        check_augment(bad)
    with pytest.raises(ValueError, match="augmentation"):
        augmented(random_clip, bad)


def test_tracker_sets_adds_reversed_walks(random_clip, tmp_path, capsys):
    src = tmp_path / "clips"
    src.mkdir()
    names = ["dataset-2_walk_normal_001", "dataset-2_walk_normal_002", "dataset-2_wave-left-hand_normal_001",
             "dataset-2_walk-turn-left_active_001", "dataset-1_walk-back_normal_001"]
    for n in names:
        save_motion(random_clip.copy(meta={"source": n}), src / f"{n}.npz")
    (src / "dataset-2_walk-turn-left_normal_001.npz").write_bytes(b"not a clip")  # reported and left out
    out = tmp_path / "sets"
    argv = ["tracker-sets", str(src), "--out", str(out), "--takes", "1", "--augment", "reverse=_(walk|walk-turn-left)_"]
    assert main(argv) == 1  # the set is built; the unreadable clip is reported and sets the exit code
    text = capsys.readouterr().out
    assert "failed" in text and "walk-turn-left_normal_001" in text and "train: + 2 clips under reverse" in text
    train = sorted(p.name for p in (out / "train").glob("*.npz"))
    # takes <= 1 of dataset-2 (4 clips), then the reversed walks after them, ranked on (the bad file: none)
    assert len(train) == 6 and [t for t in train if t.endswith("_reverse.npz")] == [
        "0004_dataset-2_walk_normal_001_reverse.npz", "0005_dataset-2_walk-turn-left_active_001_reverse.npz"]
    rev = load_motion(out / "train" / train[4])
    assert np.allclose(rev.trans, random_clip.trans[::-1]) and rev.meta["reversed"]
    assert [p.name for p in (out / "eval").glob("*.npz")] == ["0000_dataset-1_walk-back_normal_001.npz"]
    assert main(argv[:-1] + ["spin=_walk_"]) == 2
    assert "unknown augmentation" in capsys.readouterr().err
    assert main(argv[:-2] + ["--json"]) == 0  # rebuilt without the augmentation: the old entries are replaced
    res = json.loads(capsys.readouterr().out)
    assert res == {"out": str(out), "train": 4, "eval": 1, "augmented": {}, "failed": 0, "errors": []}
    assert len(list((out / "train").glob("*.npz"))) == 4


def test_tracker_split_orders_the_curriculum_round_robin_over_contents():
    files = [Path(f"dataset-2_{c}_{s}_{t:03d}.npz") for c in ("walk", "bow") for s in ("active", "normal")
             for t in (1, 2)] + [Path("dataset-1_walk_not-confident_001.npz"), Path("dataset-1_bow_normal_002.npz"),
                                 Path("my_clip.npz")]
    train, evals = tracker_split(files, takes=1)
    assert [p.stem for p in train] == ["dataset-2_bow_active_001", "dataset-2_walk_active_001",
                                       "dataset-2_bow_normal_001", "dataset-2_walk_normal_001"]
    assert evals == [Path("dataset-1_bow_normal_002.npz")]
    assert len(tracker_split(files, takes=2)[0]) == 8
    assert bandai_name("x/dataset-1_walk_not-confident_003.npz") == BandaiName("dataset-1", "walk", "not-confident", 3)
    assert bandai_name("my_clip.npz") is None
    with pytest.raises(ValueError, match="AUG=REGEX"):
        parse_augments(["reverse"])
    with pytest.raises(ValueError, match="--augment"):
        parse_augments(["reverse=(unclosed"])


def test_corpus_sets_hold_out_a_hash_split_on_every_body_and_leave_dataset_1_out(tmp_path, capsys):
    import hashlib

    from motionlib.cli.main import main
    from motionlib.policies.clip_sets import corpus_validation, write_corpus_sets

    names = [f"dataset-2_{c}_{s}_{t:03d}.npz" for c in ("walk", "bow", "run") for s in ("active", "normal", "sad")
             for t in range(1, 9)]
    mean, fit = tmp_path / "mean", tmp_path / "fit"
    for d in (mean, fit):
        d.mkdir()
        for n in names + ["dataset-1_kick_normal_001.npz"]:
            (d / n).write_bytes(b"")
    (fit / names[5]).unlink()  # a clip the fitted ingest lacks
    val = [n for n in names if int(hashlib.sha1(n.encode()).hexdigest(), 16) % 5 == 0 and not n.endswith("_001.npz")]
    assert val and all(corpus_validation(n, 5) for n in val)
    assert not any(corpus_validation(n, 5) for n in names if n.endswith("_001.npz"))  # take 1 trains
    sets = write_corpus_sets({"mean": mean, "fit": fit}, tmp_path / "sets", every=5)
    assert sets.missing == [names[5]]
    expect_val = sorted(n for n in val if n != names[5])
    assert sorted(p.name for p in sets.val["mean"]) == expect_val == sorted(p.name for p in sets.val["fit"])
    train = sorted(p.name for p in (tmp_path / "sets" / "train").iterdir())
    assert len(train) == 2 * (len(names) - 1 - len(expect_val))
    assert not any("dataset-1" in n for n in train) and {n.split("_", 1)[0] for n in train} == {"mean", "fit"}
    assert (tmp_path / "sets" / "val" / f"fit_{expect_val[0]}").resolve() == (fit / expect_val[0]).resolve()
    # the command: one body without --fitted; a rebuild replaces the old entries
    assert main(["tracker-sets", str(mean), "--corpus", "--val-every", "5", "--out", str(tmp_path / "sets"),
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["val"] == {"clip": len(val)} and res["missing"] == []
    assert len(list((tmp_path / "sets" / "train").iterdir())) == len(names) - len(val)
    with pytest.raises(SystemExit, match="--fitted needs --corpus"):
        main(["tracker-sets", str(mean), "--fitted", str(fit), "--out", str(tmp_path / "x")])
    with pytest.raises(ValueError, match="not an ingested dataset-2"):
        corpus_validation("dataset-1_kick_normal_001.npz")
