"""A wheel built with `pip wheel .` installs and imports outside the source tree, with its package data (the
shipped robots, their license and descriptions, the shipped models)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_installs_and_imports(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(REPO)], check=True, cwd=tmp_path)
    (whl,) = wheels.glob("motionlib-*.whl")
    assert whl.stat().st_size < 30e6  # the shipped language model is 18 MB of it
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(whl)],
                   check=True, cwd=tmp_path)
    code = (
        "import motionlib, motionlib.motion as m, motionlib.cli.main as cli\n"
        "from motionlib.motion.ingest import bvh_fit, captions\n"
        "import motionlib.sim, motionlib.policies, motionlib.tokenizer, motionlib.llm, motionlib.retarget\n"
        f"assert motionlib.__file__.startswith({str(target)!r}), motionlib.__file__\n"
        "assert abs(m.Skeleton.default().height() - 1.4964) < 1e-3\n"
        "cli.build_parser()\n"
        "from motionlib.retarget.description import load_description, ROBOTS_DIR\n"
        f"assert str(ROBOTS_DIR).startswith({str(target)!r}), ROBOTS_DIR\n"
        "assert (ROBOTS_DIR / 'LICENSE-unitree_mujoco').is_file()\n"
        "for r in ('g1', 'h1'):\n"
        "    d = load_description(r); mj = d.model(); assert mj.nu == len(d.joint_names)\n"
        "from motionlib.llm.default import default_lm_path\n"
        "from motionlib.llm.checkpoint import read_meta\n"
        f"assert str(default_lm_path()).startswith({str(target)!r}) and read_meta(default_lm_path())['kind']\n"
        "assert (default_lm_path() / 'model' / 'model.safetensors').is_file()\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
