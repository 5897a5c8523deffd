import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples" / "bandai"
SHARED = Path(os.environ.get("MOTIONLIB_SHARED", REPO.parent / "shared"))
BANDAI = SHARED / "data" / "bandai"


@pytest.fixture
def samples_dir() -> Path:
    return SAMPLES


@pytest.fixture
def bandai_dir() -> Path:
    if not (BANDAI / "dataset-1").is_dir():
        pytest.skip("../shared/data/bandai is not available")
    return BANDAI


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def random_clip(rng):
    """A smooth random clip (so features/metrics see realistic velocities)."""
    from motionlib.motion import Motion
    from motionlib.motion import rotations as R

    T = 90
    t = np.linspace(0, 3, T)[:, None, None]
    base = rng.normal(scale=0.3, size=(1, 24, 3))
    amp = rng.normal(scale=0.3, size=(1, 24, 3))
    aa = base + amp * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6, size=(1, 24, 3)))
    q = R.axis_angle_to_quat(aa)
    # upright root turning slowly
    from motionlib.motion.skeleton import SMPL_TO_ZUP
    yaw = np.linspace(0, 1.5, T)
    root = R.rot_z(yaw) @ SMPL_TO_ZUP @ R.quat_to_matrix(q[:, 0])
    q[:, 0] = R.matrix_to_quat(root)
    trans = np.stack([np.linspace(0, 2, T), 0.3 * np.sin(t[:, 0, 0]), 0.9 + 0.02 * np.cos(3 * t[:, 0, 0])], -1)
    return Motion(30.0, trans, q, meta={"source": "random"})


def make_standing_clip(frames: int = 120, fps: float = 30.0, wave: float = 0.3):
    """An upright body facing +x with its feet on the ground, waving one arm."""
    from motionlib.motion import Motion, Skeleton
    from motionlib.motion import rotations as R
    from motionlib.motion.skeleton import SMPL_TO_ZUP

    t = np.arange(frames) / fps
    aa = np.zeros((frames, 24, 3))
    aa[:, 16, 2] = -1.2 + wave * np.sin(2 * t)
    aa[:, 17, 2] = 1.2
    q = R.axis_angle_to_quat(aa)
    q[:, 0] = R.matrix_to_quat(SMPL_TO_ZUP)
    rest = Skeleton.default().rest_positions()
    h = -min(rest[10, 1], rest[11, 1]) + 0.02
    return Motion(fps, np.c_[np.zeros(frames), np.zeros(frames), np.full(frames, h)], q, meta={"source": "standing"})


@pytest.fixture
def standing_clip():
    return make_standing_clip()
