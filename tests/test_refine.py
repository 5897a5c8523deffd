"""corrupt and refine: seeded artifacts, the refine report's contract, lost
clips flagged and completed (never dropped), the CLI's report.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import SAMPLES


@pytest.fixture(scope="module")
def walk():
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion

    return bvh_to_motion(SAMPLES / "dataset-1_walk_normal_001.bvh")[:60]  # 2 s


@pytest.fixture(scope="module")
def reference_policy(tmp_path_factory):
    """A policy whose residual is zero: the humanoid follows the reference with
    plain PD (+ velocity feed-forward). It tracks for a moment and then loses a
    walking clip, which is what the lost-clip logic needs."""
    from motionlib.policies.actor import TrackingActor, TrackingPolicy
    from motionlib.sim.humanoid import HumanoidConfig
    from motionlib.sim.tracking_config import TrackingConfig
    from motionlib.sim.tracking_terms import self_obs_dim, task_obs_dim

    tcfg = TrackingConfig()
    actor = TrackingActor(self_obs_dim() + task_obs_dim(len(tcfg.future_frames)), 69, (16,))
    torch.nn.init.zeros_(actor.mu.weight)
    torch.nn.init.zeros_(actor.mu.bias)
    policy = TrackingPolicy(actor, tcfg, HumanoidConfig(), {"name": "zero-residual"})
    path = tmp_path_factory.mktemp("policy") / "zero.pt"
    policy.save(path)
    return path


def test_corrupt_is_seeded_and_adds_artifacts(walk):
    from motionlib.motion import metrics as M
    from motionlib.motion.corrupt import corrupt

    a, b, c = corrupt(walk, seed=3), corrupt(walk, seed=3), corrupt(walk, seed=4)
    np.testing.assert_array_equal(a.trans, b.trans)
    np.testing.assert_array_equal(a.rotations, b.rotations)
    assert not np.allclose(a.trans, c.trans)
    assert a.num_frames == walk.num_frames and a.fps == walk.fps
    clean, noisy = M.plausibility(walk), M.plausibility(a)
    assert noisy["jitter"] > 2 * clean["jitter"]
    assert noisy["penetration_mm"] + noisy["float_mm"] > clean["penetration_mm"] + clean["float_mm"] + 20
    assert M.mpjpe(a.joints()[0], walk.joints()[0]) > 0.02  # metres


def _partition(rep: dict) -> list[tuple[int, int, str]]:
    """The report's kept segments and dropped ranges, sorted: (start, end, "kept" | reason)."""
    parts = [(*s["frames"], "kept") for s in rep["segments"]] + [(*d["frames"], d["reason"])
                                                                  for d in rep["frames"]["dropped"]]
    return sorted(parts)


def _check_accounting(rep: dict) -> None:
    """Kept and dropped frames cover the input once: kept + dropped = input."""
    parts = _partition(rep)
    n = rep["frames"]["input"]
    assert parts[0][0] == 0 and parts[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(parts[:-1], parts[1:]))  # contiguous, no overlap
    assert rep["frames"]["kept"] == sum(b - a for a, b, why in parts if why == "kept")
    assert rep["frames"]["kept"] + sum(b - a for a, b, why in parts if why != "kept") == n


def test_refine_report_and_lost_clip_is_completed(walk, reference_policy):
    from motionlib.motion import metrics as M
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.refine import refine_clips

    policy = TrackingPolicy.load(reference_policy)
    results, totals = refine_clips([walk], policy, retry=True, threads=1, keep_restarts=True)
    (res,) = results
    rep = res.report
    for k in ("success", "g_mpjpe_mm", "l_mpjpe_mm", "accel_err", "fail_frame", "retries"):
        assert k in rep
    for side in ("before", "after"):
        assert set(rep[side]) == {"penetration_mm", "float_mm", "skate_mm", "jitter"}
    # plain PD loses the walk: flagged, restarted from the reference, completed
    assert rep["success"] is False and rep["fail_frame"] is not None and rep["retries"] >= 1
    assert res.clip.num_frames == walk.num_frames
    assert res.clip.meta["refined"]["success"] is False
    # with keep_restarts the whole trajectory, jumps included, is the one clip written
    assert len(res.segments) == 1 and res.segments[0].clip is res.clip
    # every restart is listed as a cut (frame, frame lost, reason)
    assert [c["frame"] for c in rep["cuts"]][: rep["retries"]] == res.clip.meta["refined"]["retries"]
    _check_accounting(rep)
    # a simulated body does not sink into the floor
    assert rep["after"]["penetration_mm"] < 5.0
    # "after" is read off the simulated bodies: the same figures as the written clip's own
    written = M.plausibility(res.clip)
    for k, v in rep["after"].items():
        assert abs(v - written[k]) < 1e-3 * max(1.0, abs(written[k])), (k, v, written[k])
    assert totals["realtime_factor"] > 0 and totals["clips"] == 1 and 0.0 <= totals["success_rate"] <= 1.0
    assert totals["frames"] == {"input": walk.num_frames, "kept": walk.num_frames, "kept_share": 1.0}


def test_refine_cuts_the_output_at_restarts(walk, reference_policy):
    """By default the trajectory is cut where it jumps back to the reference: every kept segment is
    continuous simulation, at least the minimum length, and every input frame is kept or dropped."""
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.refine import refine_clips

    policy = TrackingPolicy.load(reference_policy)
    (res,), totals = refine_clips([walk], policy, retry=True, threads=1, min_segment_s=0.25)
    rep = res.report
    cuts = [c["frame"] for c in rep["cuts"]]
    assert cuts == sorted(set(cuts)) and len(cuts) >= rep["retries"] >= 2
    assert all(c["lost_frame"] >= c["frame"] and c["reason"].startswith(("drift", "lost", "unstable"))
               for c in rep["cuts"])
    _check_accounting(rep)
    assert res.segments and len(res.segments) == len(rep["segments"])
    for seg, srep in zip(res.segments, rep["segments"]):
        a, b = srep["frames"]
        assert (seg.start, seg.end) == (a, b) and b - a >= 0.25 * walk.fps
        # no cut inside a segment; one starts at the jump itself or at frame 0
        assert not any(a < c < b for c in cuts) and (a == 0 or a in cuts)
        # the segment is the simulated frames themselves
        np.testing.assert_allclose(seg.clip.positions(), res.clip.positions()[a:b], atol=1e-9)
        assert seg.clip.meta["refined"]["frames"] == [a, b]
    short = [d for d in rep["frames"]["dropped"] if "under 0.25 s" in d["reason"]]
    assert short and all(d["frames"][1] - d["frames"][0] < 0.25 * walk.fps for d in short)
    # "after": the kept segments' plausibility, frame-weighted
    w = np.array([s["frames"][1] - s["frames"][0] for s in rep["segments"]], float)
    skate = np.array([s["after"]["skate_mm"] for s in rep["segments"]])
    assert rep["after"]["skate_mm"] == pytest.approx(float((w * skate).sum() / w.sum()))
    assert totals["frames"]["kept"] == rep["frames"]["kept"] < walk.num_frames
    assert totals["segments"] == len(res.segments) and totals["cuts"] == len(cuts)
    # at the default 1 s nothing of this walk, restarted every few frames, is continuous for long enough
    (res1,), totals1 = refine_clips([walk], policy, retry=True, threads=1)
    assert res1.segments == [] and res1.report["after"] is None and res1.report["frames"]["kept"] == 0
    _check_accounting(res1.report)
    assert totals1["after"] is None and totals1["clips_without_output"] == 1


def test_split_at_cuts():
    from motionlib.policies.refine import split_at_cuts

    # no cut: the one piece is kept whatever its length
    assert split_at_cuts(20, 20, [], 30.0) == ([(0, 20)], [])
    kept, dropped = split_at_cuts(200, 200, [10, 80, 100], 30.0)
    assert kept == [(10, 80), (100, 200)]
    assert dropped == [{"frames": [0, 10], "reason": "a segment of 10 frame(s) between cuts, under 1 s"},
                       {"frames": [80, 100], "reason": "a segment of 20 frame(s) between cuts, under 1 s"}]
    assert split_at_cuts(60, 60, [30], 30.0)[0] == [(0, 30), (30, 60)]  # exactly 1 s is kept
    # a trajectory stopped at a loss (no retry): the rest is dropped with the reason given
    kept, dropped = split_at_cuts(100, 40, [], 30.0, end_reason="not simulated")
    assert kept == [(0, 40)] and dropped == [{"frames": [40, 100], "reason": "not simulated"}]


def test_refine_without_retry_stops_at_the_loss(walk, reference_policy):
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.refine import refine_clips

    policy = TrackingPolicy.load(reference_policy)
    (res,), _ = refine_clips([walk], policy, retry=False, threads=1)
    assert res.report["retries"] == 0
    assert res.report["frames_tracked"] <= res.report["fail_frame"] + 1 < walk.num_frames


def test_corrupt_and_refine_cli(walk, reference_policy, tmp_path, capsys):
    from motionlib.cli.main import main
    from motionlib.motion.io import load_motion, save_motion

    save_motion(walk, tmp_path / "clean" / "walk.npz")
    assert main(["corrupt", str(tmp_path / "clean"), "--out", str(tmp_path / "noisy"), "--seed", "1"]) == 0
    noisy = load_motion(tmp_path / "noisy" / "walk.npz")
    assert noisy.meta["corruption"]["rot_jitter_deg"] > 0
    capsys.readouterr()
    assert main(["refine", str(tmp_path / "noisy"), "--out", str(tmp_path / "ref"), "--policy",
                 str(reference_policy), "--threads", "1", "--json"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert doc == json.loads((tmp_path / "ref" / "report.json").read_text())
    (clip,) = doc["clips"]
    assert clip["id"] == "walk" and {"success", "g_mpjpe_mm", "l_mpjpe_mm", "accel_err", "before", "after"} <= set(clip)
    assert doc["totals"]["realtime_factor"] > 0
    assert doc["totals"]["cleanup"]["ground"] is True  # the input is cleaned up before tracking by default
    assert doc["totals"]["cleanup"]["unslide"] is True
    # the clips written are the report's segments (plain PD keeps little of a corrupted walk continuous)
    assert sorted(p.name for p in (tmp_path / "ref").glob("clips/*")) == sorted(s["file"] for s in clip["segments"])
    assert clip["frames"]["input"] == walk.num_frames
    assert main(["refine", str(tmp_path / "noisy"), "--out", str(tmp_path / "whole"), "--policy",
                 str(reference_policy), "--threads", "1", "--keep-restarts", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["keep_restarts"] is True
    refined = load_motion(tmp_path / "whole" / "clips" / "walk.npz")
    assert refined.num_frames == walk.num_frames
    assert not list(tmp_path.rglob("*.tmp"))
    capsys.readouterr()
    assert main(["refine", str(tmp_path / "noisy"), "--out", str(tmp_path / "raw"), "--policy",
                 str(reference_policy), "--threads", "1", "--no-cleanup", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["cleanup"] is None
    assert main(["refine", str(tmp_path / "noisy"), "--out", str(tmp_path / "slid"), "--policy",
                 str(reference_policy), "--threads", "1", "--no-unslide", "--smooth", "2", "--json"]) == 0
    cleanup = json.loads(capsys.readouterr().out)["totals"]["cleanup"]
    assert cleanup["unslide"] is False and cleanup["ground"] is True and cleanup["smooth_sigma_frames"] == 2.0
    assert cleanup["adaptive"] is True  # the default; --cleanup full turns it off
    # corrupt's clips are estimates: cleaned in full (strength 1), as the text report shows
    assert main(["refine", str(tmp_path / "noisy"), "--out", str(tmp_path / "txt"), "--policy",
                 str(reference_policy), "--threads", "1", "--quiet"]) == 0
    header, row = capsys.readouterr().out.splitlines()[:2]
    assert header.split()[:5] == ["clip", "ok", "restarts", "clean-up", "G-MPJPE"]
    assert row.split()[0] == "walk" and row.split()[3] == "1.00"
    assert main(["refine", str(tmp_path / "clean"), "--out", str(tmp_path / "cap"), "--policy",
                 str(reference_policy), "--threads", "1", "--cleanup", "full", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["cleanup"]["adaptive"] is False and doc["clips"][0]["cleanup"]["strength"] == 1.0


def test_batch_commands_report_a_bad_clip_and_carry_on(walk, reference_policy, tmp_path, capsys):
    """refine, eval-tracker, corrupt and features over a folder with an unreadable clip: the others
    are processed, the bad one is named with its problem (JSON `failed`/`errors`, refine's report.json),
    the exit code is 1; a batch with no readable clip at all is an error."""
    from motionlib.cli.main import main
    from motionlib.motion.io import save_motion

    save_motion(walk[:30], tmp_path / "clips" / "a_walk.npz")
    (tmp_path / "clips" / "b_junk.npz").write_bytes(b"not a zip")
    np.savez(tmp_path / "clips" / "c_other.npz", a=np.zeros(3))
    flags = ["--policy", str(reference_policy), "--threads", "1", "--json"]
    capsys.readouterr()
    runs = {
        "refine": ["refine", str(tmp_path / "clips"), "--out", str(tmp_path / "ref"), *flags],
        "eval-tracker": ["eval-tracker", str(tmp_path / "clips"), *flags],
        "corrupt": ["corrupt", str(tmp_path / "clips"), "--out", str(tmp_path / "noisy"), "--json"],
        "features": ["features", str(tmp_path / "clips"), "--check", "--json"],
    }
    for name, argv in runs.items():
        assert main(argv) == 1, name
        doc = json.loads(capsys.readouterr().out)
        res = doc.get("totals", doc)
        assert res["clips"] == 1 and res["failed"] == 2, name
        junk, other = res["errors"]
        assert "b_junk.npz: not a readable .npz clip (not a zip archive)" in junk, name
        assert "c_other.npz: not a motionlib clip" in other, name
    assert json.loads((tmp_path / "ref" / "report.json").read_text())["totals"]["failed"] == 2
    assert [c["id"] for c in json.loads((tmp_path / "ref" / "report.json").read_text())["clips"]] == ["a_walk"]
    assert sorted(p.name for p in (tmp_path / "noisy").iterdir()) == ["a_walk.npz"]
    assert main(["refine", str(tmp_path / "clips" / "b_junk.npz"), "--out", str(tmp_path / "none"), *flags]) == 2
    assert "no clip could be refined (1 failed; first: " in capsys.readouterr().err


def test_refine_rerun_keeps_the_clips_refined_before(walk, reference_policy, tmp_path, capsys):
    """A rerun into the same OUT keeps each clip refined before from the same input with the same
    policy and options (its report comes back unchanged, nothing is simulated); another option, a
    changed input, a missing output or --no-resume refine it again."""
    from motionlib.cli.main import main
    from motionlib.motion.io import save_motion

    save_motion(walk[:30], tmp_path / "in" / "a.npz")
    save_motion(walk[10:40], tmp_path / "in" / "b.npz")
    base = ["refine", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--policy", str(reference_policy),
            "--threads", "1", "--json", "--keep-restarts"]

    def run(*extra) -> dict:
        capsys.readouterr()
        assert main(base + list(extra)) == 0
        return json.loads(capsys.readouterr().out)

    first = run()
    assert first["totals"]["resumed"] == 0 and first["totals"]["realtime_factor"] > 0
    again = run()
    assert again["totals"]["resumed"] == 2 and again["totals"]["realtime_factor"] is None
    assert again["clips"] == first["clips"] and again["totals"]["cleanup"] == first["totals"]["cleanup"]
    assert run("--no-unslide")["totals"]["resumed"] == 0  # another option: refined again
    assert run("--no-unslide")["totals"]["resumed"] == 2
    save_motion(walk[20:50], tmp_path / "in" / "b.npz")  # a changed input
    (tmp_path / "out" / "clips" / "a.npz").unlink()  # a missing output
    assert run("--no-unslide")["totals"]["resumed"] == 0
    assert run("--no-unslide", "--no-resume")["totals"]["resumed"] == 0
    assert [c["id"] for c in run("--no-unslide")["clips"]] == ["a", "b"]
    # the cut is an option too: without --keep-restarts nothing is kept from the earlier run
    base.remove("--keep-restarts")
    assert run("--no-unslide")["totals"]["resumed"] == 0
    assert run("--no-unslide")["totals"]["resumed"] == 2


def test_refine_cli_writes_each_segment_and_resumes_them(walk, reference_policy, tmp_path, capsys):
    """Cut clips are written as CLIP_seg<k>.npz, one per kept segment, and the report
    lists their files; a rerun keeps them, a missing segment refines the clip again, and a run with
    other options replaces them (no stale segment of an earlier cut stays)."""
    from motionlib.cli.main import main
    from motionlib.motion.io import load_motion, save_motion

    save_motion(walk, tmp_path / "in" / "w.npz")
    out = tmp_path / "out"
    base = ["refine", str(tmp_path / "in"), "--out", str(out), "--policy", str(reference_policy), "--threads", "1",
            "--json", "--no-cleanup"]

    def run(*extra) -> dict:
        capsys.readouterr()
        assert main(base + list(extra)) == 0
        return json.loads(capsys.readouterr().out)

    doc = run("--min-segment", "0.25")
    (rep,) = doc["clips"]
    _check_accounting(rep)
    files = [s["file"] for s in rep["segments"]]
    assert len(files) >= 2 and files == [f"w_seg{k}.npz" for k in range(len(files))]
    assert sorted(p.name for p in (out / "clips").iterdir()) == sorted(files)
    for s in rep["segments"]:
        clip = load_motion(out / "clips" / s["file"])
        assert clip.num_frames == s["frames"][1] - s["frames"][0] >= 0.25 * 30
        assert clip.meta["refined"]["frames"] == s["frames"]
    t = doc["totals"]
    assert t["segments"] == len(files) and t["cuts"] == len(rep["cuts"]) and t["min_segment_s"] == 0.25
    assert t["frames"]["kept"] == rep["frames"]["kept"] and 0 < t["frames"]["kept_share"] < 1
    assert run("--min-segment", "0.25")["totals"]["resumed"] == 1
    (out / "clips" / files[-1]).unlink()  # a missing segment: the clip is refined again
    assert run("--min-segment", "0.25")["totals"]["resumed"] == 0
    assert (out / "clips" / files[-1]).is_file()
    whole = run("--keep-restarts")  # another option: the earlier segments are replaced by the one clip
    assert whole["totals"]["resumed"] == 0 and whole["clips"][0]["segments"][0]["file"] == "w.npz"
    assert sorted(p.name for p in (out / "clips").iterdir()) == ["w.npz"]


def test_eval_tracker_cli_from_several_start_frames(walk, reference_policy, tmp_path, capsys):
    """eval-tracker --start-every N: one report per (clip, start), named CLIP@FRAME,
    starts every N frames and none within N frames of the end."""
    from motionlib.cli.main import main
    from motionlib.motion.io import save_motion

    save_motion(walk, tmp_path / "clips" / "walk.npz")  # 60 frames
    capsys.readouterr()
    assert main(["eval-tracker", str(tmp_path / "clips"), "--policy", str(reference_policy), "--threads", "1",
                 "--start-every", "20", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in doc["clips"]] == ["walk@0", "walk@20"]
    assert doc["totals"]["clips"] == 2 and 0.0 <= doc["totals"]["success_rate"] <= 1.0
    assert main(["eval-tracker", str(tmp_path / "clips"), "--policy", str(reference_policy), "--threads", "1",
                 "--json"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)["clips"]] == ["walk"]


def test_eval_tracker_groups_totals_by_clip_label(walk, reference_policy, tmp_path, capsys):
    """eval-tracker --group-by content: the totals of each label value are those of its own
    clips, and clips without labels fall under '(none)'."""
    from motionlib.cli.main import main
    from motionlib.motion.io import save_motion

    save_motion(walk.copy(meta={"labels": {"content": "walk"}}), tmp_path / "clips" / "a.npz")
    save_motion(walk[:40].copy(meta={"labels": {"content": "walk"}}), tmp_path / "clips" / "b.npz")
    save_motion(walk[10:50].copy(meta={"labels": {"content": "bow"}}), tmp_path / "clips" / "c.npz")
    save_motion(walk[:30].copy(meta={}), tmp_path / "clips" / "d.npz")
    capsys.readouterr()
    assert main(["eval-tracker", str(tmp_path / "clips"), "--policy", str(reference_policy), "--threads", "1",
                 "--group-by", "content", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    groups, by_id = doc["groups"], {c["id"]: c for c in doc["clips"]}
    assert sorted(groups) == ["(none)", "bow", "walk"]
    assert [groups[k]["clips"] for k in ("(none)", "bow", "walk")] == [1, 1, 2]
    assert groups["walk"]["g_mpjpe_mm"] == pytest.approx((by_id["a"]["g_mpjpe_mm"] + by_id["b"]["g_mpjpe_mm"]) / 2)
    assert groups["bow"]["success_rate"] == float(by_id["c"]["success"])
    assert groups["(none)"]["g_mpjpe_mm"] == pytest.approx(by_id["d"]["g_mpjpe_mm"])
    assert main(["eval-tracker", str(tmp_path / "clips"), "--policy", str(reference_policy), "--threads", "1",
                 "--json"]) == 0
    assert "groups" not in json.loads(capsys.readouterr().out)


def test_eval_tracker_ranks_several_policies(walk, reference_policy, tmp_path, capsys):
    """eval-tracker --policy A B: each policy is scored on the same starts and they come back
    ranked by success, then G-MPJPE; a policy that flails is ranked below the zero residual."""
    from motionlib.cli.main import main
    from motionlib.motion.io import save_motion
    from motionlib.policies.actor import TrackingPolicy

    save_motion(walk, tmp_path / "clips" / "walk.npz")
    bad = TrackingPolicy.load(reference_policy)
    torch.nn.init.constant_(bad.actor.mu.bias, 1.0)  # every joint pushed 0.5 rad off its reference
    bad.save(tmp_path / "bad.pt")
    capsys.readouterr()
    assert main(["eval-tracker", str(tmp_path / "clips"), "--policy", str(tmp_path / "bad.pt"), str(reference_policy),
                 "--threads", "1", "--start-every", "20", "--json"]) == 0
    ranked = json.loads(capsys.readouterr().out)["ranked"]
    assert [r["policy"] for r in ranked] == [str(reference_policy), str(tmp_path / "bad.pt")]
    (tmp_path / "junk.pt").write_bytes(b"junk")  # an unreadable policy file is reported, the others ranked
    assert main(["eval-tracker", str(tmp_path / "clips"), "--policy", str(tmp_path / "junk.pt"), str(reference_policy),
                 "--threads", "1", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in doc["ranked"]] == [str(reference_policy)]
    assert doc["failed"] == 1 and "junk.pt: cannot read tracking policy" in doc["errors"][0]
    assert all(r["totals"]["clips"] == 2 for r in ranked)
    assert ranked[0]["totals"]["g_mpjpe_mm"] < ranked[1]["totals"]["g_mpjpe_mm"]


def test_rollout_queues_clips_for_fewer_worlds(walk, reference_policy):
    """Jobs of unequal length queue for the worlds: 1, 2 or 3 worlds give the same
    trajectories, failures and retries, each job in its own order and length."""
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.rollout import rollout

    policy = TrackingPolicy.load(reference_policy)
    clips = [walk[:25], walk, walk[5:45]]
    runs = {n: rollout(policy, clips, retry=True, threads=1, num_envs=n) for n in (3, 2, 1)}
    for n in (2, 1):
        for a, b in zip(runs[3], runs[n]):
            assert (a.clip, a.start) == (b.clip, b.start)
            np.testing.assert_array_equal(a.qpos, b.qpos)
            assert (a.fail_frame, a.resets, a.success) == (b.fail_frame, b.resets, b.success)
    assert [len(r.qpos) for r in runs[1]] == [25, 60, 40]
    assert any(r.resets for r in runs[1])  # the zero-residual policy loses the walk: retries happen in the queue


def test_rollout_lanes_share_out_the_jobs_and_run_side_by_side(walk, reference_policy, monkeypatch):
    """Two lanes (two environments on two Python threads) run the jobs of one rollout: every job
    once, results in job order, the same trajectories as one lane (the zero-residual policy's
    actions do not depend on its batch), both lanes step the policy, and the body models are
    compiled once for both."""
    import threading

    import motionlib.sim.body as body_module
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.rollout import _share_out, rollout

    groups = _share_out([5, 40, 10, 30, 20, 1], 2)
    assert sorted(j for g in groups for j in g) == list(range(6))
    assert sorted(sum([5, 40, 10, 30, 20, 1][j] for j in g) for g in groups) == [51, 55]  # longest first, greedy
    assert _share_out([7], 3) == [[0]]  # no empty lane

    policy = TrackingPolicy.load(reference_policy)
    clips = [walk[:25], walk, walk[5:45]]
    starts = [(0, 0), (1, 0), (2, 0), (1, 30), (2, 10)]
    one = rollout(policy, clips, starts, retry=True, threads=2, lanes=1)
    lanes, builds = set(), []
    act = policy.act
    monkeypatch.setattr(policy, "act", lambda obs: (lanes.add(threading.current_thread().name), act(obs))[1])
    build = body_module.build_models  # every body model build, by the rollout's lanes or an environment
    monkeypatch.setattr(body_module, "build_models", lambda *a, build=build: (builds.append(1), build(*a))[1])
    two = rollout(policy, clips, starts, retry=True, threads=2, lanes=2)
    assert len(lanes) == 2 and all(n.startswith("rollout-lane") for n in lanes)
    assert len(builds) == 1
    assert [(r.clip, r.start) for r in two] == starts
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a.qpos, b.qpos)
        assert (a.fail_frame, a.resets, a.success) == (b.fail_frame, b.resets, b.success)


def test_rollout_runs_torch_on_one_thread_and_restores_it(walk, reference_policy, monkeypatch):
    """On the CPU backend the policy and the env's tensor ops run on one torch thread while the
    physics threads work (backend_cpu.torch_single_thread); the caller's setting comes back."""
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.rollout import rollout
    from motionlib.sim.backend_cpu import torch_single_thread

    policy = TrackingPolicy.load(reference_policy)
    seen = []
    act = policy.act
    monkeypatch.setattr(policy, "act", lambda obs: (seen.append(torch.get_num_threads()), act(obs))[1])
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        rollout(policy, [walk[:10]], threads=1)
        assert seen and set(seen) == {1} and torch.get_num_threads() == 2
        with pytest.raises(RuntimeError):
            with torch_single_thread():
                assert torch.get_num_threads() == 1
                raise RuntimeError("restored even on an error")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_rollout_tracks_past_the_training_episode_limit(walk, reference_policy):
    """max_episode_steps bounds training episodes only: evaluation and refine run to the clip end."""
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.rollout import rollout

    policy = TrackingPolicy.load(reference_policy)
    policy.tracking.max_episode_steps = 20
    (res,) = rollout(policy, [walk], retry=True, threads=1)
    assert len(res.qpos) == walk.num_frames == 60


def test_refine_restarts_at_the_retry_distance(walk, reference_policy):
    """With a restart distance, no refined frame is farther than it from the tracked reference
    (a lost frame is replaced by the reference state the clip restarts from), and there are at
    least as many restarts as with PHC's 0.5 m loss alone."""
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.rollout import rollout

    policy = TrackingPolicy.load(reference_policy)
    retry_m = policy.tracking.termination_distance  # refine's default restart distance
    (near,) = rollout(policy, [walk], retry=True, threads=1, retry_distance=retry_m)
    (far,) = rollout(policy, [walk], retry=True, threads=1, retry_distance=None)
    assert len(near.qpos) == len(far.qpos) == walk.num_frames
    dist = lambda r: np.linalg.norm(r.body_pos - r.ref_pos, axis=-1).max(axis=1)  # noqa: E731
    assert dist(near).max() <= retry_m + 0.02  # + the floor lift of a restart state
    assert len(near.resets) >= len(far.resets) >= 1
    assert dist(near).mean() < dist(far).mean()
    assert near.fail_frame <= far.fail_frame


def test_rewind_restarts_before_the_loss_and_keeps_the_clip_whole(walk, reference_policy):
    """With a rewind, each restart goes back before the frame the clip was lost at (never to or
    before the previous restart), the clip keeps every frame, and the frames kept stay closer to
    the reference than without it."""
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.rollout import rollout

    policy = TrackingPolicy.load(reference_policy)
    retry_m = policy.tracking.termination_distance
    (plain,) = rollout(policy, [walk], retry=True, threads=1, retry_distance=retry_m)
    (back,) = rollout(policy, [walk], retry=True, threads=1, retry_distance=retry_m, rewind=3)
    assert len(back.qpos) == len(back.body_pos) == walk.num_frames
    assert back.resets == sorted(set(back.resets)) and back.resets[0] < plain.resets[0]
    assert back.resets[0] == plain.resets[0] - 3  # the first loss is the same; it restarts 3 frames earlier
    dist = lambda r: np.linalg.norm(r.body_pos - r.ref_pos, axis=-1).max(axis=1)  # noqa: E731
    assert dist(back).mean() < dist(plain).mean()
    # a restart state is the reference (lifted clear of the floor): the frame restarted from matches it
    for f in back.resets:
        assert dist(back)[f] < 0.03


def test_rollout_leaves_a_blown_up_state_out(walk, reference_policy, monkeypatch):
    """A world whose simulation blows up has no pose to record: evaluation ends the trajectory at the
    frame before, refine restarts from the reference there; neither records the blown-up state."""
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.rollout import rollout
    from motionlib.sim.backend_cpu import CpuBackend

    policy = TrackingPolicy.load(reference_policy)
    original, calls = CpuBackend.step, [0]

    def step(self, ctrl, substeps, active=None):
        calls[0] += 1
        if calls[0] == 5:  # a kick the integrator cannot survive: the 5th step blows world 0 up
            self.qvel[0, 10] = 1e7
        original(self, ctrl, substeps, active)

    monkeypatch.setattr(CpuBackend, "step", step)
    (ev,) = rollout(policy, [walk], retry=False, threads=1)
    assert ev.blowups == 1 and ev.fail_frame == 5 and len(ev.qpos) == len(ev.body_pos) == 5
    calls[0] = 0
    (rf,) = rollout(policy, [walk], retry=True, threads=1)
    assert rf.blowups == 1 and rf.fail_frame == 5 and 5 in rf.resets and len(rf.qpos) == walk.num_frames
    for r in (ev, rf):  # every recorded frame within PHC's success distance (mean over bodies)
        assert np.linalg.norm(r.body_pos - r.ref_pos, axis=-1).mean(-1).max() <= 0.5
