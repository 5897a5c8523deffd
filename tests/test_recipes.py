"""The recipe commands: wham-like, plot-curve, export-tokenizer, the feature-cache packing command and
the tokenizer benchmark's command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from motionlib.cli.main import main
from motionlib.motion.cleanup import CleanupConfig, clean_for_tracking
from motionlib.motion.corrupt import clip_seed, corrupt
from motionlib.motion.io import load_motion, save_motion

from walk_fixture import make_walking_clip

REPO = Path(__file__).resolve().parents[1]


def test_wham_like_writes_seeded_corrupted_and_cleaned_copies(tmp_path, capsys):
    src = tmp_path / "clips"
    for name in ("walk_a", "walk_b"):
        save_motion(make_walking_clip(seconds=1.5), src / f"{name}.npz")
    (src / "broken.npz").write_bytes(b"not a clip")
    out = tmp_path / "wham"
    assert main(["wham-like", str(src), "--out", str(out), "--seed", "7", "--copies", "2", "--json"]) == 1
    res = json.loads(capsys.readouterr().out)
    assert res["clips"] == 4 and res["failed"] == 1 and "broken.npz" in res["errors"][0]
    assert sorted(p.name for p in out.glob("*.npz")) == ["walk_a_wham0.npz", "walk_a_wham1.npz", "walk_b_wham0.npz",
                                                        "walk_b_wham1.npz"]
    clean = load_motion(src / "walk_b.npz")
    expect = clean_for_tracking(corrupt(clean, seed=clip_seed(7, "walk_b") + 1), CleanupConfig())
    got = load_motion(out / "walk_b_wham1.npz")
    assert np.allclose(got.trans, expect.trans) and np.allclose(got.positions(), expect.positions(), atol=1e-6)
    assert not np.allclose(got.trans, clean.trans, atol=1e-3)  # corrupted: not the clean clip
    assert not np.allclose(got.trans, load_motion(out / "walk_b_wham0.npz").trans)  # each copy its own seed
    assert main(["wham-like", str(src / "broken.npz"), "--out", str(out)]) == 2  # nothing could be made
    assert "broken.npz" in capsys.readouterr().err


def _run_with_curve(run: Path, rows: list[tuple[int, float, float]]) -> Path:
    run.mkdir(parents=True)
    lines = ["env_steps,epoch,success_rate,g_mpjpe_mm,seconds"]
    lines += [f"{s},{i},{sr},{g},{i * 10.0}" for i, (s, sr, g) in enumerate(rows)]
    (run / "curve.csv").write_text("\n".join(lines) + "\n")
    return run


def test_plot_curve_writes_a_png_and_names_a_bad_run(tmp_path, capsys):
    from torch.utils.tensorboard import SummaryWriter

    run = _run_with_curve(tmp_path / "run", [(100_000, 0.2, 180.0), (2_000_000, 0.6, 90.0), (9_000_000, 0.8, 60.0)])
    w = SummaryWriter(str(run / "rl" / "summaries"))
    for step in range(0, 9_000_000, 1_000_000):
        w.add_scalar("episodes/train_success_rate", step / 1e7, step)
    w.close()
    from motionlib.policies.curve_plot import train_success

    assert len(train_success(run)) == 9
    png = tmp_path / "fig" / "curve.png"
    assert main(["plot-curve", str(run), "--out", str(png), "--segment", "0:CPU", "--segment", "2:GPU",
                 "--log-x"]) == 0
    assert f"wrote {png}" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert main(["plot-curve", str(run), "--out", str(png), "--segment", "two:GPU"]) == 2
    assert "MILLION_STEPS:LABEL" in capsys.readouterr().err
    assert main(["plot-curve", str(tmp_path / "nowhere"), "--out", str(png)]) == 2
    err = capsys.readouterr().err
    assert "curve.csv" in err and "nowhere" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "curve.csv").write_text("epoch,reward\n1,2\n")
    assert main(["plot-curve", str(bad), "--out", str(png)]) == 2
    assert "success_rate" in capsys.readouterr().err


def _tiny_run(run: Path) -> str:
    """A tokenizer run folder with a last.pt that carries optimizer state; returns its tokenizer id."""
    from motionlib.tokenizer.checkpoint import save_checkpoint
    from motionlib.tokenizer.config import TokenizerConfig, TokenizerTrainConfig
    from motionlib.tokenizer.data import compute_train_stats, load_clip_features
    from motionlib.tokenizer.model import build_tokenizer

    clip = run.parent / "walk.npz"
    save_motion(make_walking_clip(seconds=1.0), clip)
    cfg = TokenizerConfig(kind="lfq2d", window=16, width=16, depth=1, bits=6)
    torch.manual_seed(0)
    model = build_tokenizer(cfg)
    opt = torch.optim.AdamW(model.parameters())
    stats = compute_train_stats([load_clip_features(clip, 30.0)])
    return save_checkpoint(run / "last.pt", model, cfg, stats, TokenizerTrainConfig(out=str(run)), opt, step=5)


def test_export_tokenizer_copies_a_run_without_its_optimizer(tmp_path, capsys):
    from motionlib.tokenizer.checkpoint import load_checkpoint

    run = tmp_path / "run"
    tid = _tiny_run(run)
    out = tmp_path / "ship" / "tok.pt"
    assert main(["export-tokenizer", str(run), "--out", str(out), "--json"]) == 0  # best falls back to last.pt
    res = json.loads(capsys.readouterr().out)
    assert res["tokenizer_id"] == tid and res["source"] == str(run / "last.pt")
    ck = load_checkpoint(out)
    assert ck.tokenizer_id == tid and ck.step == 5 and ck.optimizer_state is None
    assert load_checkpoint(run / "last.pt").optimizer_state is not None
    assert out.stat().st_size < (run / "last.pt").stat().st_size
    assert main(["tokenize", str(tmp_path / "walk.npz"), "--tokenizer", str(out)]) == 0  # the copy tokenizes
    capsys.readouterr()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export-tokenizer", str(empty), "--out", str(out), "--checkpoint", "last"]) == 2
    err = capsys.readouterr().err
    assert "last.pt" in err and "empty" in err
    assert main(["export-tokenizer", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "no such tokenizer run folder" in capsys.readouterr().err


def test_tokenizer_profile_reports_an_unreadable_clip_and_goes_on(tmp_path, capsys):
    d = tmp_path / "clips"
    save_motion(make_walking_clip(seconds=1.5), d / "dataset-1_walk_sad_001.npz")
    (d / "dataset-1_walk_happy_001.npz").write_bytes(b"junk")
    assert main(["tokenizer-profile", str(d)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("1 clips: root-aligned MPJPE") and "by style: sad" in out
    assert "failed:" in out and "dataset-1_walk_happy_001.npz" in out
    assert main(["tokenizer-profile", str(d / "dataset-1_walk_happy_001.npz")]) == 2
    assert "no clip could be profiled" in capsys.readouterr().err


def test_feature_pack_command_and_its_errors(tmp_path, capsys):
    from motionlib.tokenizer import feature_cache as FC
    from motionlib.tokenizer.data import load_clip_features
    from motionlib.tokenizer.feature_pack import main as pack_main
    from motionlib.tokenizer.feature_pack import pack

    clip = tmp_path / "walk.npz"
    save_motion(make_walking_clip(seconds=1.0), clip)
    FC.save_cache(tmp_path / "c.npz", [load_clip_features(clip, 30.0)], "sig")
    assert pack_main(["pack", str(tmp_path / "c.npz"), str(tmp_path / "p.npz")]) == 0
    assert pack_main(["unpack", str(tmp_path / "p.npz"), str(tmp_path / "u.npz")]) == 0
    assert "unpack:" in capsys.readouterr().out and FC.load_cache(tmp_path / "u.npz")[1] == "sig"
    with pytest.raises(ValueError, match="bits"):
        pack(tmp_path / "c.npz", tmp_path / "p.npz", bits=16)
    with pytest.raises(SystemExit) as e:  # a clip is not a feature cache: the error names the file
        pack_main(["pack", str(clip), str(tmp_path / "p2.npz")])
    assert e.value.code == 2 and str(clip) in capsys.readouterr().err


def test_tokenizer_benchmark_command_line(tmp_path):
    bench = [sys.executable, str(REPO / "benchmarks" / "tokenizer_sweep.py")]
    plan = subprocess.run(bench + ["plan", "--only", "main_*", "--runs-dir", str(tmp_path)], capture_output=True,
                          text=True, check=True)
    assert [line.split()[0] for line in plan.stdout.splitlines()] == [
        "main_lfq2d_14", "main_lfq1d_14", "main_vq1d_512", "main_lfq2d_14_ent0.1", "main_lfq2d_16", "main_lfq2d_14_fk5",
        "main_lfq2d_14_global", "main_lfq2d_14_global_e1k",
        "main_lfq2d_14_global_ent3", "main_lfq2d_14_global_div3"]
    report = subprocess.run(bench + ["report", "--runs-dir", str(tmp_path), "--docs", str(tmp_path / "docs")],
                            capture_output=True, text=True)
    assert report.returncode == 1 and "no evaluated runs" in report.stderr
    assert not (tmp_path / "docs").exists()
