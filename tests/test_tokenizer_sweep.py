"""The tokenizer benchmark harness (``motionlib.tokenizer.sweep``): data split, augmentations, runs; the
error profile (``motionlib tokenizer-profile``) and the export of a run (``motionlib export-tokenizer``)."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.main import main


def _sweep():
    from motionlib.tokenizer import sweep

    return sweep


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
    with pytest.raises(ValueError, match="--speeds"):
        m.augmentations(argparse.Namespace(mirror=False, posture_copies=0, speeds="1.2,fast"))
    args.train_cache = tmp_path / "cache" / "train_styles_angry.npz"
    with pytest.raises(ValueError, match="--mirror"):
        m.augmented_features(args, "mirror", train)


def test_error_profile_matches_eval_and_splits_slow_from_fast(tmp_path, capsys):
    """``motionlib tokenizer-profile``: its root-aligned MPJPE is eval-tokenizer's (same
    clips, same shipped model), per-style and per-joint figures average back to it, and the slow
    and fast parts bound it (triangle inequality), with the whole error slow for a window of one frame."""
    import json

    import torch

    from motionlib.motion import save_motion
    from motionlib.tokenizer.checkpoint import default_tokenizer_path, load_tokenizer
    from motionlib.tokenizer.data import list_clips, load_clip_features
    from motionlib.tokenizer.losses import FeatureDenormalizer
    from motionlib.tokenizer.metrics import evaluate_clips
    from walk_fixture import make_walking_clip

    from motionlib.tokenizer import error_profile as prof

    d = tmp_path / "clips"
    for i, (name, speed) in enumerate([("dataset-1_walk_sad_001", 0.8), ("dataset-1_walk_angry_001", 1.3),
                                       ("my_clip", 1.0)]):
        save_motion(make_walking_clip(seconds=1.0 + 0.5 * i, speed=speed), d / f"{name}.npz")
    assert main(["tokenizer-profile", str(d), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    model, ck = load_tokenizer(default_tokenizer_path())
    clips = [load_clip_features(p, ck.config.fps) for p in list_clips(d)]
    ref = evaluate_clips(model, clips, FeatureDenormalizer(ck.stats))
    assert res["clips"] == 3 and set(res["per_style_mm"]) == {"sad", "angry", "-"}
    assert abs(res["mpjpe_root_aligned_mm"] - ref["mpjpe_root_aligned_mm"]) < 1e-3
    frames = {r["clip"]: r["frames"] for r in res["worst_clips"]}
    per_clip = sum(r["mpjpe_root_aligned_mm"] * r["frames"] for r in res["worst_clips"]) / sum(frames.values())
    assert abs(per_clip - res["mpjpe_root_aligned_mm"]) < 1e-3
    assert abs(sum(res["per_joint_mm"]) / 22 - res["mpjpe_root_aligned_mm"]) < 0.1
    assert res["per_joint_mm"][0] == 0.0 and res["mpjpe_root_aligned_mm"] > 0
    assert res["slow_mm"] + res["fast_mm"] >= res["mpjpe_root_aligned_mm"] - 1e-6
    assert 0 < res["slow_mm"] < res["mpjpe_root_aligned_mm"] and res["fast_mm"] > 0
    assert main(["tokenizer-profile", str(d), "--json", "--smooth-s", "0"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert abs(one["slow_mm"] - one["mpjpe_root_aligned_mm"]) < 1e-3 and one["fast_mm"] < 1e-6
    from motionlib.tokenizer.feature_cache import is_feature_cache, save_cache

    save_cache(tmp_path / "cache.npz", clips)  # a feature cache and a clip file, both .npz, are told apart
    assert is_feature_cache(tmp_path / "cache.npz") and not is_feature_cache(d / "my_clip.npz")
    assert not is_feature_cache(tmp_path / "missing.npz")
    assert main(["tokenizer-profile", str(tmp_path / "cache.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mpjpe_root_aligned_mm"] == res["mpjpe_root_aligned_mm"]
    assert main(["tokenizer-profile", str(d / "my_clip.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clips"] == 1
    ramp = torch.arange(9.0)[:, None, None].expand(9, 2, 3)  # a centred mean keeps a linear ramp inside
    sm = prof.smooth(ramp, 5)
    assert sm.shape == ramp.shape and torch.equal(prof.smooth(ramp, 1), ramp)
    assert torch.allclose(sm[2:7], ramp[2:7]) and torch.allclose(sm[0], torch.full((2, 3), 0.6))  # (0+0+0+1+2)/5


def test_checkpoint_choice_and_run_configs(tmp_path):
    """eval/export --checkpoint: best.pt (falling back to last.pt) or last.pt; RunSpec overrides reach the config."""
    import pytest

    from motionlib.tokenizer.checkpoint import run_checkpoint

    m = _sweep()
    assert run_checkpoint(tmp_path, "best") is None
    (tmp_path / "last.pt").write_bytes(b"")
    assert run_checkpoint(tmp_path, "best") == tmp_path / "last.pt"
    (tmp_path / "best.pt").write_bytes(b"")
    assert run_checkpoint(tmp_path, "best") == tmp_path / "best.pt"
    assert run_checkpoint(tmp_path, "last") == tmp_path / "last.pt"
    with pytest.raises(ValueError, match="unknown run"):
        m.spec_named("main_lfq2d_99")
    with pytest.raises(ValueError, match="no run matches"):
        m.select("nothing_*")
    assert [r.name for r in m.select("main_lfq2d_14*")] == ["main_lfq2d_14", "main_lfq2d_14_ent0.1",
                                                             "main_lfq2d_14_fk5", "main_lfq2d_14_global",
                                                             "main_lfq2d_14_global_e1k", "main_lfq2d_14_global_ent3",
                                                             "main_lfq2d_14_global_div3"]
    assert m.spec_named("main_lfq2d_14").config().w_fk == 1.0
    fk5 = m.spec_named("main_lfq2d_14_fk5").config()
    assert fk5.w_fk == 5.0 and fk5.w_entropy == 0.01
    sixteen = m.spec_named("main_lfq2d_16").config()
    assert sixteen.bits == 16 and sixteen.entropy_max_tokens == 256
    glob = m.spec_named("main_lfq2d_14_global").config()
    assert glob.w_global == 5.0 and glob.w_fk == 5.0 and glob.entropy_max_tokens == 256 and fk5.w_global == 0.0
    e1k = m.spec_named("main_lfq2d_14_global_e1k").config()
    assert e1k.w_global == 5.0 and e1k.entropy_max_tokens == 1024
    assert m.spec_named("main_lfq2d_14_global_ent3").config().w_entropy == 0.03
    div3 = m.spec_named("main_lfq2d_14_global_div3").config()
    assert div3.entropy_gamma == 3.0 and div3.w_entropy == 0.03 and fk5.entropy_gamma == 1.0
    # fine-tuning flags reach the run's TokenizerTrainConfig; unset ones keep the run's own values
    import argparse

    spec = m.spec_named("main_lfq2d_14_global")
    args = argparse.Namespace(weight_decay=0.1, part_mix=0.0, ema_decay=0.0, lr=2e-4, batch=64, warmup_steps=None,
                              eval_every=250, init_from="ship.pt")
    tcfg = spec.train_config(tmp_path, "cpu", 1.0, 1, **m.train_overrides(args))
    assert (tcfg.lr, tcfg.batch, tcfg.eval_every, tcfg.init_from, tcfg.warmup_steps) == (2e-4, 64, 250, "ship.pt",
                                                                                          spec.warmup)
    assert spec.train_config(tmp_path, "cpu", 1.0, 1).eval_every == 2000
