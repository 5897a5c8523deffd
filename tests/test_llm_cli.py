"""``motionlib train-lm``, ``generate`` and ``caption`` end to end on a tiny backbone and the shipped tokenizer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionlib.cli.main import main


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from motionlib.llm.tiny import save_tiny
    from motionlib.motion.ingest.captions import bandai_texts
    from motionlib.motion.io import save_motion
    from motionlib.tokenizer.checkpoint import default_tokenizer_path, load_tokenizer
    from motionlib.tokenizer.codec import tokenize_clip
    from motionlib.tokenizer.tokens import save_tokens, token_path
    from walk_fixture import make_walking_clip

    root = tmp_path_factory.mktemp("lmcli")
    tmodel, ckpt = load_tokenizer(default_tokenizer_path())
    for i, (style, speed) in enumerate([("normal", 1.1), ("tired", 0.8), ("sad", 1.0)]):
        clip = make_walking_clip(seconds=2.0, speed=speed)
        labels = {"dataset": "dataset-1", "content": "walk", "style": style, "take": 1}
        clip.meta.update(labels=labels, texts=bandai_texts(labels))
        path = save_motion(clip, root / "clips" / f"dataset-1_walk_{style}_001.npz")
        save_tokens(token_path(path), tokenize_clip(tmodel, ckpt, path))
    return root, str(save_tiny(root / "tiny"))


def test_train_generate_caption(setup, capsys):
    from motionlib.motion.io import load_motion

    root, tiny = setup
    run = root / "run"
    rc = main(["train-lm", str(root / "clips"), "--out", str(run), "--backbone", tiny, "--steps", "3",
               "--batch-size", "2", "--max-len", "256", "--val-fraction", "0", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["step"] == 3 and res["splits"] == {"train": 2, "val": 0, "test": 1}
    manifest = json.loads((run / "manifest.json").read_text())
    assert [c["style"] for c in manifest["clips"] if c["split"] == "test"] == ["sad"]

    outs = []
    for name in ("a.npz", "b.npz"):
        rc = main(["generate", "a person walks", "-o", str(root / name), "--model", str(run), "--seconds", "1",
                   "--seed", "4", "--json"])
        assert rc == 0
        outs.append(json.loads(capsys.readouterr().out))
    a, b = load_motion(root / "a.npz"), load_motion(root / "b.npz")
    assert a.fps == 30.0 and a.num_frames == 32 and a.meta["prompt"] == "a person walks"
    np.testing.assert_array_equal(a.rotations, b.rotations)
    assert outs[0]["motion_s_per_s"] > 0

    rc = main(["caption", str(root / "clips" / "dataset-1_walk_sad_001.npz"), "--model", str(run), "--json"])
    caps = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(caps) == 1 and set(caps[0]) == {"clip", "caption"} and isinstance(caps[0]["caption"], str)
    # captions take the likeliest word by default (no seed to depend on); --sample draws them with the seed
    clip = str(root / "clips" / "dataset-1_walk_sad_001.npz")
    assert main(["caption", clip, "--model", str(run), "--seed", "7", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["caption"] == caps[0]["caption"]
    drawn = []
    for _ in range(2):
        assert main(["caption", clip, "--model", str(run), "--sample", "--seed", "3", "--json"]) == 0
        drawn.append(json.loads(capsys.readouterr().out)[0]["caption"])
    assert drawn[0] == drawn[1]


def test_cli_errors_are_one_line(setup, capsys):
    root, tiny = setup
    run = root / "run2"
    assert main(["train-lm", str(root / "clips"), "--out", str(run), "--backbone", tiny, "--steps", "1",
                 "--batch-size", "1", "--max-len", "256", "--json"]) == 0
    capsys.readouterr()
    rc = main(["generate", "walk " * 2000, "-o", str(root / "x.npz"), "--model", str(run)])
    err = capsys.readouterr().err
    assert rc == 2 and "exceeds the model's context" in err and "Traceback" not in err
    assert not (root / "x.npz").exists()
    rc = main(["generate", "walk", "-o", str(root / "x.npz"), "--model", str(root / "nowhere")])
    err = capsys.readouterr().err
    assert rc == 2 and "nowhere" in err and "not a motionlib language-model checkpoint" in err


def test_generate_renders_and_refines_and_both_layouts_train(setup, capsys):
    from motionlib.llm.checkpoint import read_meta
    from motionlib.motion.io import load_motion

    root, tiny = setup
    for layout in ("flat", "grouped"):
        run = root / f"run_{layout}"
        assert main(["train-lm", str(root / "clips"), "--out", str(run), "--backbone", tiny, "--steps", "1",
                     "--batch-size", "1", "--max-len", "256", "--layout", layout, "--json"]) == 0
        capsys.readouterr()
        assert read_meta(run)["config"]["layout"] == layout
    assert read_meta(root / "run")["config"]["layout"] == "grouped"  # the default of train-lm
    out, video = root / "g.npz", root / "g.mp4"
    rc = main(["generate", "a person walks", "-o", str(out), "--model", str(root / "run_flat"), "--seconds", "1",
               "--refine", "--render", str(video), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and video.is_file() and res["render"]["video"] == str(video)
    r = res["refine"]
    refined = load_motion(r["clip"])
    assert r["clip"] == str(root / "g_refined.npz") and refined.fps == 30.0 and refined.num_frames > 0
    assert isinstance(r["tracked_to_end"], bool) and set(r["before"]) == {"penetration_mm", "float_mm", "skate_mm"}
    rc = main(["generate", "a person walks", "-o", str(out), "--model", str(root / "run_grouped"), "--seconds", "1",
               "--refine"])
    text = capsys.readouterr().out
    assert rc == 0 and "refine: tracked to the end: " in text and "skate" in text
    rc = main(["generate", "a person walks", "-o", str(out), "--model", str(root / "run_grouped"), "--no-restrict"])
    assert rc == 2 and "--no-restrict" in capsys.readouterr().err


def test_export_of_a_model_trained_from_scratch_loads_alone(setup, capsys, tmp_path):
    """export-lm drops the optimizer state and gives a fully fine-tuned model its tokenizer (taken from the
    backbone when the checkpoint lacks it): the copy generates the same motion as the run, with the
    backbone folder gone."""
    import shutil

    from motionlib.llm.checkpoint import read_meta
    from motionlib.motion.io import load_motion

    root, tiny = setup
    own = shutil.copytree(tiny, tmp_path / "tiny")
    run = tmp_path / "run"
    assert main(["train-lm", str(root / "clips"), "--out", str(run), "--backbone", str(own), "--full-finetune",
                 "--steps", "2", "--batch-size", "2", "--max-len", "256", "--val-fraction", "0", "--json"]) == 0
    gen = ["generate", "a person walks", "--seconds", "1", "--seed", "3", "--json"]
    assert main([*gen, "-o", str(tmp_path / "run.npz"), "--model", str(run)]) == 0
    assert (run / "last" / "model" / "tokenizer_config.json").is_file()
    for f in (run / "last" / "model").glob("tokenizer*"):  # as a checkpoint written without its tokenizer
        f.unlink()
    capsys.readouterr()
    assert main(["export-lm", str(run), "--out", str(tmp_path / "shipped"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["kind"] == "full" and res["step"] == 2 and res["bytes"] > 0
    assert not (tmp_path / "shipped" / "trainer.pt").exists() and (run / "last" / "trainer.pt").exists()
    assert read_meta(tmp_path / "shipped")["exported_from"]["step"] == 2
    shutil.rmtree(own)
    assert main([*gen, "-o", str(tmp_path / "shipped.npz"), "--model", str(tmp_path / "shipped")]) == 0
    a, b = load_motion(tmp_path / "shipped.npz"), load_motion(tmp_path / "run.npz")
    np.testing.assert_array_equal(a.rotations, b.rotations)
    assert a.num_frames == 32
