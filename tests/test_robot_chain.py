"""``motionlib robot``: a bundled BVH through the whole chain (short crop), a bad input among good ones,
resume, the report's keys, refine's segments each retargeted, --text with the shipped model and with a trained one."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import SAMPLES

from motionlib.cli.main import main

WALK = SAMPLES / "dataset-1_walk_normal_001.bvh"
FAST = ["--frames", "0:40", "--iters", "5", "--threads", "1"]
STEP_KEYS = {"ingest", "refine", "retarget", "export", "playback", "video"}


@pytest.fixture(scope="module")
def zero_policy(tmp_path_factory):
    """A policy with zero residual (plain PD on the reference): it loses a walk within frames, so refine
    cuts it into several short segments."""
    from motionlib.policies.actor import TrackingActor, TrackingPolicy
    from motionlib.sim.humanoid import HumanoidConfig
    from motionlib.sim.tracking_config import TrackingConfig
    from motionlib.sim.tracking_terms import self_obs_dim, task_obs_dim

    tcfg = TrackingConfig()
    actor = TrackingActor(self_obs_dim() + task_obs_dim(len(tcfg.future_frames)), 69, (16,))
    torch.nn.init.zeros_(actor.mu.weight)
    torch.nn.init.zeros_(actor.mu.bias)
    path = tmp_path_factory.mktemp("policy") / "zero.pt"
    TrackingPolicy(actor, tcfg, HumanoidConfig(), {"name": "zero-residual"}).save(path)
    return path


def _run(capsys, *argv):
    rc = main(["robot", *map(str, argv), "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_bvh_through_the_chain_with_a_bad_input_and_resume(tmp_path, capsys):
    from motionlib.retarget.playback import shipped_policy
    from motionlib.retarget.robot_clip import load_robot_clip

    bad = tmp_path / "broken.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n")
    out = tmp_path / "out"
    rc, res = _run(capsys, WALK, bad, "--robot", "g1", "--out", out, "--format", "npz,csv", *FAST)
    assert rc == 1 and res["done"] == 1 and res["failed"] == 1 and res["kept"] == 0
    assert any("broken.bvh" in e and "ingest" in e for e in res["errors"])
    good, failed = res["per_input"]
    assert failed["status"] == "failed" and failed["step"] == "ingest" and "broken.bvh" in failed["error"]
    assert good["status"] == "ok" and good["format"] == "bvh" and set(good["wall_s"]) == STEP_KEYS
    (clip,) = good["clips"]
    assert STEP_KEYS <= set(clip)
    ing = clip["ingest"]
    assert ing["frames"] == 40 and ing["fps"] == 30.0 and ing["fit_error_mm"] > 0 and ing["floor"] is not None
    assert {"penetration_mm", "float_mm", "skate_mm", "jitter"} <= set(ing)
    ref = clip["refine"]
    assert ref["status"] == "ok" and ref["frames_kept"] + ref["frames_dropped"] == ref["frames_input"] == 40
    assert {"tracked_to_end", "restarts", "segments", "before", "after"} <= set(ref)
    assert set(ref["before"]) == set(ref["after"]) == {"penetration_mm", "float_mm", "skate_mm", "jitter"}
    tot = clip["retarget"]["totals"]
    for key in ("keypoint_error_mm", "joint_limit_violations", "self_collision_frames", "skate_mm",
                "planted_skate_mm", "penetration_mm", "float_mm", "frames_per_s"):
        assert key in tot
    assert tot["joint_limit_violations"] == 0 and tot["frames"] == ref["frames_kept"]
    if shipped_policy("g1") is not None:
        assert clip["playback"]["status"] == "ok"
    else:
        assert clip["playback"]["status"] == "skipped"
        assert clip["playback"]["reason"].startswith("no robot tracking policy for g1")
    assert clip["video"]["status"] == "skipped"
    folder = out / "dataset-1_walk_normal_001" / "g1"
    (npz,), (csv,) = clip["export"]["npz"], clip["export"]["csv"]
    robot = load_robot_clip(folder / npz)
    rows = np.loadtxt(folder / csv, delimiter=",")
    assert robot.num_frames == len(rows) == ref["frames_kept"] and rows.shape[1] == 3 + 4 + 29
    assert robot.meta["retarget"]["robot"] == "g1"
    assert (folder / "report.json").is_file() and (folder / ing["file"]).is_file()
    assert not list(out.rglob(".*.tmp"))
    # the report file holds what was printed, and the totals
    doc = json.loads((out / "report.json").read_text())
    assert doc["totals"]["inputs"] == 2 and doc["totals"]["ok"] == 1 and doc["totals"]["failed"] == 1
    assert set(doc["totals"]["wall_s"]) == STEP_KEYS and doc["totals"]["retarget"]["clips"] == 1
    assert doc["totals"]["playback"]["ran"] + doc["totals"]["playback"]["skipped"] == 1

    # a rerun keeps the finished input (its files untouched) and tries the bad one again
    stamp = (folder / npz).stat().st_mtime_ns
    rc, res = _run(capsys, WALK, bad, "--robot", "g1", "--out", out, "--format", "npz,csv", *FAST)
    assert rc == 1 and res["kept"] == 1 and res["done"] == 0 and res["failed"] == 1
    assert (folder / npz).stat().st_mtime_ns == stamp
    assert res["totals"]["retarget"]["keypoint_error_mm"] == doc["totals"]["retarget"]["keypoint_error_mm"]
    # other options redo it; --no-resume redoes it
    rc, res = _run(capsys, WALK, "--robot", "g1", "--out", out, *FAST)
    assert rc == 0 and res["done"] == 1 and res["kept"] == 0 and not (folder / csv).exists()
    rc, res = _run(capsys, WALK, "--robot", "g1", "--out", out, "--no-resume", *FAST)
    assert rc == 0 and res["done"] == 1 and (folder / npz).stat().st_mtime_ns != stamp


def test_each_refined_segment_goes_on_and_no_refine(zero_policy, tmp_path, capsys):
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion
    from motionlib.motion.io import save_motion

    src = save_motion(bvh_to_motion(WALK, iters=5)[:60], tmp_path / "walk.npz")
    out = tmp_path / "out"
    rc, res = _run(capsys, src, "--robot", "h1", "--out", out, "--policy", zero_policy, "--min-segment", "0.2",
                   "--threads", "1")
    (clip,) = res["per_input"][0]["clips"]
    ref = clip["refine"]
    assert rc == 0 and not ref["tracked_to_end"] and len(ref["segments"]) >= 1 and ref["cuts"]
    names = [s["segment"] for s in clip["retarget"]["segments"]]
    assert names == [f"walk_seg{k}" for k in range(len(ref["segments"]))]
    assert [s["frames"] for s in clip["retarget"]["segments"]] == [b - a for a, b in
                                                                   (s["frames"] for s in ref["segments"])]
    assert clip["export"]["npz"] == [f"{n}.npz" for n in names]
    assert all((out / "walk" / "h1" / f).is_file() for f in clip["export"]["npz"])
    # every segment dropped (the default 1 s): the input fails at refine, naming why
    rc, res = _run(capsys, src, "--robot", "h1", "--out", tmp_path / "out2", "--policy", zero_policy,
                   "--threads", "1")
    assert rc == 1 and res["per_input"][0]["step"] == "refine" and "no continuous segment" in res["errors"][0]
    # --no-refine: the clip as it is, one robot clip; played back with a robot policy (PD on the reference)
    rc, res = _run(capsys, src, "--robot", "h1", "--out", out, "--no-refine", "--robot-policy",
                   _robot_zero_policy("h1", tmp_path / "h1_zero.pt"))
    (clip,) = res["per_input"][0]["clips"]
    assert rc == 0 and clip["refine"] == {"status": "skipped", "reason": "--no-refine"}
    assert clip["export"]["npz"] == ["walk.npz"] and clip["retarget"]["totals"]["frames"] == 60
    play = clip["playback"]
    assert play["status"] == "ok" and play["robot"] == "h1" and set(play["clips"]) == {"walk"}
    assert play["total"]["clips"] == 1 and 0.0 <= play["total"]["success_rate"] <= 1.0
    assert (out / "walk" / "h1" / "playback").is_dir()


def _robot_zero_policy(robot: str, path):
    """A robot policy with zero residual, saved as train-tracker --robot saves one."""
    from motionlib.retarget.description import load_description
    from motionlib.retarget.playback import zero_policy
    from motionlib.sim.observation_terms import ObservationLayout
    from motionlib.sim.term_sets import term_set
    from motionlib.sim.tracking_config import TrackingConfig

    body = load_description(robot).sim_body()
    tcfg = TrackingConfig(terms=body.terms)
    num_obs = ObservationLayout(term_set(tcfg.terms).observation, len(tcfg.future_frames), body.num_bodies).dim
    zero_policy(num_obs, len(body.spec.joint_names), tcfg, robot).save(path)
    return path


def test_text_with_a_missing_model_and_bad_flags(tmp_path, capsys):
    rc = main(["robot", "--text", "a person waves", "--lm-model", str(tmp_path / "nowhere"), "--out",
               str(tmp_path / "out")])
    text = capsys.readouterr().out
    assert rc == 2 and "nowhere" in text
    with pytest.raises(SystemExit):
        main(["robot", str(WALK), "--out", str(tmp_path), "--format", "fbx"])
    with pytest.raises(SystemExit):
        main(["robot", str(WALK), "--out", str(tmp_path), "--frames", "9:3"])
    assert main(["robot", "--out", str(tmp_path / "none")]) == 2  # nothing to do


def test_human_skate_by_the_robots_contact_rule():
    """A standing body slid along x: every sole point of both feet is in contact and moves the slide's step,
    by either rule; still, nothing slides."""
    from conftest import make_standing_clip

    from motionlib.motion.metrics import skate_mm
    from motionlib.retarget.report import human_contacts, human_sole_skate_mm

    still = make_standing_clip(30, wave=0.0)
    assert human_sole_skate_mm(still) == pytest.approx(0.0, abs=1e-6)
    slid = still.copy()
    slid.trans[:, 0] += 0.01 * np.arange(30)  # 10 mm a frame
    assert human_sole_skate_mm(slid) == pytest.approx(20.0, rel=1e-4)  # two feet
    pos, _ = slid.joints()
    assert skate_mm(pos, slid.body_scale) == pytest.approx(20.0, rel=1e-4)
    assert all(c.all() for c in human_contacts(pos, slid.body_scale).values())
    lifted = slid.copy()
    lifted.trans[:, 2] += 0.2  # both rules: no foot in contact
    assert human_sole_skate_mm(lifted) == 0.0
    assert not any(c.any() for c in human_contacts(lifted.joints()[0], lifted.body_scale).values())


def test_text_through_the_chain_with_a_trained_model(tmp_path, capsys):
    """--text with --lm-model: the CLI generates the clip (a tiny backbone trained one step) and the chain
    retargets it; a rerun keeps the generated clip and the finished input."""
    from walk_fixture import make_walking_clip

    from motionlib.llm.tiny import save_tiny
    from motionlib.motion.ingest.captions import bandai_texts
    from motionlib.motion.io import save_motion
    from motionlib.tokenizer.checkpoint import default_tokenizer_path, load_tokenizer
    from motionlib.tokenizer.codec import tokenize_clip
    from motionlib.tokenizer.tokens import save_tokens, token_path

    tmodel, ckpt = load_tokenizer(default_tokenizer_path())
    for style, speed in (("normal", 1.1), ("tired", 0.8), ("sad", 1.0)):
        clip = make_walking_clip(seconds=2.0, speed=speed)
        labels = {"dataset": "dataset-1", "content": "walk", "style": style, "take": 1}
        clip.meta.update(labels=labels, texts=bandai_texts(labels))
        path = save_motion(clip, tmp_path / "clips" / f"dataset-1_walk_{style}_001.npz")
        save_tokens(token_path(path), tokenize_clip(tmodel, ckpt, path))
    run = tmp_path / "run"
    assert main(["train-lm", str(tmp_path / "clips"), "--out", str(run), "--backbone",
                 str(save_tiny(tmp_path / "tiny")), "--steps", "1", "--batch-size", "2", "--max-len", "256",
                 "--val-fraction", "0", "--json"]) == 0
    capsys.readouterr()
    argv = ["--text", "a person walks", "--lm-model", run, "--seconds", "1", "--no-refine", "--robot", "h1",
            "--out", tmp_path / "out"]
    rc, res = _run(capsys, *argv)
    (rep,) = res["per_input"]
    assert rc == 0 and rep["status"] == "ok" and rep["input"].startswith(str(tmp_path / "out" / "text"))
    assert rep["clips"][0]["ingest"]["frames"] == 32 and rep["clips"][0]["export"]["npz"]
    rc, res = _run(capsys, *argv)
    assert rc == 0 and res["kept"] == 1 and res["done"] == 0


def test_text_with_the_shipped_model_refined_and_retargeted(tmp_path, capsys):
    """--text alone: the shipped language model writes the clip, refine tracks it, the G1 gets it."""
    rc, res = _run(capsys, "--text", "a person walks forward", "--seconds", "2", "--out", tmp_path / "out")
    (rep,) = res["per_input"]
    assert rc == 0 and rep["status"] == "ok" and rep["input"].startswith(str(tmp_path / "out" / "text"))
    from motionlib.llm.default import default_lm_path
    from motionlib.motion.io import load_motion

    clip = load_motion(rep["input"])
    assert clip.meta["prompt"] == "a person walks forward"
    assert clip.meta["generated"]["model"] == str(default_lm_path())
    assert rep["clips"] and all(c["export"]["npz"] for c in rep["clips"])


def test_several_prompts_load_the_language_model_once(tmp_path, capsys, monkeypatch):
    import motionlib.cli.cmd_generate as gen

    calls = []
    real = gen.load_cli_lm
    monkeypatch.setattr(gen, "load_cli_lm", lambda a: calls.append(a.model) or real(a))
    rc, res = _run(capsys, "--text", "a person walks forward", "--text", "a person runs", "--seconds", "1",
                   "--no-refine", "--out", tmp_path / "out")
    assert rc == 0 and [r["status"] for r in res["per_input"]] == ["ok", "ok"]
    assert len(calls) == 1
