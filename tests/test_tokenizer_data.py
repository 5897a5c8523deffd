"""Tokenizer data plumbing and the shipped model: feature cache, packed copies,
time-budgeted training, batched code counts, presets and the default checkpoint."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from motionlib.motion import load_motion, save_motion
from motionlib.motion.errors import MotionError
from motionlib.motion.features import encode_clip
from motionlib.tokenizer import feature_cache as FC
from motionlib.tokenizer.checkpoint import ENV_TOKENIZER, default_tokenizer_path, load_checkpoint, load_tokenizer, \
    resolve_tokenizer
from motionlib.tokenizer.config import TokenizerConfig, TokenizerTrainConfig
from motionlib.tokenizer.data import load_clip_features
from motionlib.tokenizer.losses import FeatureDenormalizer
from motionlib.tokenizer.metrics import MetricAccumulator, code_counts, codebook_counts, reconstruct_clip
from motionlib.tokenizer.model import build_tokenizer
from motionlib.tokenizer.presets import PRESETS, preset
from motionlib.tokenizer.train import lr_at, schedule_progress, train_on_clips

from walk_fixture import make_walking_clip

REPO = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


def _clips(d: Path, n: int = 3) -> list[Path]:
    paths = []
    for i in range(n):
        p = d / f"walk_{i}.npz"
        save_motion(make_walking_clip(seconds=1.0 + 0.5 * i, speed=0.8 + 0.3 * i), p)
        paths.append(p)
    return paths


def test_feature_cache_reused_until_a_clip_changes(tmp_path, monkeypatch):
    paths = _clips(tmp_path / "clips")
    cache = tmp_path / "cache.npz"
    first = FC.cached_clip_features(paths, 30.0, cache, progress=False)
    direct = [load_clip_features(p, 30.0) for p in paths]
    for a, b in zip(first, direct):
        assert a.path == b.path and np.array_equal(a.feats, b.feats) and np.allclose(a.offsets, b.offsets)
        assert a.origin == b.origin and a.fps == b.fps

    calls = []
    real = FC.load_clip_features
    monkeypatch.setattr(FC, "load_clip_features", lambda p, fps, **kw: calls.append(p) or real(p, fps, **kw))
    again = FC.cached_clip_features(paths, 30.0, cache, progress=False)  # up to date: nothing re-encoded
    assert calls == [] and all(np.array_equal(a.feats, b.feats) for a, b in zip(again, first))
    save_motion(make_walking_clip(seconds=2.0), paths[1])  # a clip changes: the cache is rebuilt
    rebuilt = FC.cached_clip_features(paths, 30.0, cache, progress=False)
    assert calls == paths and rebuilt[1].num_frames == 61
    (tmp_path / "junk.npz").write_bytes(b"x")
    with pytest.raises(MotionError, match="feature cache"):
        FC.load_cache(tmp_path / "junk.npz")


def test_mirrored_feature_cache(tmp_path):
    """--mirror augmentation: features of each clip's mirror image, in a cache that is never
    mistaken for the plain one (the flag is part of its signature)."""
    paths = _clips(tmp_path / "clips", 2)
    cache = tmp_path / "cache.npz"
    plain = FC.cached_clip_features(paths, 30.0, cache, progress=False)
    mirrored = FC.cached_clip_features(paths, 30.0, cache, progress=False, augment="mirror")
    for p, a, m in zip(paths, plain, mirrored):
        expect = encode_clip(load_motion(p).mirrored())
        assert m.path == p and np.allclose(m.feats, expect, atol=1e-6)
        assert np.abs(m.feats - a.feats).max() > 0.1  # the walk swings its arms: left and right differ
        assert np.allclose(m.offsets, load_motion(p).mirrored().skeleton().offsets)
    assert FC.load_cache(cache)[1].endswith("-mirror")


def test_packed_feature_cache_roundtrip(tmp_path):
    from motionlib.tokenizer import feature_pack as fp

    paths = _clips(tmp_path / "clips")
    clips = [load_clip_features(p, 30.0) for p in paths]
    FC.save_cache(tmp_path / "c.npz", clips, "sig")
    for bits in (8, 12):
        fp.pack(tmp_path / "c.npz", tmp_path / "p.npz", bits=bits)
        fp.unpack(tmp_path / "p.npz", tmp_path / "u.npz")
        back, sig = FC.load_cache(tmp_path / "u.npz", tmp_path / "clips")
        assert sig == "sig" and [c.path for c in back] == [c.path for c in clips]
        allf = np.concatenate([c.feats for c in clips])
        step = (allf.max(0) - allf.min(0)) / (2**bits - 1)
        for a, b in zip(back, clips):
            assert a.feats.shape == b.feats.shape
            assert np.all(np.abs(a.feats - b.feats) <= 0.5 * step + 1e-6)  # rounding only, no drift along time
            assert np.allclose(a.offsets, b.offsets) and a.origin == b.origin


def test_time_budget_ends_the_schedule_and_the_run(tmp_path):
    tc = TokenizerTrainConfig(steps=1000, warmup_steps=10, lr=1e-3, time_limit_s=100.0)
    assert schedule_progress(20, 50.0, tc) == pytest.approx(0.5)  # time ahead of steps
    assert schedule_progress(505, 1.0, tc) == pytest.approx(0.5)  # steps ahead of time
    assert lr_at(500, tc, 100.0) == pytest.approx(1e-4)  # budget spent: the cosine has reached 10 %
    assert lr_at(4, tc, 99.0) == pytest.approx(5e-4)  # warm-up is by steps

    clips = [load_clip_features(p, 30.0) for p in _clips(tmp_path / "clips")]
    from motionlib.tokenizer.data import compute_train_stats

    cfg = TokenizerConfig(kind="lfq2d", window=16, width=16, depth=1, bits=6)
    tcfg = TokenizerTrainConfig(out=str(tmp_path / "run"), steps=50, batch=2, warmup_steps=1, eval_every=50,
                                log_every=50, val_fraction=0.0, tensorboard=False, progress=False, time_limit_s=1e-6)
    res = train_on_clips(clips, [], compute_train_stats(clips), cfg, tcfg)
    assert res.step == 1 and res.stopped_early
    ck = load_checkpoint(res.checkpoint)
    assert ck.step == 1 and ck.extra["finished"] and ck.extra["train_seconds"] > 0
    again = train_on_clips(clips, [], compute_train_stats(clips), cfg, tcfg)  # budget already spent: no step
    assert again.step == 1 and load_checkpoint(res.checkpoint).step == 1


def test_batched_code_counts_equal_per_clip_counts():
    torch.manual_seed(0)
    model = build_tokenizer(TokenizerConfig(kind="lfq2d", window=16, width=16, depth=1, bits=6)).eval()
    clips = [torch.randn(t, 135) for t in (13, 16, 16, 30, 3)]  # 13 and 16 pad to the same length; 3 < alpha
    per_clip = sum(code_counts(reconstruct_clip(model, x)[0], 64) for x in clips if x.shape[0] >= 4)
    assert torch.equal(codebook_counts(model, clips, max_frames=40), per_clip)
    assert int(per_clip.sum()) == 6 * (4 + 4 + 4 + 8)


def test_presets_are_valid_configs():
    assert set(PRESETS) == {"lfq2d-14", "lfq1d-14", "vq1d-512"}
    assert PRESETS["lfq2d-14"] == TokenizerConfig()  # the dataclass defaults are the shipped model
    assert PRESETS["lfq2d-14"].codebook_size == 2**14 and PRESETS["vq1d-512"].codebook_size == 512
    assert preset("lfq1d-14", bits=16).codebook_size == 2**16
    with pytest.raises(ValueError, match="unknown tokenizer preset"):
        preset("nope")
    with pytest.raises(ValueError, match="alpha"):
        preset("lfq2d-14", window=30)


def test_shipped_default_tokenizer(monkeypatch):
    """The shipped checkpoint is the default, has the documented preset, and
    reconstructs a clip of its training distribution (root-aligned MPJPE
    measured 11.2 mm; 10.6, 12.0, 13.5 and 13.6 for the four models shipped before it) far better than
    holding the clip's mean pose (20.6 mm) or than the same network untrained (82 mm)."""
    monkeypatch.delenv(ENV_TOKENIZER, raising=False)
    path = resolve_tokenizer(None)
    assert path == default_tokenizer_path() and path.is_file() and path.stat().st_size < 5e6
    model, ck = load_tokenizer(path)
    # the preset's network, fine-tuned with the global joint-position loss and stronger entropy terms
    # (docs/tokenizer.md "Shipped model")
    assert ck.config == replace(PRESETS["lfq2d-14"], w_global=5.0, w_entropy=0.03, entropy_gamma=3.0)
    assert ck.step > 1000
    # saved when the training config was still called TrainConfig: it is stored by its fields, not its class name
    assert isinstance(ck.train, TokenizerTrainConfig) and ck.train.steps > 1000
    c = load_clip_features(REPO / "tests" / "data" / "dataset-2_wave-right-hand_normal_001.npz", 30.0)
    denorm = FeatureDenormalizer(ck.stats)
    x = denorm.normalize(torch.as_tensor(c.feats))
    off = torch.as_tensor(c.offsets, dtype=torch.float32)
    idx, rec = reconstruct_clip(model, x)
    assert idx.shape == (-(-c.num_frames // 4), 6) and 0 <= int(idx.min()) and int(idx.max()) < 2**14

    def ra(r: torch.Tensor) -> float:
        acc = MetricAccumulator(ck.config, 1)
        acc.add(x[None], r[None], denorm, off)
        return acc.result()["mpjpe_root_aligned_mm"]

    shipped, hold = ra(rec), ra(x.mean(0, keepdim=True).expand_as(x))
    assert shipped < 15.0 and shipped < 0.75 * hold, (shipped, hold)


def test_posture_augmentation(tmp_path):
    """--posture-copies: the upper body held in another posture, the same offsets on every rebuild,
    other offsets for another seed or clip; legs and root path untouched."""
    from motionlib.motion import rotations as R
    from motionlib.motion.posture import UPPER_BODY, offset_posture
    from motionlib.motion.skeleton import SMPL_JOINT_NAMES
    from motionlib.motion.augment import augmented

    clip = load_motion(_clips(tmp_path / "clips", 1)[0])
    a, again, other = offset_posture(clip, 0), augmented(clip, "posture:0"), offset_posture(clip, 1)
    assert np.array_equal(a.rotations, again.rotations) and not np.allclose(a.rotations, other.rotations)
    upper = [SMPL_JOINT_NAMES.index(j) for j in UPPER_BODY]
    rest = [j for j in range(24) if j not in upper]
    assert np.array_equal(a.rotations[:, rest], clip.rotations[:, rest]) and np.array_equal(a.trans, clip.trans)
    # each offset is one constant rotation of at most 25 degrees: conj(q) * q_offset is the same every frame
    d = R.quat_mul(R.quat_conj(clip.rotations[:, upper]), a.rotations[:, upper])
    d = np.where(d[..., :1] < 0, -d, d)
    assert np.abs(d - d[:1]).max() < 1e-9
    angle = np.degrees(2 * np.arccos(np.clip(d[0, :, 0], -1, 1)))
    assert (angle <= 25.0 + 1e-6).all() and angle.mean() > 2.0
    with pytest.raises(ValueError, match="augmentation"):
        augmented(clip, "posture:x")


def test_speed_augmentation(tmp_path):
    """--speeds: "speed:F" plays the clip F times as fast at its own frame rate; the path through
    space is the same, covered in 1/F of the time; a bad factor is a clear error."""
    from motionlib.motion.augment import augmented

    clip = load_motion(_clips(tmp_path / "clips", 1)[0])
    fast, slow = augmented(clip, "speed:2"), augmented(clip, "speed:0.5")
    assert fast.fps == slow.fps == clip.fps
    assert fast.num_frames == (clip.num_frames - 1) // 2 + 1
    assert abs(slow.num_frames - (2 * (clip.num_frames - 1) + 1)) <= 1
    # frame k of the fast clip is frame 2k of the original; slow frame 2k is original frame k
    assert np.allclose(fast.trans, clip.trans[::2][: fast.num_frames])
    assert np.allclose(slow.trans[::2][: clip.num_frames], clip.trans[: (slow.num_frames + 1) // 2])
    for bad in ("speed:x", "speed:0", "speed:9"):
        with pytest.raises(ValueError, match="speed factor"):
            augmented(clip, bad)


def test_part_mix():
    """--part-mix: with probability 1 every window takes both arms from another window of the batch
    (never its own) and keeps all other features; probability 0 changes nothing; a window's arms
    stay together; a bad probability is a clear error."""
    from motionlib.tokenizer.data import MIX_PARTS, mix_parts
    from motionlib.tokenizer.parts import PART_NAMES, part_indices

    arms = [i for p in MIX_PARTS for i in part_indices()[PART_NAMES.index(p)]]
    rest = [i for i in range(135) if i not in arms]
    x = torch.arange(8, dtype=torch.float32)[:, None, None].expand(8, 4, 135).clone()  # row b holds b
    g = torch.Generator().manual_seed(0)
    assert mix_parts(x, 0.0, generator=g) is x
    y = mix_parts(x, 1.0, generator=g)
    assert torch.equal(y[:, :, rest], x[:, :, rest])
    src = y[:, 0, arms[0]]
    assert (src != torch.arange(8)).all()  # every window got another window's arms
    assert torch.equal(y[:, :, arms], src[:, None, None].expand(8, 4, len(arms)))  # both arms, all frames, one donor
    assert torch.equal(x[:, 0, 0], torch.arange(8, dtype=torch.float32))  # the input is not modified
    half = mix_parts(x, 0.5, generator=torch.Generator().manual_seed(1))
    changed = (half[:, 0, arms[0]] != torch.arange(8)).sum()
    assert 0 < changed < 8
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="part-mix"):
            mix_parts(x, bad)
    with pytest.raises(ValueError, match="part_mix"):
        TokenizerTrainConfig(part_mix=2.0)
