"""Augmented motion for the language model: tokens of mirrored / faster / slower clips (``motionlib tokenize
--augment``) and texts that follow a mirror (llm/augment.py, ``train-lm --augment``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionlib.cli.main import main
from motionlib.llm.augment import is_mirrored, mirror_parts, mirror_text
from motionlib.llm.dataset import DataConfig, InstructionData
from motionlib.llm.splits import build_manifest
from motionlib.motion.errors import MotionError
from motionlib.motion.io import is_clip_file
from motionlib.tokenizer.tokens import load_tokens, token_path


def test_mirror_swaps_left_and_right_in_texts():
    assert mirror_text("a person walks toward the left") == "a person walks toward the right"
    assert mirror_text("Leftward, then the right hand waves") == "Rightward, then the left hand waves"
    assert mirror_text("someone walks rightward brightly") == "someone walks leftward brightly"
    assert mirror_text("a person bows politely") == "a person bows politely"
    assert mirror_text("raise-up-left-hand") == "raise-up-right-hand"  # content labels mirror too
    parts = mirror_parts({"root": ["moves to the left"], "right_arm": ["the right hand waves goodbye"]})
    assert parts == {"root": ["moves to the right"], "left_arm": ["the left hand waves goodbye"]}
    assert is_mirrored("mirror") and is_mirrored("speed:0.9+mirror")
    assert not is_mirrored("mirror+mirror") and not is_mirrored("speed:1.1")


def test_augmented_token_files_are_not_clips(tmp_path):
    p = token_path(tmp_path / "walk.npz", "mirror+speed:0.9")
    assert p.name == "walk.aug-mirror+speed0.9.tokens.npz" and not is_clip_file(p)
    assert token_path(tmp_path / "walk.npz", "") == token_path(tmp_path / "walk.npz")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two dataset-1 clips of the shipped tokenizer's training styles (walk-left) and one test clip, written
    as `motionlib tokenize --augment mirror --augment speed:0.5` leaves them."""
    from motionlib.motion.ingest.captions import bandai_texts
    from motionlib.motion.io import save_motion
    from walk_fixture import make_walking_clip

    root = tmp_path_factory.mktemp("lmaug")
    for style in ("happy", "tired", "sad"):
        clip = make_walking_clip(seconds=2.0)
        labels = {"dataset": "dataset-1", "content": "walk-left", "style": style, "take": 1}
        clip.meta.update(labels=labels, texts=bandai_texts(labels))
        save_motion(clip, root / f"dataset-1_walk-left_{style}_001.npz")
    return root


def test_tokenize_writes_the_augmented_grids(clips, capsys):
    rc = main(["tokenize", str(clips), "--augment", "mirror", "--augment", "speed:0.5", "--augment",
               "mirror+mirror", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["tokenized"] == 12 and res["augments"] == ["mirror", "speed:0.5", "mirror+mirror"]
    f = clips / "dataset-1_walk-left_happy_001.npz"
    plain, mirror = load_tokens(token_path(f)), load_tokens(token_path(f, "mirror"))
    slow, twice = load_tokens(token_path(f, "speed:0.5")), load_tokens(token_path(f, "mirror+mirror"))
    assert plain.augment == "" and mirror.augment == "mirror" and slow.augment == "speed:0.5"
    assert mirror.indices.shape == plain.indices.shape and (mirror.indices != plain.indices).any()
    assert slow.num_frames == 2 * plain.num_frames - 1  # half the speed: twice the frames
    np.testing.assert_array_equal(twice.indices, plain.indices)  # mirrored twice is the clip itself
    # a rerun skips what is there; a bad name is refused before any work
    assert main(["tokenize", str(clips), "--augment", "mirror", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 6
    with pytest.raises(SystemExit, match="augmentation 'speed:9'"):
        main(["tokenize", str(clips), "--augment", "speed:9"])


def test_examples_draw_the_augmented_grids_with_mirrored_texts(clips, capsys):
    main(["tokenize", str(clips), "--augment", "mirror", "--augment", "speed:0.5", "--json"])
    capsys.readouterr()
    m = build_manifest([clips], val_fraction=0.0)
    plain = InstructionData(m, "train", DataConfig(max_steps=60))
    data = InstructionData(m, "train", DataConfig(max_steps=60, augments=("mirror", "speed:0.5")))
    assert len(data) == 2 and all(len(data.variants[e.id]) == 2 for e in data.entries)
    rng = np.random.default_rng(0)
    seen: dict[str, int] = {}
    for _ in range(60):
        e = data.entries[int(rng.integers(2))]
        ex = data.make("m2t", e, rng)
        aug = ex.info.get("augment", "")
        seen[aug] = seen.get(aug, 0) + 1
        grid = next(s for s in ex.prompt if isinstance(s, np.ndarray))
        want = plain.grids[e.id] if not aug else dict(data.variants[e.id])[aug]
        np.testing.assert_array_equal(grid, want)
        side = "right" if aug == "mirror" else "left"
        assert side in ex.answer[0] and ("right" if side == "left" else "left") not in ex.answer[0], ex.answer
    assert set(seen) == {"", "mirror", "speed:0.5"} and min(seen.values()) >= 10
    # part phrases move to the other side's part under a mirror
    for _ in range(40):
        ex = data.make("part_m2t", data.entries[0], rng)
        if ex.info.get("augment") == "mirror":
            assert "right" in ex.answer[0] or "left" not in ex.answer[0]
    # the style task pairs plain clips; a clip without the augmented file is a clear error
    assert "augment" not in data.make("style", data.entries[0], rng).info
    with pytest.raises(MotionError, match="tokenize --augment speed:1.5"):
        InstructionData(m, "train", DataConfig(augments=("speed:1.5",)))
    with pytest.raises(ValueError, match="unknown augmentation"):
        DataConfig(augments=("flip",))


def test_train_lm_records_the_augmentations(clips, tmp_path, capsys):
    from motionlib.llm.checkpoint import read_meta
    from motionlib.llm.config import LMTrainConfig
    from motionlib.llm.tiny import save_tiny

    main(["tokenize", str(clips), "--augment", "mirror", "--json"])
    capsys.readouterr()
    run = tmp_path / "run"
    rc = main(["train-lm", str(clips), "--out", str(run), "--backbone", str(save_tiny(tmp_path / "tiny")),
               "--full-finetune", "--steps", "2", "--batch-size", "2", "--max-len", "256", "--val-fraction", "0",
               "--augment", "mirror", "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["step"] == 2
    meta = read_meta(run / "last")
    cfg = LMTrainConfig.from_dict(meta["config"])
    assert cfg.data.augments == ("mirror",)
