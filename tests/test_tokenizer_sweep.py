"""The data split of the tokenizer benchmark script (``scripts/tokenizer_sweep.py``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _sweep():
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    return importlib.import_module("tokenizer_sweep")


def test_d2_split_trains_on_dataset2_and_evaluates_on_all_of_dataset1():
    m = _sweep()
    held = set(m.HELD_OUT_STYLES.split(","))
    assert m.clip_role(Path("dataset-2_walk_active_012.npz"), "d2", held) == "train"
    assert m.clip_role(Path("dataset-1_walk_normal_001.npz"), "d2", held) == "eval"
    assert m.clip_role(Path("dataset-1_walk-back_angry_001.npz"), "d2", held) == "eval"
    assert m.clip_role(Path("sample_wave.npz"), "d2", held) is None


def test_styles_split_keeps_held_out_styles_out_of_training():
    m = _sweep()
    held = {"angry", "not-confident"}
    assert m.d1_style(Path("x/dataset-1_walk-back_not-confident_001.npz")) == "not-confident"
    assert m.clip_role(Path("dataset-1_walk-back_not-confident_001.npz"), "styles", held) == "eval"
    assert m.clip_role(Path("dataset-1_bow_angry_001.npz"), "styles", held) == "eval"
    assert m.clip_role(Path("dataset-1_kick_normal_001.npz"), "styles", held) == "train"
    assert m.clip_role(Path("dataset-2_run_elderly_003.npz"), "styles", held) == "train"
    # the shipped default: 5 of the 15 dataset-1 styles, none of them "normal" (the only style of kick, dance...)
    default = set(m.HELD_OUT_STYLES.split(","))
    assert len(default) == 5 and "normal" not in default


def test_augmentations_encode_augmented_clips_into_their_own_caches(tmp_path):
    import argparse

    import numpy as np
    import pytest

    from motionlib.motion import load_motion, save_motion
    from motionlib.motion.features import encode_clip
    from walk_fixture import make_walking_clip

    m = _sweep()
    clips = tmp_path / "clips"
    for name in ("dataset-2_walk_active_001", "dataset-1_walk_normal_001", "dataset-1_walk_angry_001"):
        save_motion(make_walking_clip(seconds=1.5), clips / f"{name}.npz")
    args = argparse.Namespace(clips=clips, cache_dir=tmp_path / "cache", split="styles", held_out_styles="angry",
                              train_cache=None, eval_cache=None, mirror=True, posture_copies=2, speeds="1.25")
    assert m.augmentations(args) == ["mirror", "posture:0", "posture:1", "speed:1.25"]
    train, evals = m.load_sets(args)
    assert [c.path.name for c in evals] == ["dataset-1_walk_angry_001.npz"]
    mirrored = m.augmented_features(args, "mirror", train)
    assert [c.path for c in mirrored] == [c.path for c in train]
    assert (tmp_path / "cache" / "train_styles_angry_mirror.npz").exists()
    for c, mc in zip(train, mirrored):
        assert np.allclose(mc.feats, encode_clip(load_motion(c.path).mirrored()), atol=1e-6)
        assert not np.allclose(mc.feats, c.feats, atol=1e-3)
    posture = m.augmented_features(args, "posture:1", train)
    assert (tmp_path / "cache" / "train_styles_angry_posture1.npz").exists()
    from motionlib.motion.posture import offset_posture

    for c, pc in zip(train, posture):
        assert np.allclose(pc.feats, encode_clip(offset_posture(load_motion(c.path), 1)), atol=1e-6)
    fast = m.augmented_features(args, "speed:1.25", train)
    assert (tmp_path / "cache" / "train_styles_angry_speed1.25.npz").exists()
    for c, fc in zip(train, fast):
        assert fc.num_frames < c.num_frames
        assert np.allclose(fc.feats, encode_clip(load_motion(c.path).resample(24.0).copy(fps=30.0)), atol=1e-6)
    with pytest.raises(SystemExit, match="--speeds"):
        m.augmentations(argparse.Namespace(mirror=False, posture_copies=0, speeds="1.2,fast"))
    args.train_cache = tmp_path / "cache" / "train_styles_angry.npz"
    with pytest.raises(SystemExit, match="--mirror"):
        m.augmented_features(args, "mirror", train)
