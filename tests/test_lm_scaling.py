"""``benchmarks/lm_scaling.py`` end to end on synthetic clips (tiny model, a few steps, a tiny evaluator trained
here), and the data-fraction subsets of ``train-lm --data-fraction``."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from motionlib.cli.main import main as motionlib_main

from llm_pairs import write_labelled_clip

ROOT = Path(__file__).resolve().parents[1]
TRAIN = [("dataset-2", c, s) for c in ("walk", "wave-right-hand")
         for s in ("active", "elderly", "exhausted", "youthful", "happy", "proud")]
TEST = [("dataset-1", c, s) for c in ("walk", "bye") for s in ("angry", "sad")]


def _script():
    spec = importlib.util.spec_from_file_location("lm_scaling", ROOT / "benchmarks" / "lm_scaling.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _manifest(ids):
    from motionlib.llm.splits import ClipEntry, Manifest

    return Manifest([ClipEntry(i, f"{i}.npz", "test" if i.startswith("t") else "train") for i in ids])


def test_train_fractions_nest_and_keep_their_share():
    from motionlib.llm.splits import train_fraction_ids, with_train_fraction

    m = _manifest([f"clip{i:03d}" for i in range(200)] + ["t1", "t2"])
    subsets = [set(train_fraction_ids(m, f)) for f in (0.1, 0.3, 1.0)]
    assert [len(s) for s in subsets] == [20, 60, 200]
    assert subsets[0] < subsets[1] < subsets[2]
    assert subsets[0] != {f"clip{i:03d}" for i in range(20)}  # a hash draw, not the first clips
    small = with_train_fraction(m, 0.1)
    assert small.counts() == {"train": 20, "val": 0, "test": 2}
    # a clip's membership depends on its id only: the same draw from a manifest in another order
    shuffled = _manifest(sorted(c.id for c in m.clips)[::-1])
    assert set(train_fraction_ids(shuffled, 0.3)) == subsets[1]
    assert len(train_fraction_ids(_manifest(["a", "b"]), 0.1)) == 1  # never empty
    with pytest.raises(ValueError):
        train_fraction_ids(m, 0.0)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from motionlib.llm.evaluator import EvaluatorConfig
    from motionlib.llm.evaluator_train import EvaluatorTrainConfig, train_evaluator
    from motionlib.llm.splits import build_manifest, save_manifest
    from motionlib.llm.tiny import save_tiny

    root = tmp_path_factory.mktemp("scaling")
    rng = np.random.default_rng(0)
    for take in (1, 2):
        for ds, c, s in TRAIN:
            write_labelled_clip(root / "src", ds, c, s, take, rng)
    for ds, c, s in TEST:
        write_labelled_clip(root / "src", ds, c, s, 1, rng)
    tiny = str(save_tiny(root / "tiny"))
    ev = root / "ev"
    manifest = build_manifest([root / "src"], 0.1)
    save_manifest(manifest, ev / "manifest.json")
    cfg = EvaluatorTrainConfig(EvaluatorConfig(max_seconds=2.0, dim=16, width=32, layers=1, token_dim=16), steps=20,
                               batch_size=8, eval_every=10, backbone=tiny, init_embeddings=False)
    train_evaluator(manifest, ev, cfg)
    return root, ev


def test_the_scaling_script_trains_evaluates_and_reports(setup, capsys):
    root, ev = setup
    script = _script()
    runs, clips = root / "runs", root / "clips"
    common = ["--clips-dir", str(clips), "--runs-dir", str(runs), "--models", "tiny", "--steps", "2",
              "--batch-size", "2", "--max-len", "256", "--max-seconds", "1", "--threads", "1", "--in-process",
              "--tiny-vocab", "400"]
    assert script.main(["prepare", "--source", str(root / "src"), *common]) == 0
    assert len(list((clips / "d1").glob("*.tokens.npz"))) == 28 and not list((root / "src").glob("*.tokens.npz"))

    assert script.main(["train", *common]) == 0
    names = ["tiny_f010", "tiny_f030", "tiny_f100"]
    ids = [json.loads((runs / n / "train_clips.json").read_text())["clips"] for n in names]
    manifest = json.loads((runs / "manifest.json").read_text())
    n_train = manifest["counts"]["train"]
    test_ids = {c["id"] for c in manifest["clips"] if c["split"] == "test"}
    assert [len(i) for i in ids] == [max(1, round(f * n_train)) for f in (0.1, 0.3, 1.0)]
    assert set(ids[0]) <= set(ids[1]) <= set(ids[2]) and len(ids[0]) < len(ids[1]) < len(ids[2])
    assert not test_ids & set(ids[2]) and len(test_ids) == 4
    first = [(runs / n / "train_result.json").stat().st_mtime for n in names]
    (backbone,) = (runs / "backbones").iterdir()  # one backbone for the three runs, named by its size
    assert backbone.name == "tiny_h64_l2_a4_v400"
    assert len(json.loads((backbone / "tokenizer.json").read_text())["model"]["vocab"]) == 400
    for n in names:
        res = json.loads((runs / n / "train_result.json").read_text())
        assert res["step"] == 2 and res["model"] == "tiny" and "--data-fraction" in res["command"]
    capsys.readouterr()

    assert script.main(["train", *common]) == 0  # finished runs are skipped
    assert capsys.readouterr().out.count("is finished; skipped") == 3
    assert [(runs / n / "train_result.json").stat().st_mtime for n in names] == first
    out = script.main(["plan", *common, "--evaluator", str(ev)])
    text = capsys.readouterr().out
    assert out == 0 and text.count("motionlib train-lm") == 3 and text.count("motionlib eval-lm") == 3
    assert "trained (2 steps)" in text

    # another fraction on a finished run's folder is refused, not mixed in
    rc = motionlib_main(["train-lm", "--out", str(runs / "tiny_f010"), "--manifest", str(runs / "manifest.json"),
                         "--backbone", str(next((runs / "backbones").iterdir())), "--full-finetune", "--lr", "0.001",
                         "--steps", "3", "--batch-size", "2", "--max-len", "256", "--max-seconds", "1",
                         "--data-fraction", "0.3", "--json"])
    assert rc == 2 and "data_fraction" in capsys.readouterr().err

    assert script.main(["eval", *common, "--evaluator", str(ev), "--repeats", "3", "--batch", "4"]) == 0
    results = json.loads((runs / "results.json").read_text())
    assert [r["name"] for r in results["runs"]] == names and results["problems"] == []
    for r in results["runs"]:
        assert 0.0 <= r["r3"]["mean"] <= 1.0 and r["fid"]["mean"] >= 0.0 and r["test_clips"] == 4
        assert 0.0 <= r["caption_content"] <= 1.0 and r["captions"] == 4
    assert 0.0 <= results["real"]["r3"]["mean"] <= 1.0

    doc, png = root / "docs" / "lm_scaling.md", root / "docs" / "lm_scaling.png"
    doc.parent.mkdir()
    doc.write_text("# Scaling\n\nWhat the runs are.\n")
    argv = ["report", *common, "--doc", str(doc), "--plot", str(png), "--title", "Synthetic clips, 2 steps."]
    assert script.main(argv) == 0
    text = doc.read_text()
    assert text.startswith("# Scaling\n\nWhat the runs are.\n") and "Synthetic clips, 2 steps." in text
    rows = [ln for ln in text.splitlines() if ln.startswith("| tiny LLaMA")]
    assert [ln.split("|")[2].strip() for ln in rows] == ["10%", "30%", "100%"]
    assert "| real test clips" in text and "![R@3 and FID](lm_scaling.png)" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc.write_text(text + "\nNotes after the table.\n")
    assert script.main(argv) == 0  # the table is replaced, the prose around it kept
    again = doc.read_text()
    assert again.count(script.BEGIN) == 1 and again.endswith("Notes after the table.\n")
