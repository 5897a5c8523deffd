"""The text-motion evaluator (tiny, on synthetic clips) and ``motionlib train-evaluator`` / ``eval-lm``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from motionlib.cli.main import main

from llm_pairs import write_labelled_clip

# (dataset, content, style): walking clips and standing clips waving an arm; the dataset-1 clips of the
# held-out styles (angry, sad) are the test split
TRAIN = [("dataset-2", "walk", s) for s in ("active", "elderly", "exhausted", "youthful", "happy", "proud")] + \
        [("dataset-2", "wave-right-hand", s) for s in ("active", "elderly", "exhausted", "youthful", "happy", "proud")]
TEST = [("dataset-1", c, s) for c in ("walk", "bye") for s in ("angry", "sad")]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from motionlib.llm.tiny import save_tiny

    root = tmp_path_factory.mktemp("evallm")
    rng = np.random.default_rng(0)
    for take in (1, 2):
        for ds, c, s in TRAIN:
            write_labelled_clip(root / "clips", ds, c, s, take, rng)
    for ds, c, s in TEST:
        write_labelled_clip(root / "clips", ds, c, s, 1, rng)
    return root, str(save_tiny(root / "tiny"))


def _train(root, tiny, out, steps, capsys, extra=()):
    rc = main(["train-evaluator", str(root / "clips"), "--out", str(out), "--backbone", tiny, "--steps", str(steps),
               "--batch-size", "8", "--eval-every", "20", "--dim", "16", "--width", "32", "--token-dim", "16",
               "--layers", "1", "--max-seconds", "2", "--val-fraction", "0.1", "--json", *extra])
    assert rc == 0
    return json.loads(capsys.readouterr().out)


def test_info_nce_leaves_same_label_pairs_out_of_the_negatives():
    from motionlib.llm.evaluator_data import same_key_mask
    from motionlib.llm.evaluator_train import info_nce

    t = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0]]), dim=-1)
    same = torch.from_numpy(same_key_mask(["a", "a", "b"]))
    assert same.tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    masked, plain = info_nce(t, t, same, 0.1), info_nce(t, t, torch.zeros(3, 3, dtype=torch.bool), 0.1)
    assert float(masked) < 0.01 < float(plain)  # the near-duplicate pair no longer counts as a negative


def test_train_evaluator_learns_resumes_and_scores(setup, capsys, tmp_path):
    from motionlib.llm.evaluator import load_evaluator
    from motionlib.llm.evaluator_data import clip_features, centre_window

    root, tiny = setup
    run = tmp_path / "ev"
    res = _train(root, tiny, run, 60, capsys)
    assert res["step"] == 60 and res["splits"]["test"] == 4 and res["train_clips"] + res["val_clips"] == 24
    assert res["last_loss"] < res["first_loss"]
    assert (run / "best" / "evaluator.json").is_file() and (run / "last" / "trainer.pt").is_file()
    assert any((run / "tb").iterdir())
    best = json.loads((run / "best" / "evaluator.json").read_text())
    assert best["step"] == res["best_step"] and best["best_val_r3"] == res["best_val_r3"]
    assert best["val"]["r_precision"]["top3"]["mean"] == res["best_val_r3"]
    test_names = {p["id"] for p in json.loads((run / "manifest.json").read_text())["clips"] if p["split"] == "test"}
    assert test_names == {f"{ds}_{c}_{s}_001" for ds, c, s in TEST}

    ev, meta = load_evaluator(run)
    assert meta["path"].endswith("best")
    walk, wave = (centre_window(clip_features(root / "clips" / f"dataset-2_{c}_active_001.npz", 15.0)[0], 30)
                  for c in ("walk", "wave-right-hand"))
    m = ev.embed_motions([walk, wave])
    t = ev.embed_texts(["a person walks", "a person waves the right hand"])
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)
    sim = t @ m.T
    assert sim[0, 0] > sim[0, 1] and sim[1, 1] > sim[1, 0]  # each text nearer its own kind of motion

    res2 = _train(root, tiny, run, 80, capsys)  # more steps: resumes from last
    assert res2["step"] == 80
    history = json.loads((run / "last" / "evaluator.json").read_text())["history"]
    assert [h["step"] for h in history] == [20, 40, 60, 80]  # the first run's checkpoints, then the resumed one
    rc = main(["train-evaluator", "--out", str(run), "--backbone", tiny, "--steps", "90", "--lr", "0.1", "--json"])
    err = capsys.readouterr().err
    assert rc == 2 and "other options" in err


@pytest.fixture(scope="module")
def evaluator(setup, tmp_path_factory):
    from motionlib.llm.evaluator import EvaluatorConfig
    from motionlib.llm.evaluator_train import EvaluatorTrainConfig, train_evaluator
    from motionlib.llm.splits import build_manifest, save_manifest

    root, tiny = setup
    run = tmp_path_factory.mktemp("ev_run")
    manifest = build_manifest([root / "clips"], 0.1)
    save_manifest(manifest, run / "manifest.json")
    cfg = EvaluatorTrainConfig(EvaluatorConfig(max_seconds=2.0, dim=16, width=32, layers=1, token_dim=16), steps=40,
                               batch_size=8, eval_every=20, backbone=tiny, init_embeddings=False)
    train_evaluator(manifest, run, cfg)
    return run


def test_eval_lm_real_is_its_own_ceiling_with_physics(setup, evaluator, capsys):
    rc = main(["eval-lm", "--evaluator", str(evaluator), "--real", "--batch", "4", "--repeats", "5", "--threads", "1",
               "--json"])
    r = json.loads(capsys.readouterr().out)
    assert rc == 0 and r["source"] == "real" and r["test_clips"] == 4 and "candidates" not in r
    real = r["real"]
    assert real["batch"] == 4 and real["fid_all"] == pytest.approx(0.0, abs=1e-6)
    assert real["fid"] == real["fid_noise_floor"] and real["fid"]["mean"] > 0
    for k in ("top1", "top2", "top3", ):
        assert 0.0 <= real["r_precision"][k]["mean"] <= 1.0 and real["r_precision"][k]["repeats"] == 5
    assert real["multimodality"] is None  # one clip per test prompt
    assert r["caption_accuracy"]["reference"] == {"content": 1.0, "style": 1.0, "both": 1.0, "n": 16}
    ph = r["physics"]["real"]
    assert ph["clips"] == 4 and 0.0 <= ph["tracked_to_end"] <= 1.0
    assert set(ph["before"]) == set(ph["after"]) == {"penetration_mm", "float_mm", "skate_mm", "jitter"}


def test_eval_lm_clips_scores_prompted_clips(setup, evaluator, capsys, tmp_path):
    from motionlib.motion.io import load_motion, save_motion

    root, _ = setup
    for i, (ds, c, s) in enumerate(TEST * 2):  # two clips per prompt: MultiModality is defined
        m = load_motion(root / "clips" / f"{ds}_{c}_{s}_001.npz")
        m.meta = {"prompt": f"a person {'walks' if c == 'walk' else 'waves goodbye'} {s}ly"}
        save_motion(m, tmp_path / "gen" / f"g{i}.npz")
    rc = main(["eval-lm", "--evaluator", str(evaluator), "--clips", str(tmp_path / "gen"), "--no-physics",
               "--batch", "4", "--repeats", "3", "--json"])
    r = json.loads(capsys.readouterr().out)
    assert rc == 0 and r["source"] == "clips" and "physics" not in r
    c = r["candidates"]
    assert c["clips"] == 8 and c["multimodality_prompts"] == 4 and c["multimodality"]["mean"] == pytest.approx(0.0,
                                                                                                             abs=1e-5)
    assert c["fid"]["mean"] >= 0 and "r3_gap_to_real" in r and r["paired"] is False

    for i, (ds, c, s) in enumerate(TEST):  # the real clips again, prompted with one of their captions: paired
        m = load_motion(root / "clips" / f"{ds}_{c}_{s}_001.npz")
        m.meta = {"prompt": m.meta["texts"]["captions"][-1]}
        save_motion(m, tmp_path / "same" / f"z{3 - i}.npz")
    rc = main(["eval-lm", "--evaluator", str(evaluator), "--clips", str(tmp_path / "same"), "--no-physics",
               "--batch", "4", "--repeats", "3", "--json"])
    r = json.loads(capsys.readouterr().out)
    assert rc == 0 and r["paired"] is True
    assert r["candidates"]["fid"]["mean"] == pytest.approx(r["real"]["fid_noise_floor"]["mean"])
    rc = main(["eval-lm", "--evaluator", str(tmp_path / "nowhere"), "--real"])
    assert rc == 2 and "not a motionlib evaluator checkpoint" in capsys.readouterr().err


def test_eval_lm_with_a_model(setup, evaluator, capsys, tmp_path):
    from motionlib.tokenizer.checkpoint import default_tokenizer_path, load_tokenizer
    from motionlib.tokenizer.codec import tokenize_clip
    from motionlib.tokenizer.tokens import save_tokens, token_path

    root, tiny = setup
    tmodel, ckpt = load_tokenizer(default_tokenizer_path())
    for f in sorted((root / "clips").glob("*.npz")):
        if not f.name.endswith(".tokens.npz"):
            save_tokens(token_path(f), tokenize_clip(tmodel, ckpt, f))
    lm = tmp_path / "lm"
    assert main(["train-lm", str(root / "clips"), "--out", str(lm), "--backbone", tiny, "--steps", "1",
                 "--batch-size", "2", "--max-len", "256", "--json"]) == 0
    capsys.readouterr()
    rc = main(["eval-lm", "--evaluator", str(evaluator), "--model", str(lm), "--no-physics", "--batch", "4",
               "--repeats", "3", "--max-seconds", "1", "--mm-samples", "1", "--mm-prompts", "2",
               "--save-clips", str(tmp_path / "gen"), "--json"])
    r = json.loads(capsys.readouterr().out)
    assert rc == 0 and r["source"] == "model" and r["failed"] == 0
    assert r["candidates"]["clips"] == 4 and r["candidates"]["multimodality_prompts"] == 2
    assert len(list((tmp_path / "gen").glob("*.npz"))) == 6
    caps = r["caption_accuracy"]["model_captions"]
    assert len(caps) == 4 and all(isinstance(c["caption"], str) for c in caps)
    assert 0.0 <= r["caption_accuracy"]["model"]["content"] <= 1.0
    sampled = r["caption_accuracy"]["model_sampled_captions"]  # drawn with the seed, beside the likeliest words
    assert [c["clip"] for c in sampled] == [c["clip"] for c in caps]
    assert 0.0 <= r["caption_accuracy"]["model_sampled"]["content"] <= 1.0
