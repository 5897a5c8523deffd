"""The data split of the tokenizer benchmark script (``scripts/tokenizer_sweep.py``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _sweep():
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    return importlib.import_module("tokenizer_sweep")


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
