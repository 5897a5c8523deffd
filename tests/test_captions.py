"""Bandai labels and captions: label files, fallbacks, errors, determinism and
coverage of every content/style of both datasets."""

import json
import re
import shutil

import pytest

from motionlib.motion.errors import MotionError
from motionlib.motion.ingest.captions import (BODY_PARTS, CONTENTS, STYLES, bandai_labels, bandai_texts,
                                              label_names)

ALL_LABELS = [(ds, c, s) for ds, d in label_names().items() for c in d["content"] for s in d["style"]]


def test_labels_from_json_beside_the_bvh(samples_dir):
    lab = bandai_labels(samples_dir / "dataset-2_wave-right-hand_normal_001.bvh")
    assert lab == {"dataset": "dataset-2", "content": "wave-right-hand", "style": "normal", "take": 1}
    assert bandai_labels(samples_dir / "dataset-1_bow_normal_001.bvh")["content"] == "bow"


def test_labels_fall_back_to_the_file_name(tmp_path, samples_dir):
    dst = tmp_path / "dataset-1_walk-back_not-confident_003.bvh"
    shutil.copy(samples_dir / "dataset-1_walk_normal_001.bvh", dst)
    assert bandai_labels(dst) == {"dataset": "dataset-1", "content": "walk-back", "style": "not-confident", "take": 3}
    bad = tmp_path / "dataset-1_fly_normal_001.bvh"
    bad.write_text("HIERARCHY\n")
    with pytest.raises(MotionError, match="fly") as e:
        bandai_labels(bad)
    assert "dataset-1_fly_normal_001.bvh" in str(e.value)
    with pytest.raises(MotionError, match="dataset-N"):
        bandai_labels(tmp_path / "walking.bvh")
    # a renamed clip with its JSON inside a dataset-N folder still gets its labels
    (tmp_path / "dataset-2").mkdir()
    (tmp_path / "dataset-2" / "clip.json").write_text('{"content": 6, "style": 1}')
    assert bandai_labels(tmp_path / "dataset-2" / "clip.bvh") == {
        "dataset": "dataset-2", "content": "wave-right-hand", "style": "elderly", "take": None}


@pytest.mark.parametrize("payload, match", [
    ({"content": 99, "style": 0}, "content index 99 is out of range"),
    ({"content": 0, "style": -1}, "style index -1 is out of range"),
    ({"content": "walk", "style": 0}, "integer 'content'"),
    ([1, 2], "integer 'content'"),
])
def test_bad_label_json_names_the_file(tmp_path, payload, match):
    bvh = tmp_path / "dataset-2_walk_normal_001.bvh"
    bvh.write_text("HIERARCHY\n")
    (tmp_path / "dataset-2_walk_normal_001.json").write_text(json.dumps(payload))
    with pytest.raises(MotionError, match=match) as e:
        bandai_labels(bvh)
    assert "dataset-2_walk_normal_001.json" in str(e.value)


def test_broken_json(tmp_path):
    bvh = tmp_path / "dataset-1_walk_normal_001.bvh"
    bvh.write_text("HIERARCHY\n")
    (tmp_path / "dataset-1_walk_normal_001.json").write_text('{"content": ')
    with pytest.raises(MotionError, match="not valid JSON"):
        bandai_labels(bvh)


def test_shipped_label_names_match_the_release(bandai_dir):
    for n, name in ((1, "dataset-1"), (2, "dataset-2")):
        for kind in ("content", "style"):
            lines = [ln.strip() for ln in (bandai_dir / f"cfg-{n}" / f"{kind}_label.txt").read_text().splitlines()]
            assert [ln.removeprefix(f"{name}_") for ln in lines if ln] == label_names()[name][kind]
    # every dataset-1 JSON agrees with its file name
    for js in sorted((bandai_dir / "dataset-1").glob("*.json")):
        lab = bandai_labels(js.with_suffix(".bvh"))
        assert js.stem == f"dataset-1_{lab['content']}_{lab['style']}_{lab['take']:03d}"


def test_deterministic_for_a_seed_and_varied_across_seeds():
    lab = {"dataset": "dataset-1", "content": "walk-back", "style": "tired", "take": 1}
    a = bandai_texts(lab, n_captions=4, seed=7)
    assert a == bandai_texts(lab, n_captions=4, seed=7)
    assert bandai_texts(lab) == bandai_texts(dict(lab))  # default seed comes from the clip id
    runs = {tuple(bandai_texts(lab, n_captions=4, seed=s)["captions"]) for s in range(6)}
    assert len(runs) >= 4
    other_take = bandai_texts({**lab, "take": 2})["captions"]
    assert other_take != bandai_texts(lab)["captions"]
    assert len(bandai_texts(lab, n_captions=10, seed=1)["captions"]) == 10


def _words(phrases):
    return [p for p in phrases if p]


@pytest.mark.parametrize("ds, content, style", ALL_LABELS)
def test_every_label_gets_grammatical_captions(ds, content, style):
    texts = bandai_texts({"dataset": ds, "content": content, "style": style, "take": 1}, n_captions=4)
    caps = texts["captions"]
    assert len(caps) == 4 and len(set(caps)) == 4
    c, s = CONTENTS[content], STYLES[style]
    style_words = _words(s.manners + s.adverbs + s.adjectives)
    every_style_word = {w for st in STYLES.values() for w in st.manners + st.adverbs + st.adjectives}
    for cap in caps:
        assert re.fullmatch(r"[a-z][a-z ,'-]*[a-z]", cap), cap
        assert "  " not in cap and " ," not in cap
        assert not re.search(r"\ba [aeiou]", cap) and not re.search(r"\ban [^aeiou ]", cap), cap
        assert cap.count(" with ") <= 1, cap
        # the action is named (verb or -ing form, allowing an adverb/adjective before it)
        assert any(v in cap for v in c.verbs + c.ings), cap
        if style_words:
            assert any(re.search(rf"\b{re.escape(w)}\b", cap) for w in style_words), cap
        else:
            assert not any(re.search(rf"\b{re.escape(w)}\b", cap) for w in every_style_word), cap
    assert set(texts["body_parts"]) <= set(BODY_PARTS)
    assert all(isinstance(v, list) and v and all(isinstance(x, str) for x in v) for v in texts["body_parts"].values())
    if content.startswith("walk"):
        assert all("walk" in cap for cap in caps)


def test_body_parts_follow_the_content():
    def parts(content, ds="dataset-2"):
        return bandai_texts({"dataset": ds, "content": content, "style": "normal", "take": 1})["body_parts"]

    assert parts("wave-right-hand") == {"right_arm": ["the right hand waves"]}
    assert set(parts("raise-up-both-hands")) == {"left_arm", "right_arm"}
    assert set(parts("raise-up-left-hand")) == {"left_arm"}
    assert "the upper body bends forward" in parts("bow", "dataset-1")["spine"]
    assert parts("kick", "dataset-1")["right_leg"] == ["a leg kicks"]
    assert {"left_arm", "right_arm"} <= set(parts("punch", "dataset-1"))
    walk = parts("walk")
    assert walk["left_leg"] == walk["right_leg"] == ["the legs step alternately"]
    assert "left" in parts("walk-turn-left")["root"][0] and "right" in parts("walk-turn-right")["root"][0]
    assert "backwards" in parts("walk-back", "dataset-1")["root"][0]


def test_unknown_labels_are_refused():
    with pytest.raises(MotionError, match="content 'fly'"):
        bandai_texts({"dataset": "dataset-1", "content": "fly", "style": "normal", "take": 1})
    with pytest.raises(MotionError, match="style 'sleepy'"):
        bandai_texts({"dataset": "dataset-1", "content": "walk", "style": "sleepy", "take": 1})
    with pytest.raises(ValueError):
        bandai_texts({"dataset": "dataset-1", "content": "walk", "style": "normal", "take": 1}, n_captions=0)
