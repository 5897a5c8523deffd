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
