"""Decoding: the KV-cached restricted loop against a from-scratch reference, the inference set-up (LoRA merged,
attention, static cache, bf16, int8), and the same seed giving the same motion on the default path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionlib.llm.generate import GenConfig, _pick, generate_motion, sample_motion_ids
from motionlib.llm.model import InferenceConfig, build_lm, prepare_for_inference
from motionlib.llm.tiny import TinyConfig, save_tiny
from motionlib.llm.vocab import VocabSpec

SPEC = VocabSpec(codebook_size=64, num_parts=6)
PROMPT = "a person waves the right hand"


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    return str(save_tiny(tmp_path_factory.mktemp("tiny") / "llama", TinyConfig(hidden=64, layers=2)))


def wrapped_lm(backbone, seed=0):
    """A LoRA-wrapped tiny model whose adapters are not zero (as after training)."""
    torch.manual_seed(seed)
    lm = build_lm(backbone, SPEC, lora=True)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in lm.model.named_parameters():
            if "lora_B" in name or "trainable_tokens_delta" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    lm.model.eval()
    return lm


def reference_codes(lm, prompt_ids, cfg, seed):
    """The restricted decoding without a cache: the whole sequence through the whole model at every step."""
    v, p = lm.vocab, lm.vocab.num_parts
    lo_steps, hi_steps = cfg.steps()
    gen = torch.Generator().manual_seed(seed)
    seq, codes = list(prompt_ids) + [v.start_id], []
    while not (len(codes) % p == 0 and len(codes) // p >= hi_steps):
        n = len(codes)
        with torch.no_grad():
            logits = lm.model(input_ids=torch.tensor([seq])).logits[0, -1]
        lo, hi = v.part_range(n % p)
        row = logits[lo:hi]
        if n % p == 0 and n // p >= lo_steps:
            row = torch.cat([row, logits[v.end_id].reshape(1)])
        k = _pick(row, cfg, gen)
        if k == hi - lo:
            break
        codes.append(lo + k)
        seq.append(lo + k)
    return codes


@pytest.mark.parametrize("cfg", [GenConfig(greedy=True, max_seconds=2), GenConfig(seed=5, max_seconds=2),
                                 GenConfig(seconds=1.0, seed=2, top_k=8, temperature=0.7)])
def test_cached_restricted_loop_matches_a_full_recompute(backbone, cfg):
    lm = prepare_for_inference(wrapped_lm(backbone))
    ids = lm.formatter.prompt_ids([PROMPT])
    want = reference_codes(lm, ids, cfg, cfg.seed)
    assert want  # the reference writes a motion at all
    assert sample_motion_ids(lm, ids, cfg, cfg.seed) == want
    assert sample_motion_ids(lm, ids, GenConfig(**{**cfg.__dict__, "static_cache": True}), cfg.seed) == want


def test_kv_cache_feeds_each_token_once(backbone):
    lm = prepare_for_inference(wrapped_lm(backbone))
    ids = lm.formatter.prompt_ids([PROMPT])
    fed = []
    body = lm.model.model
    handle = body.register_forward_pre_hook(lambda mod, a, kw: fed.append(kw["input_ids"].shape[1]),
                                            with_kwargs=True)
    try:
        codes = sample_motion_ids(lm, ids, GenConfig(seconds=1.0, seed=1), 1)
    finally:
        handle.remove()
    assert len(codes) == 48
    assert fed[0] == len(ids) + 1 and fed[1:] == [1] * (len(codes) - 1)


def test_prepare_merges_lora_and_keeps_the_logits(backbone):
    lm = wrapped_lm(backbone)
    x = torch.tensor([lm.formatter.prompt_ids([PROMPT]) + [lm.vocab.start_id, lm.vocab.code_offset + 3]])
    with torch.no_grad():
        want = lm.model(input_ids=x).logits
    prepare_for_inference(lm)
    assert not hasattr(lm.model, "peft_config") and not any(p.requires_grad for p in lm.model.parameters())
    assert not any("lora" in n for n, _ in lm.model.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(lm.model(input_ids=x).logits, want, atol=1e-4, rtol=1e-4)
    eager = prepare_for_inference(wrapped_lm(backbone), InferenceConfig(attention="eager"))
    with torch.no_grad():
        torch.testing.assert_close(eager.model(input_ids=x).logits, want, atol=1e-4, rtol=1e-4)


def test_bf16_and_int8_options(backbone):
    ref = prepare_for_inference(wrapped_lm(backbone))
    x = torch.tensor([ref.formatter.prompt_ids([PROMPT])])
    with torch.no_grad():
        want = torch.softmax(ref.model(input_ids=x).logits[0], -1)
    bf = prepare_for_inference(wrapped_lm(backbone), InferenceConfig(dtype="bfloat16"))
    assert bf.model.model.layers[0].mlp.down_proj.weight.dtype == torch.bfloat16
    q8 = prepare_for_inference(wrapped_lm(backbone), InferenceConfig(int8=True))
    assert "quantized" in type(q8.model.model.layers[0].mlp.down_proj).__module__
    assert isinstance(q8.model.get_output_embeddings(), torch.nn.Linear)  # the output layer stays float
    for lm in (bf, q8):
        with torch.no_grad():
            got = torch.softmax(lm.model(input_ids=x).logits[0].float(), -1)
        assert float(0.5 * (got - want).abs().sum(-1).mean()) < 0.2
        codes = sample_motion_ids(lm, x[0].tolist(), GenConfig(seconds=1.0, seed=0), 0)
        assert len(codes) == 48 and all(lm.vocab.is_code(c) for c in codes)
    with pytest.raises(ValueError, match="attention"):
        InferenceConfig(attention="flash")
    with pytest.raises(ValueError, match="dtype"):
        InferenceConfig(dtype="float16")


def test_same_seed_same_motion_on_the_default_path(backbone):
    lm = prepare_for_inference(wrapped_lm(backbone))
    a, ia = generate_motion(lm, PROMPT, GenConfig(seconds=2.0, seed=7))
    b, ib = generate_motion(lm, PROMPT, GenConfig(seconds=2.0, seed=7))
    c, _ = generate_motion(lm, PROMPT, GenConfig(seconds=2.0, seed=8))
    assert a.shape == (15, 6) and ia == ib
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_decoding_threads_are_restored_and_do_not_change_the_motion(backbone):
    lm = prepare_for_inference(wrapped_lm(backbone))
    before = torch.get_num_threads()
    a, _ = generate_motion(lm, PROMPT, GenConfig(seconds=1.0, seed=3, threads=1))
    assert torch.get_num_threads() == before
    b, _ = generate_motion(lm, PROMPT, GenConfig(seconds=1.0, seed=3, threads=None, static_cache=True))
    np.testing.assert_array_equal(a, b)
