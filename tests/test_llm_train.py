"""A tiny model overfits one text -> motion and one motion -> text pair; checkpoints resume; generation."""

from __future__ import annotations

import numpy as np
import pytest

from motionlib.llm.checkpoint import load_lm, read_meta
from motionlib.llm.config import LMTrainConfig
from motionlib.llm.dataset import DataConfig
from motionlib.llm.generate import GenConfig, caption_grid, generate_grid, generate_motion
from motionlib.llm.sequence import fill
from motionlib.llm.templates import M2T_PLAIN
from motionlib.llm.train import FixedExamples, batch_tensors, train_lm
from motionlib.motion.errors import MotionError

from llm_pairs import CAPTION, OTHER, SPEC, pairs, tiny_backbone

@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    return tiny_backbone(tmp_path_factory)


def config(backbone, **kw):
    base = dict(backbone=backbone, steps=150, batch_size=2, lr=3e-3, warmup=5, max_len=128, vocab=SPEC,
                log_every=1000, save_every=1000, val_examples=0, data=DataConfig(max_steps=8))
    return LMTrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def overfit(backbone, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    g1, g2, exs = pairs()
    res = train_lm(config(backbone, lora=False), FixedExamples(exs), out, "tok-test", log=lambda s: None)
    return res, out, g1, g2


def test_tiny_model_overfits_both_directions(overfit):
    res, out, g1, g2 = overfit
    assert res.step == 150 and res.last_loss < 0.1 * res.first_loss, (res.first_loss, res.last_loss)
    lm, meta = load_lm(out / "last")
    assert meta["kind"] == "full" and meta["tokenizer_id"] == "tok-test" and meta["step"] == 150
    grid, info = generate_motion(lm, CAPTION, GenConfig(greedy=True, max_seconds=2))
    np.testing.assert_array_equal(grid, g1)
    assert info["tries"] == 1
    assert caption_grid(lm, g2, GenConfig(greedy=True)) == OTHER
    # the same seed gives the same sampled motion
    a, _ = generate_motion(lm, CAPTION, GenConfig(seed=3, max_seconds=2))
    b, _ = generate_motion(lm, CAPTION, GenConfig(seed=3, max_seconds=2))
    np.testing.assert_array_equal(a, b)
    # an exact length is honoured
    g, _ = generate_motion(lm, CAPTION, GenConfig(seconds=1.0, seed=0))
    assert g.shape == (8, 6)


def test_undecodable_answer_and_long_prompt_are_clear_errors(overfit):
    res, out, g1, g2 = overfit
    lm, _ = load_lm(out / "last")
    # asked for a motion with the motion -> text prompt, the model writes text: never a motion
    prompt = fill(M2T_PLAIN.prompt, {"motion": g2})
    with pytest.raises(MotionError, match=r"no motion could be decoded for the prompt 'Describe this motion: "
                                          r"<motion of 3 steps>' after 2 tries") as e:
        generate_grid(lm, prompt, GenConfig(greedy=True, restrict=False, tries=2, max_seconds=1))
    assert "Traceback" not in str(e.value)
    with pytest.raises(MotionError, match="exceeds the model's context of 1024 tokens"):
        generate_motion(lm, "walk " * 2000, GenConfig())
    with pytest.raises(MotionError, match="empty"):
        generate_motion(lm, "   ", GenConfig())


def test_lora_run_trains_saves_adapter_and_resumes(backbone, tmp_path):
    _, _, exs = pairs()
    cfg = config(backbone, steps=4, lr=1e-3, time_limit=None)
    r1 = train_lm(cfg, FixedExamples(exs), tmp_path, "tok-test", log=lambda s: None)
    assert r1.step == 4 and (tmp_path / "last" / "adapter" / "adapter_model.safetensors").is_file()
    assert (tmp_path / "tb").is_dir() and not list(tmp_path.glob(".last.*"))
    from safetensors import safe_open

    with safe_open(str(tmp_path / "last" / "adapter" / "adapter_model.safetensors"), "pt") as f:
        keys = list(f.keys())
        delta = [k for k in keys if k.endswith("embed_tokens.token_adapter.trainable_tokens_delta")]
        assert len(delta) == 1 and f.get_tensor(delta[0]).shape == (2 + SPEC.num_codes, 64)
    assert not any(k.endswith("embed_tokens.weight") for k in keys)  # not the whole matrix
    assert sum("lora_A" in k for k in keys) == 2 * 7  # every projection of both layers
    from motionlib.llm.model import build_lm

    full = sum(p.numel() for p in build_lm(backbone, SPEC, lora=False).model.parameters())
    assert 0 < r1.trainable < full
    r2 = train_lm(config(backbone, steps=7, lr=1e-3), FixedExamples(exs), tmp_path, "tok-test", log=lambda s: None)
    assert r2.resumed_from == 4 and r2.step == 7 and read_meta(tmp_path)["step"] == 7
    with pytest.raises(MotionError, match="another config.*lr"):
        train_lm(config(backbone, steps=9, lr=5e-4), FixedExamples(exs), tmp_path, "tok-test", log=lambda s: None)
    # the merged adapter gives the same logits as the trained wrapper
    import torch

    wrapped, _ = load_lm(tmp_path, trainable=True)
    merged, _ = load_lm(tmp_path)
    ids, att, _ = batch_tensors(merged.formatter, exs, 128, False)
    wrapped.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(wrapped.model(input_ids=ids, attention_mask=att).logits,
                                   merged.model(input_ids=ids, attention_mask=att).logits, atol=1e-4, rtol=1e-4)
    # a time limit stops a run (and it saves)
    r3 = train_lm(config(backbone, steps=50, time_limit=0.0), FixedExamples(exs), tmp_path / "t", "tok-test",
                  log=lambda s: None)
    assert r3.stopped == "time_limit" and r3.step == 0 and (tmp_path / "t" / "last" / "lm.json").is_file()


def test_target_only_loss_masks_the_prompt(backbone):
    from motionlib.llm.model import build_lm

    lm = build_lm(backbone, SPEC, lora=False)
    _, _, exs = pairs()
    _, _, full = batch_tensors(lm.formatter, exs, 128, False)
    _, _, tgt = batch_tensors(lm.formatter, exs, 128, True)
    n = len(lm.formatter.prompt_ids(exs[0].prompt))
    assert (tgt[0, :n] == -100).all() and (full[0, :n] != -100).all()
    assert (tgt[0, n:] == full[0, n:]).all()


def test_the_lowest_validation_loss_is_kept_as_best(backbone, tmp_path):
    """Each save measures the validation loss; the lowest one's checkpoint is RUN/best (no optimizer state),
    which a run folder then means; a resumed run keeps it unless a lower one comes."""
    g1, g2, exs = pairs()
    cfg = config(backbone, lora=False, steps=12, save_every=4, val_examples=4)
    res = train_lm(cfg, FixedExamples(exs), tmp_path, "tok-test", val_data=FixedExamples(exs), log=lambda s: None)
    best = read_meta(tmp_path / "best")
    assert res.best_val_loss == best["val_loss"] <= res.val_loss and res.best_step == best["step"]
    assert best["step"] in (4, 8, 12) and not (tmp_path / "best" / "trainer.pt").exists()
    assert read_meta(tmp_path)["path"] == str(tmp_path / "best")
    again = train_lm(config(backbone, lora=False, steps=16, save_every=4, val_examples=4), FixedExamples(exs),
                     tmp_path, "tok-test", val_data=FixedExamples(exs), log=lambda s: None)
    assert again.resumed_from == 12 and again.best_val_loss <= res.best_val_loss
    assert read_meta(tmp_path / "best")["val_loss"] == again.best_val_loss
    train_lm(cfg, FixedExamples(exs), tmp_path, "tok-test", resume=False, log=lambda s: None)
    assert not (tmp_path / "best").exists()  # a fresh start without validation keeps no old best
