"""Named clip augmentations (motion/augment.py) and the tracker clip sets built with them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from motionlib.motion.augment import augmented, check_augment
from motionlib.motion.io import load_motion, save_motion

REPO = Path(__file__).resolve().parents[1]


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


def test_tracker_clip_sets_adds_reversed_walks(random_clip, tmp_path):
    src = tmp_path / "clips"
    src.mkdir()
    names = ["dataset-2_walk_normal_001", "dataset-2_walk_normal_002", "dataset-2_wave-left-hand_normal_001",
             "dataset-2_walk-turn-left_active_001", "dataset-1_walk-back_normal_001"]
    for n in names:
        save_motion(random_clip.copy(meta={"source": n}), src / f"{n}.npz")
    (src / "dataset-2_walk-turn-left_normal_001.npz").write_bytes(b"not a clip")  # reported and left out
    out = tmp_path / "sets"
    cmd = [sys.executable, str(REPO / "scripts" / "tracker_clip_sets.py"), str(src), "--out", str(out), "--takes", "1",
           "--augment", "reverse=_(walk|walk-turn-left)_"]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    assert "skipped" in done.stderr and "walk-turn-left_normal_001" in done.stderr
    train = sorted(p.name for p in (out / "train").glob("*.npz"))
    # takes <= 1 of dataset-2 (4 clips), then the reversed walks after them, ranked on (the bad file: none)
    assert len(train) == 6 and [t for t in train if t.endswith("_reverse.npz")] == [
        "0004_dataset-2_walk_normal_001_reverse.npz", "0005_dataset-2_walk-turn-left_active_001_reverse.npz"]
    rev = load_motion(out / "train" / train[4])
    assert np.allclose(rev.trans, random_clip.trans[::-1]) and rev.meta["reversed"]
    assert [p.name for p in (out / "eval").glob("*.npz")] == ["0000_dataset-1_walk-back_normal_001.npz"]
    bad = subprocess.run(cmd[:-1] + ["spin=_walk_"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown augmentation" in bad.stderr
