"""The dataset builder: formats, archives, failures, resume, manifest, CLI."""

import json
import shutil
import tarfile

import numpy as np
import pytest

from motionlib.cli.main import main
from motionlib.motion import load_motion
from motionlib.motion.ingest.dataset import IngestConfig, build_dataset, load_manifest


@pytest.fixture
def src(tmp_path, samples_dir):
    d = tmp_path / "src"
    d.mkdir()
    for stem in ("dataset-1_walk_normal_001", "dataset-2_wave-right-hand_normal_001"):
        for ext in (".bvh", ".json"):
            shutil.copy(samples_dir / f"{stem}{ext}", d / f"{stem}{ext}")
    return d


def test_folder_with_a_broken_file(tmp_path, src):
    text = (src / "dataset-1_walk_normal_001.bvh").read_text()
    (src / "broken_truncated.bvh").write_text(text[: len(text) // 3])
    (src / "notes.npz").write_bytes(b"garbage")
    out = tmp_path / "out"
    summary, records = build_dataset([src], IngestConfig(out=out, workers=2, progress=False))
    man = load_manifest(out)
    ok = {r["id"]: r for r in man["clips"]}
    assert set(ok) == {"dataset-1_walk_normal_001", "dataset-2_wave-right-hand_normal_001"}
    fails = {r["source"]: r["error"] for r in man["failures"]}
    assert any("broken_truncated.bvh" in s for s in fails) and any("notes.npz" in s for s in fails)
    for s, err in fails.items():
        assert s.split("/")[-1] in err  # the error names the file
    assert summary.converted == 2 and summary.failed == 2
    # no partial or temporary files, exactly the good clips written
    assert sorted(p.name for p in (out / "clips").iterdir()) == sorted(f"{k}.npz" for k in ok)
    walk = ok["dataset-1_walk_normal_001"]
    assert walk["fit_error_mm"] is not None and walk["fit_error_mm"] < 40
    assert walk["texts"]["captions"] and all("walk" in c for c in walk["texts"]["captions"])
    clip = load_motion(out / walk["path"])
    assert clip.meta["labels"]["content"] == "walk" and clip.num_frames == walk["frames"]
    wave = ok["dataset-2_wave-right-hand_normal_001"]
    assert "right_arm" in wave["texts"]["body_parts"]

    # resume: a second run converts nothing new and keeps the manifest complete
    summary2, _ = build_dataset([src], IngestConfig(out=out, workers=1, progress=False))
    assert summary2.skipped == 2 and summary2.converted == 0 and summary2.clips == 2


def test_archive_is_read_directly(tmp_path, src):
    arc = tmp_path / "set.tar.xz"
    with tarfile.open(arc, "w:xz") as tar:
        for f in sorted(src.iterdir()):
            if "wave" in f.name:
                tar.add(f, arcname=f"inner/{f.name}")
    out = tmp_path / "out"
    rc = main(["ingest", str(arc), "--out", str(out), "--workers", "1", "--json", "--iters", "60"])
    assert rc == 0
    man = load_manifest(out)
    assert [r["id"] for r in man["clips"]] == ["dataset-2_wave-right-hand_normal_001"]
    assert man["clips"][0]["source"].endswith("set.tar.xz:inner/dataset-2_wave-right-hand_normal_001.bvh")
    assert man["clips"][0]["labels"]["style"] == "normal"


def test_missing_source_and_json_output(tmp_path, src, capsys):
    out = tmp_path / "out"
    rc = main(["ingest", str(src / "dataset-1_walk_normal_001.bvh"), str(tmp_path / "nope"), "--out", str(out),
               "--json", "--iters", "60"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["clips"] == 1 and res["failed"] == 1
    assert "nope" in res["failures"][0]["error"]
    assert res["fit_error_mm_median"] == pytest.approx(res["fit_error_mm_max"])


def test_amass_npz_goes_through_ingest(tmp_path, random_clip):
    from motionlib.motion.ingest.amass import save_amass

    d = tmp_path / "amass"
    save_amass(random_clip, d / "subject1_clip.npz")
    out = tmp_path / "out"
    summary, _ = build_dataset([d], IngestConfig(out=out, workers=1, progress=False))
    assert summary.clips == 1
    back = load_motion(out / "clips" / "subject1_clip.npz")
    assert back.meta["format"] == "amass"
    assert np.abs(back.positions() - random_clip.positions()).max() < 1e-6
