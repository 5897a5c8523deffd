"""``motionlib retarget``: a batch with bad clips carries on, reruns keep finished clips, CSV export; the
robots ship inside the wheel."""

import json
from pathlib import Path

import numpy as np

from conftest import make_standing_clip
from walk_fixture import make_walking_clip

from motionlib.cli.main import main
from motionlib.motion.io import save_motion

REPO = Path(__file__).resolve().parents[1]


def _inputs(tmp_path):
    good = save_motion(make_walking_clip(0.5), tmp_path / "in" / "walk.npz")
    short = save_motion(make_standing_clip(3), tmp_path / "in" / "short.npz")
    nan = make_standing_clip(10)
    nan.trans[4] = np.nan
    bad = save_motion(nan, tmp_path / "in" / "nan.npz")
    return good, short, bad


def test_batch_failures_resume_and_csv(tmp_path, capsys):
    good, short, bad = _inputs(tmp_path)
    out = tmp_path / "out"
    rc = main(["retarget", str(good), str(short), str(bad), "--robot", "h1", "--out", str(out), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 1 and res["retargeted"] == 1 and res["failed"] == 2
    assert any("short.npz" in e and "too short" in e for e in res["errors"])
    assert any("nan.npz" in e and "NaN" in e for e in res["errors"])
    assert res["totals"]["joint_limit_violations"] == 0 and res["totals"]["clips"] == 1
    assert (out / "walk.npz").is_file() and (out / "walk.report.json").is_file() and (out / "report.json").is_file()
    assert not list(out.glob(".*.tmp"))
    stamp = (out / "walk.npz").stat().st_mtime_ns
    rc = main(["retarget", str(good), "--robot", "h1", "--out", str(out), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["kept"] == 1 and res["retargeted"] == 0
    assert (out / "walk.npz").stat().st_mtime_ns == stamp
    assert res["totals"]["keypoint_error_mm"] > 0  # the kept clip's figures are in the totals
    rc = main(["retarget", str(good), "--robot", "g1", "--out", str(tmp_path / "csv"), "--format", "csv", "--json"])
    capsys.readouterr()
    rows = np.loadtxt(tmp_path / "csv" / "walk.csv", delimiter=",")
    assert rc == 0 and rows.shape[1] == 3 + 4 + 29

