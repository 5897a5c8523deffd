"""The shipped language model (``llm/data/default_lm/``): it belongs to the shipped tokenizer, loads with
nothing beside it, generates the same clip for the same seed, and still names what the bundled clips show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLES
from motionlib.cli.main import main


def test_the_shipped_model_belongs_to_the_shipped_tokenizer():
    from motionlib.llm.checkpoint import read_meta
    from motionlib.llm.default import default_lm_path
    from motionlib.tokenizer.checkpoint import default_tokenizer_path, load_tokenizer

    path = default_lm_path()
    meta = read_meta(path)
    _, ck = load_tokenizer(default_tokenizer_path())
    assert meta["tokenizer_id"] == ck.tokenizer_id
    assert meta["kind"] == "full" and (path / "model" / "tokenizer.json").is_file()  # self-contained
    assert not (path / "trainer.pt").exists()  # shipped without the optimizer state
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    assert size < 30e6


def test_generate_with_the_shipped_model_is_reproducible(tmp_path, capsys):
    from motionlib.motion.io import load_motion

    outs = []
    for k in range(2):
        out = tmp_path / f"walk{k}.npz"
        assert main(["generate", "a person walks forward", "-o", str(out), "--seconds", "2", "--seed", "3"]) == 0
        outs.append(load_motion(out))
    a, b = outs
    assert a.meta["prompt"] == "a person walks forward"
    assert abs(a.num_frames - 60) <= 4
    np.testing.assert_array_equal(a.rotations, b.rotations)
    np.testing.assert_array_equal(a.trans, b.trans)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The three bundled Bandai samples, read as ``motionlib ingest`` reads them."""
    from motionlib.motion.ingest.formats import ReadOptions, read_clips
    from motionlib.motion.io import save_motion

    out = tmp_path_factory.mktemp("bundled")
    for bvh in sorted(SAMPLES.glob("*.bvh")):
        (clip,) = read_clips(bvh, opts=ReadOptions(threads=1))
        save_motion(clip, out / f"{bvh.stem}.npz")
    return out


def test_the_shipped_model_names_the_bundled_clips(bundled, capsys):
    """A quality floor: the bundled clips were among the model's training clips. Its greedy captions name the
    walk ("a person is walking forward") and the wave; the bow it does not ("a person is calling out": dataset-1's
    contents are its weak side, llm/README.md). A regression of the shipped file fails here."""
    capsys.readouterr()
    assert main(["caption", str(bundled), "--json"]) == 0
    caps = {Path(c["clip"]).stem: c["caption"].lower() for c in json.loads(capsys.readouterr().out)}
    assert len(caps) == 3
    assert "walk" in caps["dataset-1_walk_normal_001"]
    wave = caps["dataset-2_wave-right-hand_normal_001"]
    assert "wave" in wave or "waving" in wave


def test_eval_lm_model_alone_means_the_shipped_model():
    from motionlib.cli.cmd_eval_lm import SHIPPED
    from motionlib.cli.main import build_parser

    p = build_parser()
    assert p.parse_args(["eval-lm", "--evaluator", "EV", "--model"]).model == SHIPPED
    assert p.parse_args(["eval-lm", "--evaluator", "EV", "--model", "RUN"]).model == "RUN"
    assert p.parse_args(["eval-lm", "--evaluator", "EV", "--real"]).model is None
