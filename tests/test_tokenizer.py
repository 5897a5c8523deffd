"""MotionBook tokenizer: part split, LFQ token indices, overfitting, token files,
checkpoints, data errors, VQ baseline and the CLI commands (tiny models, 1 thread)."""

from __future__ import annotations

import argparse
import importlib
import json

import numpy as np
import pytest
import torch
import vector_quantize_pytorch  # noqa: F401  (imported here so its ~2 s import is not charged to one test)

from motionlib.motion import save_motion
from motionlib.motion.errors import MotionError
from motionlib.motion.feature_stats import compute_stats
from motionlib.motion.features import DIM, encode_clip, joint_slice
from motionlib.motion.io import load_motion
from motionlib.tokenizer import parts as P
from motionlib.tokenizer.checkpoint import load_checkpoint, load_state_into, load_tokenizer, save_checkpoint
from motionlib.tokenizer.config import TokenizerConfig, TokenizerTrainConfig
from motionlib.tokenizer.data import WindowDataset, check_features, list_clips, load_clip_features, load_split
from motionlib.tokenizer.losses import TokenizerLoss
from motionlib.tokenizer.metrics import (SHIFT_MIN_CLIPS, SHIFT_WARN, MetricAccumulator, feature_shift, perplexity,
                                        utilization)
from motionlib.tokenizer.model import build_tokenizer
from motionlib.tokenizer.quantizers import lfq_index_from_latent, rms_normalize
from motionlib.tokenizer.tokens import TokenFile, load_tokens, read_tokenizer_id, save_tokens, token_path
from motionlib.tokenizer.train import train_tokenizer

from walk_fixture import make_walking_clip

torch.set_num_threads(1)


def tiny(kind: str = "lfq2d", **kw) -> TokenizerConfig:
    base = dict(kind=kind, window=32, width=32, depth=1, bits=8, vq_dim=32)
    base.update(kw)
    return TokenizerConfig(**base)


def quiet_train(out, steps: int, **kw) -> TokenizerTrainConfig:
    base = dict(out=str(out), steps=steps, batch=4, lr=2e-3, warmup_steps=1, eval_every=steps, log_every=1,
                val_fraction=0.0, tensorboard=False, progress=False)
    base.update(kw)
    return TokenizerTrainConfig(**base)


def cli(argv: list[str]) -> int:
    """The four tokenizer commands, registered the way cli/main.py does it."""
    parser = argparse.ArgumentParser(prog="motionlib")
    sub = parser.add_subparsers(dest="command")
    for name in ("train-tokenizer", "tokenize", "detokenize", "eval-tokenizer"):
        importlib.import_module(f"motionlib.cli.cmd_{name.replace('-', '_')}").register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


@pytest.fixture(scope="module")
def walk_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("walks") / "clips"
    for i, (speed, cadence) in enumerate([(1.1, 0.9), (0.8, 0.7), (1.4, 1.1)]):
        save_motion(make_walking_clip(seconds=2.0, speed=speed, cadence_hz=cadence), d / f"walk_{i}.npz")
    return d


@pytest.fixture(scope="module")
def tiny_ckpt(walk_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("tok")
    res = train_tokenizer(walk_dir, tiny(), quiet_train(out, 3))
    return res.checkpoint


# --------------------------------------------------------------------------- parts
def test_part_split_partitions_d135():
    idx = P.part_indices()
    assert P.PART_NAMES == ("root", "left_leg", "right_leg", "spine_head", "left_arm", "right_arm")
    assert P.part_sizes() == [9, 24, 24, 30, 24, 24]
    assert sorted(i for p in idx for i in p) == list(range(DIM))
    assert idx[0] == list(range(9))
    for name, joints in P.PART_JOINTS.items():  # each joint's 6D block sits in its part
        for j in joints:
            if j:
                s = joint_slice(j)
                assert set(range(s.start, s.stop)) <= set(idx[P.PART_NAMES.index(name)])
    assert set(range(9 + 6 * 9, 9 + 6 * 10)) <= set(idx[1])  # joint 10 (left foot) in the left leg
    assert P.part_of_joint(20) == "left_arm" and P.part_of_joint(15) == "spine_head"
    with pytest.raises(ValueError, match="duplicated"):
        P.check_partition([list(range(100)), list(range(99, 135))])
    with pytest.raises(ValueError, match="missing"):
        P.check_partition([list(range(134))])


# ---------------------------------------------------------------------- LFQ tokens
def test_lfq_indices_in_codebook_and_match_bit_formula():
    torch.manual_seed(0)
    for kind, parts in (("lfq2d", 6), ("lfq1d", 1)):
        cfg = tiny(kind, bits=10)
        model = build_tokenizer(cfg).eval()
        x = torch.randn(3, 32, DIM)
        idx = model.encode(x)
        assert idx.shape == (3, 8, parts) and idx.dtype == torch.int64
        assert int(idx.min()) >= 0 and int(idx.max()) < 2**10
        z = rms_normalize(model.encode_latent(x), dim=1)  # (B, d, T', P)
        assert torch.equal(lfq_index_from_latent(z), idx)
        # written out: vector_quantize_pytorch's LFQ puts latent dim 0 in the most significant bit
        zz = z[1, :, 5, -1]
        bits = [int(v > 0) for v in zz]
        assert int(idx[1, 5, -1]) == sum(b << (cfg.bits - 1 - i) for i, b in enumerate(bits))
        # the codes of the indices are the signs of the latents, and decoding them is the eval forward pass
        codes = model.quantizer.indices_to_latent(idx)
        assert torch.equal(codes, torch.where(z > 0, 1.0, -1.0))
        with torch.no_grad():
            assert torch.allclose(model.decode_indices(idx), model(x).recon, atol=1e-5)
        with pytest.raises(ValueError, match="token indices"):
            model.decode_indices(torch.full_like(idx, 2**10))
        model.train()  # training: entropy (weight 0.01 by default) + commitment terms are live
        _, aux, idx_train = model(x)
        assert torch.equal(idx_train, idx) and float(aux.detach()) != 0.0 and aux.requires_grad


def test_lfq2d_overfits_two_windows():
    """A real check: two windows of different walks must come back through their
    tokens. A model that passes no information through the bottleneck can only
    memorise one output for both (measured: ~65 mm root-aligned; this model
    reaches 5-7 mm in 40 steps over seeds 0-2); the constant-pose baseline is
    ~39 mm root-aligned, ~48 mm global.
    The entropy term is off: this checks capacity, and with a 2-window batch the
    diversity bonus keeps reshuffling codes (it is exercised in the other tests)."""
    fa = encode_clip(make_walking_clip(seconds=2.0))
    fb = encode_clip(make_walking_clip(seconds=2.0, speed=0.7, cadence_hz=0.6))
    stats = compute_stats([fa, fb])
    x = torch.from_numpy(stats.normalize(np.stack([fa[:16], fb[24:40]])).astype(np.float32))
    torch.manual_seed(0)
    cfg = tiny(window=16, width=64, w_entropy=0.0)
    model = build_tokenizer(cfg)
    loss_fn = TokenizerLoss(cfg, stats)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, foreach=True)

    def mpjpe(rec):
        acc = MetricAccumulator(cfg, model.codebook_size)
        acc.add(x, rec, loss_fn.denorm, loss_fn.offsets)
        r = acc.result()
        return r["mpjpe_mm"], r["mpjpe_root_aligned_mm"]

    const_g, const_ra = mpjpe(x.mean(1, keepdim=True).expand_as(x))
    with torch.no_grad():
        _, before_ra = mpjpe(model.decode_indices(model.encode(x)))
    for _ in range(40):
        recon, aux, _ = model(x)
        loss, _ = loss_fn(recon, x, aux)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        idx = model.encode(x)
        after_g, after_ra = mpjpe(model.decode_indices(idx))  # through the discrete tokens
    assert const_ra > 30 and before_ra > 0.5 * const_ra, (const_ra, before_ra)
    assert not torch.equal(idx[0], idx[1])
    assert after_ra < 0.25 * const_ra, (const_ra, before_ra, after_ra)
    assert after_g < 0.5 * const_g, (const_g, after_g)


def test_global_position_loss_is_zero_only_for_the_same_root_path():
    """The global joint-position term: zero for identical windows, positive for a changed pose and for a
    changed root velocity, which the root-relative FK term does not see at all."""
    f = encode_clip(make_walking_clip(seconds=2.0))
    stats = compute_stats([f])
    x = torch.from_numpy(stats.normalize(f[None, :32]).astype(np.float32))
    on, off = TokenizerLoss(tiny(w_global=2.0), stats), TokenizerLoss(tiny(w_global=0.0), stats)
    _, same = on(x.clone(), x)
    assert same["global"] == 0.0 and same["fk"] == 0.0 and same["total"] == 0.0
    assert "global" not in off(x.clone(), x)[1]
    faster = stats.normalize(f[None, :32]).astype(np.float32)
    faster[..., 6] = (f[:32, 6] + 0.3 - stats.mean[6]) / stats.std[6]  # 0.3 m/s more forward speed
    total_on, drift = on(torch.from_numpy(faster), x)
    total_off, _ = off(torch.from_numpy(faster), x)
    assert drift["fk"] < 1e-6 and drift["global"] > 0.01, drift  # ~0.3 m/s over ~0.5 s on average: ~0.05 m in x
    assert float(total_on) > float(total_off) + 2.0 * 0.01
    bent = x.clone()
    bent[..., joint_slice(18)] += 0.5  # the left elbow
    _, pose = on(bent, x)
    assert pose["global"] > 0 and pose["fk"] > 0


def test_run_starts_from_another_checkpoints_weights(walk_dir, tmp_path):
    """init_from: a new run takes a checkpoint's weights and statistics (its loss weights may differ);
    another architecture is refused, and a run with its own last.pt resumes from that instead."""
    from motionlib.tokenizer.train import init_weights

    src = train_tokenizer(walk_dir, tiny(), quiet_train(tmp_path / "a", 2)).checkpoint
    ck = load_checkpoint(src)
    model = build_tokenizer(tiny(w_global=3.0, w_fk=1.0))
    stats = init_weights(model, tiny(w_global=3.0, w_fk=1.0), src)
    assert np.array_equal(stats.mean, ck.stats.mean)
    assert all(torch.equal(v, ck.model_state[k]) for k, v in model.state_dict().items())
    with pytest.raises(MotionError, match=r"architecture differs \(bits: run has 12, checkpoint has 8\)"):
        init_weights(build_tokenizer(tiny(bits=12)), tiny(bits=12), src)
    # one step at a tiny learning rate stays next to the starting weights (a fresh start would not)
    res = train_tokenizer(walk_dir, tiny(w_global=3.0), quiet_train(tmp_path / "b", 1, lr=1e-9, init_from=str(src)))
    tuned = load_checkpoint(res.checkpoint)
    assert np.array_equal(tuned.stats.mean, ck.stats.mean) and "global" in res.last_losses
    assert max(float((v - ck.model_state[k]).abs().max()) for k, v in tuned.model_state.items()
               if v.is_floating_point()) < 1e-5
    again = train_tokenizer(walk_dir, tiny(w_global=3.0), quiet_train(tmp_path / "b", 2, init_from=str(src)))
    assert again.resumed_from == 1 and again.step == 2
    # the command's flags reach the run (the lfq2d-14 preset is not the tiny model's architecture)
    with pytest.raises(MotionError, match=r"architecture differs \(width: run has 64, checkpoint has 32"):
        cli(["train-tokenizer", "--clips", str(walk_dir), "--out", str(tmp_path / "c"), "--steps", "1",
             "--global-weight", "2", "--init-from", str(src), "--no-tensorboard", "--json"])


# --------------------------------------------------------------------- token files
def test_tokens_roundtrip_save_load(tmp_path):
    rng = np.random.default_rng(0)
    tf = TokenFile(indices=rng.integers(0, 2**14, size=(16, 6)), tokenizer_id="lfq2d-abc", config_hash="123",
                   num_frames=63, fps=30.0, config=tiny().to_dict(), origin={"yaw": 0.5, "xy": [1.0, -2.0]},
                   body_scale=1.1, offsets=rng.normal(size=(24, 3)), source="walk.npz")
    path = token_path(tmp_path / "walk.npz")
    assert path.name == "walk.tokens.npz"
    save_tokens(path, tf)
    assert [p.name for p in tmp_path.iterdir()] == ["walk.tokens.npz"]  # no temporary file left
    back = load_tokens(path, tokenizer_id="lfq2d-abc")
    assert np.array_equal(back.indices, tf.indices) and back.indices.dtype == np.int64
    assert (back.tokenizer_id, back.config_hash, back.num_frames, back.fps) == ("lfq2d-abc", "123", 63, 30.0)
    assert back.config == tf.config and back.origin == tf.origin and np.allclose(back.offsets, tf.offsets)
    assert read_tokenizer_id(path) == "lfq2d-abc"
    assert list_clips(tmp_path) == []  # token files are not clips
    with pytest.raises(MotionError, match="tokenizer"):
        load_tokens(path, tokenizer_id="other")
    with pytest.raises(MotionError, match="non-negative"):
        save_tokens(tmp_path / "bad.tokens.npz", TokenFile(-np.ones((2, 6), int), "t", "h", 8, 30.0))


# ------------------------------------------------------------------- data errors
def test_short_clip_and_nan_features_raise(tmp_path):
    short = tmp_path / "short.npz"
    save_motion(make_walking_clip(seconds=0.5), short)  # 16 frames < window 32
    with pytest.raises(MotionError, match="shorter than one tokenizer window") as e:
        load_clip_features(short, 30.0, min_frames=32)
    assert "short.npz" in str(e.value)
    save_motion(make_walking_clip(seconds=2.0), tmp_path / "long.npz")
    with pytest.raises(MotionError, match="short.npz"):
        load_split(tmp_path, 30.0, 32, 0.0)
    feats = encode_clip(make_walking_clip(seconds=2.0))
    feats[10, 40] = np.nan
    with pytest.raises(MotionError, match="NaN") as e:
        check_features(feats, "nan_clip.npz", 32)
    assert "nan_clip.npz" in str(e.value) and "frame 10" in str(e.value)


def test_windows_cover_clips(walk_dir):
    train, val, stats = load_split(walk_dir, 30.0, 32, 0.0)
    assert len(train) == 3 and val == [] and stats.clips == 3
    data = WindowDataset(train, stats, 32)
    assert data.num_windows == 3 * (61 - 32 + 1)
    batch = data.sample(5, torch.Generator().manual_seed(0))
    assert batch.shape == (5, 32, DIM) and torch.isfinite(batch).all()
    covered = [np.zeros(c.num_frames, bool) for c in train]
    for ci, start, x in data.sequential():
        covered[ci][start:start + 32] = True
        assert torch.equal(x, data.normed[ci][start:start + 32])
    assert all(c.all() for c in covered)
    x, off = next(data.eval_batches(4))
    assert x.shape == (4, 32, DIM) and off.shape == (4, 24, 3)


# --------------------------------------------------------------------- checkpoints
def test_checkpoint_with_another_config_raises(tmp_path):
    cfg = tiny()
    model = build_tokenizer(cfg)
    stats = compute_stats([encode_clip(make_walking_clip(seconds=2.0))])
    path = tmp_path / "ck.pt"
    tid = save_checkpoint(path, model, cfg, stats, step=7)
    ck = load_checkpoint(path, expected=tiny())
    assert ck.step == 7 and ck.tokenizer_id == tid and ck.config == cfg
    assert np.allclose(ck.stats.mean, stats.mean) and np.allclose(ck.stats.std, stats.std)
    with pytest.raises(MotionError, match=r"another tokenizer config \(bits: expected 12, checkpoint has 8\)"):
        load_checkpoint(path, expected=tiny(bits=12))
    other = build_tokenizer(tiny(bits=12))
    with pytest.raises(MotionError, match="do not fit"):
        load_state_into(other, ck)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(MotionError, match=r"junk.pt: cannot read tokenizer checkpoint \(not a torch zip archive\)"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(MotionError, match="no such tokenizer checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    # a training run refuses to resume from a checkpoint of another config
    (tmp_path / "run").mkdir()
    save_checkpoint(tmp_path / "run" / "last.pt", model, cfg, stats)
    clips = tmp_path / "clips"
    save_motion(make_walking_clip(seconds=2.0), clips / "a.npz")
    with pytest.raises(MotionError, match="--no-resume"):
        train_tokenizer(clips, tiny(width=16), quiet_train(tmp_path / "run", 2))


def test_train_loop_resumes(walk_dir, tmp_path):
    cfg = tiny()
    r1 = train_tokenizer(walk_dir, cfg, quiet_train(tmp_path, 2))
    assert r1.step == 2 and r1.checkpoint.exists() and (tmp_path / "best.pt").exists()
    assert r1.train_clips == 3 and {"recon", "vel", "fk", "aux", "total"} <= set(r1.last_losses)
    assert 0 < r1.val["utilization"] <= 1 and r1.val["perplexity"] >= 1
    r2 = train_tokenizer(walk_dir, cfg, quiet_train(tmp_path, 4))
    assert r2.resumed_from == 2 and r2.step == 4 and r2.tokenizer_id != r1.tokenizer_id
    assert load_checkpoint(r2.checkpoint).step == 4
    # the shippable copy of last.pt: same tokenizer and step, no optimizer state, smaller
    from motionlib.tokenizer.checkpoint import export_tokenizer

    last = load_checkpoint(r2.checkpoint)
    assert last.optimizer_state is not None
    assert export_tokenizer(r2.checkpoint, tmp_path / "ship.pt") == r2.tokenizer_id
    ship = load_checkpoint(tmp_path / "ship.pt")
    assert ship.optimizer_state is None and ship.train_state is None and ship.step == 4
    assert all(torch.equal(v, last.model_state[k]) for k, v in ship.model_state.items())
    assert (tmp_path / "ship.pt").stat().st_size < r2.checkpoint.stat().st_size


def test_weight_average_is_the_ema_of_the_trained_weights_and_resumes(walk_dir, tmp_path):
    from motionlib.tokenizer.train import WeightAverage

    # the average follows the ramped EMA formula, and buffers are copied, not averaged
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    a.register_buffer("buf", torch.zeros(2))
    b.register_buffer("buf", torch.ones(2))
    w0 = a.weight.detach().clone()
    avg = WeightAverage(a, decay=0.9)
    avg.update(b)  # first update: decay min(0.9, 1/10) = 0.1
    assert torch.allclose(avg.model.weight, 0.1 * w0 + 0.9 * b.weight)
    assert torch.equal(avg.model.buf, b.buf) and not avg.model.weight.requires_grad

    cfg = tiny()
    r1 = train_tokenizer(walk_dir, cfg, quiet_train(tmp_path, 3, ema_decay=0.5))
    ck = load_checkpoint(r1.checkpoint)
    assert ck.train_state is not None and set(ck.train_state) == set(ck.model_state)
    differs = [k for k in ck.model_state if ck.model_state[k].is_floating_point()
               and not torch.equal(ck.model_state[k], ck.train_state[k])]
    assert differs, "the saved tokenizing weights should be the average, not the raw weights"
    # what tokenizes (load_tokenizer, best.pt) is the average; resuming trains on from the raw weights
    model, _ = load_tokenizer(r1.checkpoint)
    assert all(torch.equal(v, ck.model_state[k]) for k, v in model.state_dict().items())
    assert all(torch.equal(v, load_checkpoint(tmp_path / "best.pt").model_state[k])
               for k, v in model.state_dict().items())
    r2 = train_tokenizer(walk_dir, cfg, quiet_train(tmp_path, 4, ema_decay=0.5))
    ck2 = load_checkpoint(r2.checkpoint)
    assert r2.resumed_from == 3 and ck2.step == 4
    # one more step, the 4th update: decay min(0.5, (1 + 3) / (10 + 3)); average = d * old + (1 - d) * new raw
    d = 4 / 13
    for k in differs:
        assert torch.allclose(ck2.model_state[k], d * ck.model_state[k] + (1 - d) * ck2.train_state[k], atol=1e-6)
    # a run without averaging saves no raw copy
    assert load_checkpoint(train_tokenizer(walk_dir, cfg, quiet_train(tmp_path / "plain", 2)).checkpoint
                           ).train_state is None


# ----------------------------------------------------------------------- VQ-512
def test_vq512_baseline_trains_and_ema_updates_codebook():
    torch.manual_seed(0)
    cfg = tiny("vq1d", vq_codebook_size=512)
    model = build_tokenizer(cfg)
    assert model.codebook_size == 512
    x = torch.randn(4, 32, DIM)
    model.train()
    model(x)  # first call: k-means initialisation from the batch
    before = model.quantizer.codebook.detach().clone()
    recon, aux, idx = model(x)
    after = model.quantizer.codebook.detach().clone()
    assert not torch.allclose(before, after)  # EMA update in the forward pass, no optimizer involved
    assert recon.shape == x.shape and idx.shape == (4, 8, 1)
    assert int(idx.min()) >= 0 and int(idx.max()) < 512
    (torch.nn.functional.smooth_l1_loss(recon, x) + aux).backward()
    assert model.encoder.proj.lins[0].weight.grad.abs().sum() > 0  # straight-through reaches the encoder
    assert model.decoder.proj.lins[0].weight.grad.abs().sum() > 0
    model.eval()
    model(x)
    assert torch.equal(after, model.quantizer.codebook)  # no updates at evaluation


def test_codebook_metrics():
    counts = torch.tensor([5, 5, 0, 5, 0, 0, 5, 0])
    assert utilization(counts) == 0.5
    assert perplexity(counts) == pytest.approx(4.0)
    assert perplexity(torch.zeros(4)) == 0.0
    assert tiny().tokens_per_second() == pytest.approx(6 * 30 / 4)
    assert tiny("vq1d").tokens_per_second() == pytest.approx(30 / 4)


def test_windowed_global_mpjpe_bounds_drift_by_the_window():
    """A reconstruction whose only error is a constant forward-velocity bias drifts linearly: the
    whole-clip global MPJPE grows with the clip, the windowed one (each 10 s window anchored at
    its first root) stays at the drift of one window; root-aligned sees nothing."""
    from motionlib.motion.feature_stats import FeatureStats
    from motionlib.tokenizer.losses import FeatureDenormalizer
    from motionlib.tokenizer.metrics import GLOBAL_WINDOW_S

    clip = make_walking_clip(seconds=30.0)
    feats = torch.as_tensor(encode_clip(clip), dtype=torch.float32)[None]  # (1, 900, 135), stats mean 0 / std 1
    denorm = FeatureDenormalizer(FeatureStats(np.zeros(DIM), np.ones(DIM), feats.shape[1], 1))
    biased = feats.clone()
    biased[..., 6] += 0.05  # +5 cm/s forward: 5 mm per second of drift (the path turns with the heading)
    acc = MetricAccumulator(tiny(), 1)
    acc.add(feats, biased, denorm, torch.as_tensor(clip.skeleton().offsets, dtype=torch.float32))
    r = acc.result()
    assert r["window_s"] == GLOBAL_WINDOW_S == 10.0
    assert r["mpjpe_root_aligned_mm"] < 1e-6
    # mean drift over a window of W s at v m/s is v W / 2 (plus a frame): 25 mm here; over the clip 75 mm
    assert r["mpjpe_window_mm"] == pytest.approx(0.05 * 10.0 / 2 * 1000, rel=0.05)
    assert r["mpjpe_mm"] == pytest.approx(0.05 * 30.0 / 2 * 1000, rel=0.05)


def test_feature_shift_flags_data_unlike_the_training_set():
    """The shift is ~0 on the training data itself; 0.3 training std on every feature reads
    as mean |z| 0.3 (plus the extra move of one feature, which it names), flagged; fewer
    clips than SHIFT_MIN_CLIPS are not judged."""
    from motionlib.motion.feature_stats import FeatureStats
    from motionlib.motion.features import feature_names

    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(20, DIM)) * 0.3 + 1.0 for _ in range(SHIFT_MIN_CLIPS)]
    flat = np.concatenate(feats)
    stats = FeatureStats(flat.mean(0), flat.std(0), len(flat), 3)
    same = feature_shift(feats, stats)
    assert same["mean_abs_z"] < 1e-9 and not same["shifted"]
    moved = [f + 0.3 * stats.std for f in feats]
    moved[0][:, joint_slice(10).start] += 1.5  # left_foot_rot6d[0] moves most
    sh = feature_shift(moved, stats)
    assert sh["mean_abs_z"] == pytest.approx(0.3 + 1.5 / len(feats) / stats.std[joint_slice(10).start] / DIM,
                                             rel=1e-6)
    assert sh["shifted"] == (sh["mean_abs_z"] > SHIFT_WARN) and sh["shifted"]
    assert feature_shift(moved[:3], stats)["shifted"] is None  # too few clips to tell a shift from a sample
    assert sh["max_feature"] == "left_foot_rot6d[0]" == feature_names()[joint_slice(10).start]
    assert max(sh["per_part_mean_abs_z"], key=sh["per_part_mean_abs_z"].get) == "left_leg"
    assert len(set(feature_names())) == DIM


# ---------------------------------------------------------------------------- CLI
def test_tokenize_resumable_detokenize_and_eval(walk_dir, tiny_ckpt, tmp_path, capsys):
    import shutil

    data = tmp_path / "ds"
    shutil.copytree(walk_dir, data)
    assert cli(["tokenize", str(data), "--tokenizer", str(tiny_ckpt), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["tokenized"], first["skipped"], first["failed"]) == (3, 0, 0)
    stale = load_tokens(data / "walk_1.tokens.npz")
    stale.tokenizer_id = "lfq2d-another"
    save_tokens(data / "walk_1.tokens.npz", stale)  # made by another tokenizer: redone
    assert cli(["tokenize", str(data), "--tokenizer", str(tiny_ckpt), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["tokenized"], again["skipped"]) == (1, 2)

    model, ck = load_tokenizer(tiny_ckpt)
    tf = load_tokens(data / "walk_0.tokens.npz", tokenizer_id=ck.tokenizer_id)
    clip = load_motion(data / "walk_0.npz")
    assert tf.num_frames == clip.num_frames == 61 and tf.indices.shape == (16, 6)  # ceil(61 / 4) token steps
    assert tf.indices.max() < 2**8

    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "walk_9.npz").write_bytes(b"not a zip")  # a bad clip is reported, the rest tokenized
    assert cli(["tokenize", str(data), str(tmp_path / "junk"), "--tokenizer", str(tiny_ckpt), "--json"]) == 1
    bad = json.loads(capsys.readouterr().out)
    assert (bad["tokenized"], bad["skipped"], bad["failed"]) == (0, 3, 1) and "walk_9.npz" in bad["errors"][0]

    out = tmp_path / "detok"
    assert cli(["detokenize", str(data / "walk_0.tokens.npz"), "--tokenizer", str(tiny_ckpt), "--out", str(out),
                "--json"]) == 0
    dec = json.loads(capsys.readouterr().out)
    assert dec["failed"] == 0
    (tmp_path / "junk" / "walk_9.tokens.npz").write_bytes(b"not a zip")
    assert cli(["detokenize", str(data / "walk_1.tokens.npz"), str(tmp_path / "junk" / "walk_9.tokens.npz"),
                "--tokenizer", str(tiny_ckpt), "--out", str(tmp_path / "detok2"), "--json"]) == 1
    dec2 = json.loads(capsys.readouterr().out)
    assert dec2["decoded"] == 1 and dec2["failed"] == 1 and "walk_9.tokens.npz" in dec2["errors"][0]
    back = load_motion(out / "walk_0.npz")
    assert dec["decoded"] == 1 and back.num_frames == clip.num_frames and back.fps == clip.fps
    # the decoded clip starts where the source clip starts (stored D135 origin)
    assert np.allclose(back.trans[0, :2], clip.trans[0, :2], atol=1e-6)

    assert cli(["eval-tokenizer", str(data), "--tokenizer", str(tiny_ckpt), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    for key in ("mpjpe_mm", "mpjpe_window_mm", "mpjpe_root_aligned_mm", "per_part_mpjpe_mm", "feature_l1",
                "codebook_size",
                "utilization", "perplexity", "tokens_per_second"):
        assert key in ev, key
    assert ev["codebook_size"] == 256 and ev["clips"] == 3 and ev["tokens"] == 3 * 16 * 6
    assert 0 < ev["utilization"] <= 1 and ev["mpjpe_mm"] > 0 and ev["tokens_per_second"] == 45.0
    assert set(ev["per_part_mpjpe_mm"]) == set(P.PART_NAMES)
    shift = ev["feature_shift"]
    assert shift["mean_abs_z"] >= 0 and set(shift["per_part_mean_abs_z"]) == set(P.PART_NAMES)
    assert shift["clips"] == 3 and shift["shifted"] is None
