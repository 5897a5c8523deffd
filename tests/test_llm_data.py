"""Instruction templates, the split rule and its manifest, examples and their token ids."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionlib.llm.dataset import DataConfig, InstructionData
from motionlib.llm.sequence import Formatter, fill
from motionlib.llm.splits import (TOKENIZER_HELD_OUT_STYLES, build_manifest, load_manifest, save_manifest,
                                  split_of)
from motionlib.llm.templates import TASKS, TEMPLATES, count, expand
from motionlib.llm.tiny import tiny_backbone
from motionlib.llm.vocab import MotionVocab, VocabSpec
from motionlib.motion.errors import MotionError

SLOTS = {"caption", "motion", "motion_end", "seconds", "part", "part_text", "noun", "style", "manner"}


def test_expand_alternatives():
    assert expand("(Show|Make) a (motion|clip) of {caption}.") == [
        "Show a motion of {caption}.", "Show a clip of {caption}.", "Make a motion of {caption}.",
        "Make a clip of {caption}."]
    assert expand("Change (the style of|) this") == ["Change the style of this", "Change this"]


def test_templates_cover_every_task():
    c = count()
    assert c["total"] >= 250 and set(TEMPLATES) == set(TASKS)
    for task, ts in TEMPLATES.items():
        assert len(ts) >= 10, task
        assert len({t.prompt for t in ts}) == len(ts)
        for t in ts:
            assert t.slots() <= SLOTS, t
            assert "(" not in t.prompt.replace("(s)", "") and "|" not in t.prompt, t
            assert t.answer in ("{motion}", "{caption}", "{part_text}")
            if t.answer == "{motion}" and task in ("m2t", "part_m2t"):
                raise AssertionError(t)
    assert all("{seconds}" in t.prompt for t in TEMPLATES["length"])
    assert all("{motion_end}" in t.prompt for t in TEMPLATES["inbetween"])
    assert all("{style}" in t.prompt or "{manner}" in t.prompt for t in TEMPLATES["style"])


def test_fill_splices_grids():
    g, h = np.zeros((2, 6), int), np.ones((3, 6), int)
    segs = fill("Join {motion} and {motion_end}, {seconds} s", {"motion": g, "motion_end": h, "seconds": 4})
    assert segs[0] == "Join " and segs[1] is g and segs[2] == " and " and segs[3] is h and segs[4] == ", 4 s"
    with pytest.raises(KeyError, match="caption"):
        fill("{caption}", {})


def _write_clip(folder, name, dataset, content, style, steps, rng):
    from motionlib.motion.ingest.captions import bandai_texts
    from motionlib.motion.io import save_motion
    from motionlib.tokenizer.tokens import TokenFile, save_tokens, token_path
    from walk_fixture import make_walking_clip

    clip = make_walking_clip(seconds=1.0)
    labels = {"dataset": dataset, "content": content, "style": style, "take": 1}
    clip.meta.update(labels=labels, texts=bandai_texts(labels))
    path = save_motion(clip, folder / f"{name}.npz")
    save_tokens(token_path(path), TokenFile(rng.integers(0, 64, (steps, 6)), "tok-test", "h", steps * 4, 30.0))
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lmclips")
    rng = np.random.default_rng(0)
    for content in ("walk", "bow", "wave-right-hand"):
        for style in ("normal", "tired", "angry", "sad"):
            ds = "dataset-2" if content == "wave-right-hand" else "dataset-1"
            _write_clip(folder, f"{ds}_{content}_{style}_001", ds, content, style, 20, rng)
    return folder


def test_split_rule_keeps_the_tokenizer_held_out_clips_for_test(clips, tmp_path):
    assert set(TOKENIZER_HELD_OUT_STYLES) == {"angry", "feminine", "masculinity", "not-confident", "sad"}
    assert split_of("x", "dataset-1", "sad", 0.5) == "test"
    assert split_of("x", "dataset-2", "sad", 0.0) == "train"  # only dataset-1 clips were held out
    assert split_of("x", "dataset-1", "tired", 0.0) == "train"
    m = build_manifest([clips], val_fraction=0.0)
    test = m.split("test")
    assert {(c.dataset, c.style) for c in test} == {("dataset-1", "angry"), ("dataset-1", "sad")}
    assert len(test) == 4 and m.counts()["train"] == 8
    path = save_manifest(m, tmp_path / "m.json")
    d = json.loads(path.read_text())
    assert d["counts"] == {"train": 8, "val": 0, "test": 4} and "never seen by the shipped tokenizer" in d["rule"]
    assert d["unseen_test_styles"] == []  # angry and sad wave clips of dataset-2 are in training here
    back = load_manifest(path)
    assert [c.id for c in back.clips] == [c.id for c in m.clips]
    with pytest.raises(MotionError, match="no such manifest"):
        load_manifest(tmp_path / "none.json")
    # validation by clip: a fixed, hash-chosen fraction, the same on every call
    m2 = build_manifest([clips], val_fraction=0.5)
    assert 0 < m2.counts()["val"] < 8 and m2.counts() == build_manifest([clips], val_fraction=0.5).counts()


def test_instruction_examples_of_every_task(clips):
    m = build_manifest([clips], val_fraction=0.0)
    data = InstructionData(m, "train", DataConfig(max_steps=16), tokenizer_id="tok-test")
    assert len(data) == 8 and not any(e.split == "test" for e in data.entries)
    rng = np.random.default_rng(0)
    for task in TASKS:
        ex = None
        for e in data.entries:
            ex = data.make(task, e, rng)
            if ex is not None:
                break
        assert ex is not None, task
        grids_in = [s for s in ex.prompt if isinstance(s, np.ndarray)]
        if task in ("m2t", "part_m2t"):
            assert isinstance(ex.answer[0], str) and len(grids_in) == 1
        else:
            assert isinstance(ex.answer[0], np.ndarray) and len(ex.answer[0]) <= 16
        if task == "length":
            assert len(ex.answer[0]) == round(ex.info["seconds"] * 7.5)
        if task == "style":
            assert ex.info["target_clip"] != ex.clip and data.grids[ex.info["target_clip"]] is not None
        if task == "inbetween":
            assert len(grids_in) == 2
    align = InstructionData(m, "train", DataConfig(stage="align"), tokenizer_id="tok-test")
    tasks = {align.sample(rng).task for _ in range(30)}
    assert tasks == {"t2m", "m2t"}
    with pytest.raises(MotionError, match="tokenizer"):
        InstructionData(m, "train", DataConfig(), tokenizer_id="another")


def test_formatter_ids(clips):
    model, tok = tiny_backbone()
    v = MotionVocab.extend(tok, model, VocabSpec(codebook_size=64))
    f = Formatter(tok, v)
    g = np.arange(12).reshape(2, 6)
    p = f.prompt_ids(["Describe ", g])
    assert p[-1] == tok("\n", add_special_tokens=False)["input_ids"][-1]
    seg = v.segments(p)
    assert len(seg) == 1 and p[seg[0][0]:seg[0][1]] == v.codes_to_ids(g)
    a = f.answer_ids(["a person walks"])
    assert a[-1] == tok.eos_token_id and f.text_of(a) == "a person walks"
    assert f.text_of(v.encode(g) + tok("a bow", add_special_tokens=False)["input_ids"]) == "a bow"


def test_every_task_builds_in_the_grouped_layout(clips):
    from motionlib.llm.grouped import GroupedFormatter, decode_steps, grouped_batch

    model, tok = tiny_backbone()
    v = MotionVocab.extend(tok, model, VocabSpec(codebook_size=64), codes=False)
    f = GroupedFormatter(tok, v)
    data = InstructionData(build_manifest([clips], val_fraction=0.0), "train", DataConfig(max_steps=16),
                           tokenizer_id="tok-test")
    rng = np.random.default_rng(0)
    for task in TASKS:
        ex = next(x for x in (data.make(task, e, rng) for e in data.entries) if x is not None)
        items, n = f.example_ids(ex)
        grids = [s for s in ex.prompt + ex.answer if isinstance(s, np.ndarray)]
        starts = [i for i, x in enumerate(items) if x == v.start_id]
        assert len(starts) == len(grids), task
        for i, g in zip(starts, grids):  # every motion of the example, prompt or answer, comes back
            np.testing.assert_array_equal(decode_steps(v, items[i:]), g)
        b = grouped_batch(f, [(items, n)], target_only=True)
        steps_in_answer = sum(len(s) for s in ex.answer if isinstance(s, np.ndarray))
        # the answer's steps and its end are predicted by the part head; its text by the LM head
        assert int((b.part_targets[0, :, 0] != -100).sum()) == (steps_in_answer + 1 if steps_in_answer else 0), task
        assert int((b.lm_targets[0] != -100).sum()) == len(items) - n - (steps_in_answer + 1 if steps_in_answer
                                                                        else 0), task


def test_content_balance_draws_every_content_alike(tmp_path):
    """--balance content: a content that one clip shows is drawn as often as one that six clips show;
    the default draws every clip alike."""
    rng = np.random.default_rng(1)
    for style in ("normal", "happy", "proud", "childish", "tired", "active"):
        _write_clip(tmp_path, f"dataset-2_walk_{style}_001", "dataset-2", "walk", style, 20, rng)
    _write_clip(tmp_path, "dataset-1_bow_normal_001", "dataset-1", "bow", "normal", 20, rng)
    m = build_manifest([tmp_path], val_fraction=0.0)

    def bow_share(balance: str) -> float:
        data = InstructionData(m, "train", DataConfig(stage="align", balance=balance), tokenizer_id="tok-test")
        assert len(data) == 7
        r = np.random.default_rng(0)
        return float(np.mean(["_bow_" in data.sample(r).clip for _ in range(2000)]))

    assert abs(bow_share("content") - 0.5) < 0.05
    assert abs(bow_share("clip") - 1 / 7) < 0.04
    with pytest.raises(ValueError, match="balance"):
        DataConfig(balance="style")
