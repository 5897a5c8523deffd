"""Caption accuracy: the matcher from caption text to Bandai content and style labels."""

from __future__ import annotations

import pytest

from motionlib.llm.caption_accuracy import accuracy, content_correct, match_content, match_style, style_correct
from motionlib.motion.ingest.captions import CONTENTS, STYLES, _candidates, bandai_texts, label_names


def test_every_reference_caption_names_its_content_and_style():
    n = 0
    for names in label_names().values():
        for content in names["content"]:
            for style in names["style"]:
                for group in _candidates(CONTENTS[content], STYLES[style]):
                    for cap in group:
                        assert content_correct(cap, content), (cap, content, match_content(cap))
                        assert style_correct(cap, style), (cap, style, match_style(cap))
                        n += 1
    assert n > 10000


@pytest.mark.parametrize("caption,content,style", [
    ("A person walks backwards, angrily!", "walk-back", "angry"),
    ("someone runs", "run", "normal"),
    ("a person waves goodbye with both hands in a sad way", "byebye", "sad"),
    ("a person waves goodbye with the right hand", "bye", "normal"),
    ("the person is turning left while walking hesitantly", "walk-turn-left", "not-confident"),
    ("a manly person dashes off", "dash", "masculinity"),
    ("a person dances", "dance-long", "normal"),
])
def test_matcher_names_the_labels(caption, content, style):
    assert content_correct(caption, content)
    assert style_correct(caption, style)


def test_wrong_or_ambiguous_captions_are_wrong():
    assert not content_correct("a person walks", "run")
    assert match_content("a person walks and runs") == {"walk", "run"}
    assert not content_correct("a person walks and runs", "walk")
    assert not content_correct("a person is standing", "walk") and match_content("a person is standing") == set()
    assert not style_correct("a person sadly walks", "angry")
    assert not style_correct("a person walks", "sad")  # no style named: read as normal
    assert not style_correct("a person walks sadly and angrily", "sad")
    # synonyms: phrases two labels share count for both, a label's own phrase only for it
    assert style_correct("a person walks wearily", "tired") and style_correct("a person walks wearily", "exhausted")
    assert not style_correct("a person walks in a tired way", "exhausted")
    assert style_correct("a masculine person walks", "masculinity")
    assert not content_correct("a person walks sadly", "walkback")


def test_accuracy_over_triples():
    labels = {"dataset": "dataset-1", "content": "kick", "style": "sad", "take": 1}
    caps = bandai_texts(labels)["captions"]
    items = [(c, "kick", "sad") for c in caps] + [("a person walks sadly", "kick", "sad"),
                                                  ("a person kicks", "kick", "sad")]
    acc = accuracy(items)
    n = len(caps) + 2
    assert acc.n == n and acc.content == pytest.approx((n - 1) / n) and acc.style == pytest.approx((n - 1) / n)
    assert acc.both == pytest.approx((n - 2) / n)
    with pytest.raises(ValueError):
        accuracy([])
