"""The tracker's training state kept between segments (policies/train_state.py)."""

import csv
import shutil

import pytest

from motionlib.motion.errors import MotionError
from motionlib.policies.export import append_curve, read_curve
from motionlib.policies.train_state import main, read_segments, save_segment


def _segment(run, state, evaluations, ckpt=b"ckpt"):
    """A finished run folder resumed from ``state`` (its curve and best copied in, as the script does) with
    ``evaluations`` (env steps, success) added."""
    (run / "rl" / "nn").mkdir(parents=True)
    for name in ("curve.csv", "policy_best.pt"):
        if (state / name).is_file():
            shutil.copyfile(state / name, run / name)
    for steps, success in evaluations:
        append_curve(run / "curve.csv", {"env_steps": steps, "epoch": steps // 100, "success_rate": success,
                                         "g_mpjpe_mm": 50.0, "seconds": 1.0})
    (run / "policy_best.pt").write_bytes(b"best %d" % evaluations[-1][0])
    (run / "rl" / "nn" / "last_rl_ep_1.pth").write_bytes(ckpt)


def test_segments_continue_the_state_and_a_foreign_run_is_refused(tmp_path, capsys):
    state = tmp_path / "state"
    _segment(tmp_path / "a", state, [(1000, 0.5), (2000, 0.6)], b"first")
    row = save_segment(tmp_path / "a", state, "cpu, 2 cores", 75.04, date="2026-12-07")
    assert row == {"segment": 1, "date": "2026-12-07", "device": "cpu, 2 cores", "minutes": 75.0,
                   "env_steps_start": 0, "env_steps_end": 2000}
    assert (state / "checkpoint.pth").read_bytes() == b"first"
    _segment(tmp_path / "b", state, [(9000, 0.7)], b"second")
    assert main(["save", str(tmp_path / "b"), str(state), "--device", "NVIDIA H100", "--minutes", "9"]) == 0
    assert "segment 2 on NVIDIA H100, env steps 2000 -> 9000" in capsys.readouterr().out
    segs = read_segments(state)
    assert [(s["segment"], s["device"], s["env_steps_start"], s["env_steps_end"]) for s in segs] == [
        ("1", "cpu, 2 cores", "0", "2000"), ("2", "NVIDIA H100", "2000", "9000")]
    assert [r["env_steps"] for r in read_curve(state / "curve.csv")] == [1000, 2000, 9000]
    assert (state / "checkpoint.pth").read_bytes() == b"second"
    assert not list(state.glob(".*"))  # no temporaries left
    # a run that did not start from the state (its curve lacks the state's validations) leaves it as it was
    _segment(tmp_path / "c", tmp_path / "nowhere", [(500, 0.9)], b"foreign")
    with pytest.raises(MotionError, match="does not continue the state's"):
        save_segment(tmp_path / "c", state, "cpu", 1)
    assert (state / "checkpoint.pth").read_bytes() == b"second" and len(read_segments(state)) == 2
    # a run folder without a checkpoint is named
    (tmp_path / "d").mkdir()
    assert main(["save", str(tmp_path / "d"), str(state), "--device", "cpu", "--minutes", "1"]) == 1
    out = capsys.readouterr().out
    assert "no rl-games checkpoint" in out and str(tmp_path / "d") in out


def test_a_segments_table_without_its_columns_is_refused(tmp_path):
    with open(tmp_path / "segments.csv", "w", newline="") as f:
        csv.writer(f).writerows([["segment", "device"], ["1", "cpu"]])
    with pytest.raises(MotionError, match="not a segments table"):
        read_segments(tmp_path)


def test_the_device_is_described_when_not_given(tmp_path, capsys, monkeypatch):
    import os

    import torch

    state = tmp_path / "state"
    _segment(tmp_path / "a", state, [(1000, 0.5)], b"first")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["save", str(tmp_path / "a"), str(state), "--threads", "2", "--minutes", "3"]) == 0
    assert read_segments(state)[-1]["device"] == f"cpu, {os.cpu_count()} cores (2 physics threads)"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "NVIDIA H200")
    _segment(tmp_path / "b", state, [(5000, 0.6)], b"second")
    assert main(["save", str(tmp_path / "b"), str(state), "--minutes", "9"]) == 0
    assert read_segments(state)[-1]["device"] == "NVIDIA H200"


def test_prepare_gives_an_empty_run_that_continues_the_state(tmp_path, capsys):
    from motionlib.policies.train_state import prepare_run

    state, run = tmp_path / "state", tmp_path / "run"
    (run / "stale").mkdir(parents=True)  # a previous run's leftovers go
    assert prepare_run(state, run) is None and list(run.iterdir()) == []  # the first segment: nothing to resume
    _segment(tmp_path / "a", state, [(1000, 0.5)], b"first")
    save_segment(tmp_path / "a", state, "cpu", 1)
    assert main(["prepare", str(state), str(run)]) == 0
    assert capsys.readouterr().out.strip() == str(state / "checkpoint.pth")
    assert sorted(p.name for p in run.iterdir()) == ["curve.csv", "policy_best.pt"]
    assert (run / "curve.csv").read_bytes() == (state / "curve.csv").read_bytes()
