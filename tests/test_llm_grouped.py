"""The grouped layout: one sequence position per time step. Sequences and their targets, the cached step loop
against a full recompute, a tiny model overfitting both directions, checkpoints that load grouped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionlib.llm.checkpoint import STEPS, load_lm, read_meta
from motionlib.llm.config import LMTrainConfig
from motionlib.llm.dataset import DataConfig
from motionlib.llm.generate import GenConfig, _pick, caption_grid, generate_grid, generate_motion, sample_motion_steps
from motionlib.llm.grouped import (GroupedFormatter, StepCoder, body_of, code_signs, decode_steps, embed,
                                   encode_steps, grouped_batch, grouped_loss, item_tensors)
from motionlib.llm.model import build_lm, prepare_for_inference
from motionlib.llm.sequence import Example
from motionlib.llm.train import FixedExamples, train_lm
from motionlib.llm.vocab import MotionDecodeError, VocabSpec
from motionlib.motion.errors import MotionError

from llm_pairs import CAPTION, OTHER, SPEC, pairs, tiny_backbone

@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    return tiny_backbone(tmp_path_factory)


def config(backbone, **kw):
    base = dict(backbone=backbone, steps=150, batch_size=2, lr=3e-3, warmup=5, max_len=128, vocab=SPEC,
                log_every=1000, save_every=1000, val_examples=0, data=DataConfig(max_steps=8), layout="grouped",
                group_dim=32, threads=1)
    return LMTrainConfig(**{**base, **kw})


@pytest.mark.parametrize("shared", [True, False])
def test_grouped_sequence_roundtrips_a_grid_and_sets_its_targets(backbone, shared):
    spec = VocabSpec(codebook_size=64, num_parts=6, shared=shared)
    lm = build_lm(backbone, spec, lora=False, layout="grouped", group_dim=16)
    v, fmt = lm.vocab, lm.formatter
    assert isinstance(fmt, GroupedFormatter) and not v.has_codes and v.code_end == v.end_id + 1
    assert len(lm.tokenizer) == v.end_id + 1  # only <mot> and </mot> are new tokens
    grid = np.random.default_rng(0).integers(0, 64, (5, 6))
    items = encode_steps(v, grid)
    assert items[0] == v.start_id and items[-1] == v.end_id and len(items) == 7
    np.testing.assert_array_equal(decode_steps(v, items), grid)
    np.testing.assert_array_equal(decode_steps(v, items[:-1]), grid)  # never closed: to the end
    np.testing.assert_array_equal(decode_steps(v, [9] + items + [7]), grid)
    with pytest.raises(MotionDecodeError, match="no step"):
        decode_steps(v, [v.start_id, v.end_id])
    with pytest.raises(MotionDecodeError, match="not a step"):
        decode_steps(v, items[:3] + [5] + items[3:])
    with pytest.raises(MotionError, match="codes must lie"):
        encode_steps(v, grid + 64)

    ex = Example("t2m", [CAPTION], [grid])
    seq, n = fmt.example_ids(ex)
    assert seq[:n] == fmt.prompt_ids(ex.prompt) and seq[n:] == items + [fmt.eos_id]
    b = grouped_batch(fmt, [(seq, n)], target_only=False)
    lm_t, part_t, codes = b.lm_targets[0], b.part_targets[0], b.codes[0]
    # text predicts text up to <mot>; <mot> and each step predict the next step; the last step ends it
    assert lm_t[:n].tolist() == seq[1:n + 1] and (lm_t[n:n + 6] == -100).all()
    assert lm_t[n + 6].item() == fmt.eos_id  # </mot> -> eos through the LM head
    np.testing.assert_array_equal(part_t[n:n + 5].numpy(), grid)
    assert part_t[n + 5].tolist() == [64] + [-100] * 5 and (part_t[:n] == -100).all()
    np.testing.assert_array_equal(codes[n + 1:n + 6].numpy(), grid)
    assert (codes[:n + 1] == -1).all() and (codes[n + 6:] == -1).all()
    tgt = grouped_batch(fmt, [(seq, n)], target_only=True)
    assert (tgt.lm_targets[0, :n - 1] == -100).all() and (tgt.part_targets[0, n - 1:] == part_t[n - 1:]).all()
    # a motion in the prompt: its steps are inputs, and (full loss) targets
    items2, n2 = fmt.example_ids(Example("m2t", ["Describe ", grid], [OTHER]))
    assert sum(isinstance(x, tuple) for x in items2[:n2]) == 5 and fmt.text_of(items2[n2:]) == OTHER
    # the loss is finite and reaches every trainable part
    lm.train()
    loss = grouped_loss(lm.base_model, lm.steps, grouped_batch(fmt, [(seq, n), (items2, n2)], False))
    loss.backward()
    assert torch.isfinite(loss) and lm.steps.table.weight.grad.abs().sum() > 0
    assert lm.steps.inp.weight.grad.abs().sum() > 0 and lm.steps.end.grad.abs().sum() > 0


def reference_steps(lm, prompt, cfg, seed):
    """The grouped decoding without a cache: the whole sequence through the backbone at every step."""
    v, model = lm.vocab, lm.base_model
    lo_steps, hi_steps = cfg.steps()
    gen = torch.Generator().manual_seed(seed)
    seq, steps = list(prompt) + [v.start_id], []
    while len(steps) < hi_steps:
        ids, codes = item_tensors(seq, lm.tokenizer.pad_token_id, v.num_parts, "cpu")
        with torch.no_grad():
            h = body_of(model)(inputs_embeds=embed(model, lm.steps, ids, codes)).last_hidden_state[0, -1]
            st = lm.steps.sample_step(h, lambda z: _pick(z, cfg, gen), len(steps) >= lo_steps)
        if st is None:
            break
        steps.append(tuple(st))
        seq.append(tuple(st))
    return steps


@pytest.mark.parametrize("cfg", [GenConfig(greedy=True, max_seconds=2), GenConfig(seed=5, max_seconds=2),
                                 GenConfig(seconds=1.0, seed=2, top_k=8, temperature=0.7)])
@pytest.mark.parametrize("bits", [0, 6])
def test_cached_step_loop_matches_a_full_recompute(backbone, cfg, bits):
    torch.manual_seed(0)
    lm = build_lm(backbone, SPEC, lora=True, layout="grouped", group_dim=16, code_bits=bits)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in list(lm.model.named_parameters()) + list(lm.steps.named_parameters()):
            if "lora_B" in name or name in ("end", "bias", "end_bias", "table.weight"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    prepare_for_inference(lm)
    prompt = lm.formatter.prompt_ids(["continue ", np.arange(12).reshape(2, 6) % 64])  # steps in the prompt too
    want = reference_steps(lm, prompt, cfg, cfg.seed)
    assert want
    assert sample_motion_steps(lm, prompt, cfg, cfg.seed) == want
    assert sample_motion_steps(lm, prompt, GenConfig(**{**cfg.__dict__, "static_cache": True}), cfg.seed) == want
    fed = []
    h = body_of(lm.model).register_forward_pre_hook(lambda m, a, kw: fed.append(kw["inputs_embeds"].shape[1]),
                                                    with_kwargs=True)
    try:
        got = sample_motion_steps(lm, prompt, GenConfig(seconds=1.0, seed=1), 1)
    finally:
        h.remove()
    assert len(got) == 8 and fed == [len(prompt) + 1] + [1] * 7  # one forward pass per step, the last one saved


@pytest.fixture(scope="module")
def overfit(backbone, tmp_path_factory):
    out = tmp_path_factory.mktemp("grouped_run")
    g1, g2, exs = pairs()
    res = train_lm(config(backbone, lora=False), FixedExamples(exs), out, "tok-test", log=lambda s: None)
    return res, out, g1, g2


def test_tiny_grouped_model_overfits_both_directions(overfit):
    res, out, g1, g2 = overfit
    assert res.step == 150 and res.last_loss < 0.05 * res.first_loss, (res.first_loss, res.last_loss)
    lm, meta = load_lm(out / "last")
    assert lm.layout == "grouped" and meta["config"]["layout"] == "grouped" and meta["kind"] == "full"
    grid, info = generate_motion(lm, CAPTION, GenConfig(greedy=True, max_seconds=2))
    np.testing.assert_array_equal(grid, g1)  # the model ends the motion itself, after exactly 4 steps
    assert info["tries"] == 1
    assert caption_grid(lm, g2, GenConfig(greedy=True)) == OTHER
    a, ia = generate_motion(lm, CAPTION, GenConfig(seed=3, max_seconds=2))
    b, ib = generate_motion(lm, CAPTION, GenConfig(seed=3, max_seconds=2))
    np.testing.assert_array_equal(a, b)
    assert ia == ib
    assert caption_grid(lm, g2, GenConfig(seed=4)) == caption_grid(lm, g2, GenConfig(seed=4))
    g, _ = generate_motion(lm, CAPTION, GenConfig(seconds=1.0, seed=0))
    assert g.shape == (8, 6)


def test_grouped_errors_are_clear(overfit):
    _, out, _, g2 = overfit
    lm, _ = load_lm(out / "last")
    with pytest.raises(MotionError, match="grouped layout.*--no-restrict"):
        generate_grid(lm, [CAPTION], GenConfig(restrict=False))
    with pytest.raises(MotionError, match="exceeds the model's context of 1024 tokens"):
        generate_motion(lm, "walk " * 2000, GenConfig())
    with pytest.raises(MotionError, match="empty"):
        generate_motion(lm, "   ", GenConfig())


def test_lora_grouped_checkpoint_loads_grouped_and_resumes(backbone, tmp_path):
    _, _, exs = pairs()
    r1 = train_lm(config(backbone, steps=3, lr=1e-3), FixedExamples(exs), tmp_path, "tok-test", log=lambda s: None)
    last = tmp_path / "last"
    assert r1.step == 3 and (last / STEPS).is_file() and read_meta(tmp_path)["config"]["layout"] == "grouped"
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(last / "adapter" / "adapter_model.safetensors"), "pt") as f:
        delta = [k for k in f.keys() if k.endswith("embed_tokens.token_adapter.trainable_tokens_delta")]
        assert f.get_tensor(delta[0]).shape == (2, 64)  # <mot> and </mot> only
    wrapped, _ = load_lm(tmp_path, trainable=True)
    merged, _ = load_lm(tmp_path)
    assert wrapped.layout == merged.layout == "grouped"
    saved = load_file(str(last / STEPS))
    for k, t in merged.steps.state_dict().items():
        torch.testing.assert_close(t, saved[k])
    assert all(p.requires_grad for p in wrapped.steps.parameters())
    assert not any(p.requires_grad for p in merged.steps.parameters())
    seqs = [merged.formatter.example_ids(ex) for ex in exs]
    b = grouped_batch(merged.formatter, seqs, False)
    wrapped.train(False)
    with torch.no_grad():
        torch.testing.assert_close(grouped_loss(wrapped.base_model, wrapped.steps, b),
                                   grouped_loss(merged.base_model, merged.steps, b), atol=1e-4, rtol=1e-4)
    r2 = train_lm(config(backbone, steps=5, lr=1e-3), FixedExamples(exs), tmp_path, "tok-test", log=lambda s: None)
    assert r2.resumed_from == 3 and r2.step == 5
    with pytest.raises(MotionError, match="another config.*layout"):
        train_lm(config(backbone, steps=6, lr=1e-3, layout="flat"), FixedExamples(exs), tmp_path, "tok-test",
                 log=lambda s: None)


def test_code_signs_are_the_lfq_library_codes():
    from motionlib.tokenizer.config import TokenizerConfig
    from motionlib.tokenizer.quantizers import LFQQuantizer, lfq_index_from_latent

    q = LFQQuantizer(TokenizerConfig(bits=6))
    k = torch.arange(64)
    lib = q.indices_to_latent(k.reshape(1, 64, 1))[0, :, :, 0].T  # (64 codes, 6 bits)
    torch.testing.assert_close(code_signs(6), torch.sign(lib))
    assert torch.equal(lfq_index_from_latent(code_signs(6), dim=1), k)


def test_bit_rows_tie_codes_by_their_bits_and_reach_unseen_codes():
    torch.manual_seed(0)
    sc = StepCoder(SPEC, hidden=32, dim=16, code_bits=6)
    table = sc.code_table()
    d_one_bit = (table[0] - table[1]).norm()  # codes 0 and 1 differ in their last bit, 0 and 63 in all six
    assert d_one_bit < (table[0] - table[63]).norm()
    torch.testing.assert_close(table, code_signs(6) @ sc.bit_map)  # the free rows start at zero
    # one step on codes 0..31 (first bit -1) moves code 40's row, which no target used, through the shared map
    codes = torch.randint(0, 32, (5, 6))
    first, rest = sc.part_logits(torch.randn(5, 32), codes)
    loss = torch.nn.functional.cross_entropy(first, codes[:, 0]) + rest.logsumexp(-1).mean()
    loss.backward()
    assert sc.bit_map.grad.abs().sum() > 0
    with pytest.raises(MotionError, match="2\\^5 codes, not 64"):
        StepCoder(SPEC, hidden=32, dim=16, code_bits=5)
    with pytest.raises(ValueError, match="grouped layout"):
        LMTrainConfig(vocab=SPEC, layout="flat", code_bits=6)


def test_bit_table_checkpoint_round_trip_and_init_check(backbone, tmp_path):
    _, _, exs = pairs()
    r = train_lm(config(backbone, steps=3, lr=1e-3, code_bits=6), FixedExamples(exs), tmp_path / "a", "tok-test",
                 log=lambda s: None)
    assert r.step == 3
    merged, meta = load_lm(tmp_path / "a")
    assert meta["config"]["code_bits"] == 6 and merged.steps.code_bits == 6
    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / "a" / "last" / STEPS))
    assert "bit_map" in saved and "signs" not in saved  # the signs are rebuilt, not stored
    torch.testing.assert_close(merged.steps.code_table(), code_signs(6) @ saved["bit_map"] + saved["table.weight"])
    with pytest.raises(MotionError, match="code table"):
        train_lm(config(backbone, steps=2, init=str(tmp_path / "a")), FixedExamples(exs), tmp_path / "b",
                 "tok-test", log=lambda s: None)


def test_a_frozen_code_table_gives_the_same_steps(backbone):
    torch.manual_seed(0)
    lm = build_lm(backbone, SPEC, lora=False, layout="grouped", group_dim=16, code_bits=6)
    with torch.no_grad():
        lm.steps.table.weight.normal_(0.0, 0.3)
    want = lm.steps.code_table().detach().clone()
    prepare_for_inference(lm)
    assert lm.steps._frozen is not None
    torch.testing.assert_close(lm.steps.code_table(), want)
    prompt = lm.formatter.prompt_ids([CAPTION])
    got = sample_motion_steps(lm, prompt, GenConfig(seconds=1.0, seed=3), 3)
    lm.steps._frozen = None  # recomputed at every step, as before freezing
    assert sample_motion_steps(lm, prompt, GenConfig(seconds=1.0, seed=3), 3) == got
    lm.steps.train()
    assert lm.steps._frozen is None
