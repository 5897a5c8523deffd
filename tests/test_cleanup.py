"""Kinematic clean-up before refinement: smoothing keeps what is smooth and removes
frame-to-frame jitter; grounding undoes a floating/sinking offset and leaves a grounded clip;
unslide takes a whole-body slide during stance out of the root path."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SAMPLES


@pytest.fixture(scope="module")
def walk():
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion

    return bvh_to_motion(SAMPLES / "dataset-1_walk_normal_001.bvh")[:120]


def test_gaussian_filter_keeps_constants_and_lines_and_cuts_noise():
    from motionlib.motion.cleanup import gaussian_filter_time

    rng = np.random.default_rng(0)
    t = np.arange(200, dtype=float)
    np.testing.assert_allclose(gaussian_filter_time(np.full((200, 3), 2.5), 1.5), 2.5)
    line = gaussian_filter_time(t, 2.0)
    np.testing.assert_allclose(line[10:-10], t[10:-10], atol=1e-9)  # away from the padded edges
    noise = rng.normal(size=(2000, 4))
    assert gaussian_filter_time(noise, 1.5).std() < 0.5 * noise.std()
    np.testing.assert_array_equal(gaussian_filter_time(noise, 0.0), noise)


def test_smooth_removes_rotation_jitter(walk):
    from motionlib.motion import metrics as M
    from motionlib.motion.cleanup import smooth
    from motionlib.motion.corrupt import CorruptConfig, corrupt

    noisy = corrupt(walk, CorruptConfig(drift_m_per_s=0, height_offset_m=0, height_sway_m=0, skate_m=0,
                                        depth_noise_m=0), seed=0)
    out = smooth(noisy, 1.5)
    np.testing.assert_allclose(np.linalg.norm(out.rotations, axis=-1), 1.0, atol=1e-9)
    assert M.jitter(out.positions(), out.fps) < 0.1 * M.jitter(noisy.positions(), noisy.fps)
    # and stays close to the clean motion (the jitter was 3 deg per joint per frame)
    assert M.mpjpe(out.joints()[0], walk.joints()[0]) < M.mpjpe(noisy.joints()[0], walk.joints()[0])


@pytest.mark.parametrize("offset", [0.06, -0.05])
def test_ground_undoes_a_height_offset(walk, offset):
    from motionlib.motion import metrics as M
    from motionlib.motion.cleanup import floor_offset, ground

    lifted = walk.copy(trans=walk.trans + np.array([0.0, 0.0, offset]))
    np.testing.assert_allclose(floor_offset(lifted) - floor_offset(walk), offset, atol=1e-6)
    out = ground(lifted)
    p = M.plausibility(out)
    assert p["float_mm"] < 5.0 and p["penetration_mm"] < 2.0
    assert np.abs(floor_offset(walk)).max() < 0.01  # a clean walk is already on the floor (within 1 cm)


def test_unslide_removes_a_whole_body_slide_and_keeps_a_clean_walk(walk):
    from motionlib.motion import metrics as M
    from motionlib.motion.cleanup import planted_feet, unslide

    scale = M.body_scale_of(walk)
    # a clean walk: each foot is planted for part of the time, swinging feet are not
    w, d = planted_feet(walk)
    assert w.shape == (walk.num_frames - 1, 2) and d.shape == (walk.num_frames - 1, 2, 2)
    assert 0.2 < (w > 0.5).mean() < 0.95 and w.min() == 0.0
    out = unslide(walk)
    assert M.mpjpe(out.positions(), walk.positions()) < 30.0  # its own path, within a few cm
    np.testing.assert_array_equal(out.trans[:, 2], walk.trans[:, 2])  # heights untouched
    np.testing.assert_allclose(out.rotations, walk.rotations, atol=1e-12)

    # the same walk sliding sideways and back and forth as a whole (1.5 Hz, 4 cm): planted feet slide
    t = np.arange(walk.num_frames) / walk.fps
    wobble = np.stack([0.04 * np.sin(2 * np.pi * 1.5 * t), 0.04 * np.cos(2 * np.pi * 1.1 * t), 0 * t], 1)
    sliding = walk.copy(trans=walk.trans + wobble)
    fixed = unslide(sliding)
    assert M.skate_mm(sliding.positions(), scale) > M.skate_mm(walk.positions(), scale) + 5.0
    assert M.skate_mm(fixed.positions(), scale) < M.skate_mm(walk.positions(), scale) + 1.5
    assert M.mpjpe(fixed.positions(), walk.positions()) < 0.6 * M.mpjpe(sliding.positions(), walk.positions())

    # a body in the air (no foot low enough) is left alone
    flying = walk.copy(trans=walk.trans + np.array([0.0, 0.0, 0.5]))
    assert planted_feet(flying)[0].max() == 0.0
    np.testing.assert_allclose(unslide(flying).trans, flying.trans)


def test_refine_tracks_the_cleaned_reference_and_reports_the_input(walk, tmp_path):
    from motionlib.motion import metrics as M
    from motionlib.motion.cleanup import CleanupConfig
    from motionlib.policies.actor import TrackingActor, TrackingPolicy
    from motionlib.policies.refine import refine_clips
    from motionlib.sim.humanoid import HumanoidConfig
    from motionlib.sim.tracking_config import TrackingConfig
    from motionlib.sim.tracking_terms import self_obs_dim, task_obs_dim

    tcfg = TrackingConfig()
    actor = TrackingActor(self_obs_dim() + task_obs_dim(len(tcfg.future_frames)), 69, (16,))
    policy = TrackingPolicy(actor, tcfg, HumanoidConfig(), {"name": "untrained"})
    floating = walk[:45].copy(trans=walk[:45].trans + np.array([0.0, 0.0, 0.08]))
    (a,), ta = refine_clips([floating], policy, retry=True, threads=1)
    (b,), tb = refine_clips([floating], policy, retry=True, threads=1, cleanup=None)
    assert a.report["before"] == b.report["before"] == M.plausibility(floating)
    assert ta["cleanup"] == CleanupConfig().__dict__ and tb["cleanup"] is None
    assert a.report["cleanup"]["noise_deg"] < 1.0 and a.report["cleanup"]["strength"] == 0.0  # capture: grounded only
    assert b.report["cleanup"] is None
    # reset states start on the floor instead of 8 cm above it
    assert a.clip.trans[0, 2] < b.clip.trans[0, 2] - 0.05


def test_rotation_noise_estimate_separates_capture_from_estimates(walk):
    from motionlib.motion.cleanup import rotation_noise_deg
    from motionlib.motion.corrupt import CorruptConfig, corrupt

    assert rotation_noise_deg(walk) < 0.8  # motion capture: the motion itself, no noise
    for jitter, lo, hi in [(3.0, 2.6, 3.6), (1.5, 1.3, 2.1)]:
        noisy = corrupt(walk, CorruptConfig(rot_jitter_deg=jitter), seed=1)
        assert lo < rotation_noise_deg(noisy) < hi  # it recovers the std it was given
    assert rotation_noise_deg(walk[:4]) == 0.0  # too short to tell


def test_adaptive_cleanup_grounds_capture_and_cleans_estimates_in_full(walk):
    from motionlib.motion.cleanup import CleanupConfig, clean_for_tracking, cleanup_strength, floor_offset
    from motionlib.motion.clip import ESTIMATE_META
    from motionlib.motion.corrupt import CorruptConfig, corrupt

    auto, full = CleanupConfig(), CleanupConfig(adaptive=False)
    # capture: no smoothing and no unslide, only the floor offset comes off the root height
    assert cleanup_strength(walk, auto) == 0.0 and cleanup_strength(walk, full) == 1.0
    out = clean_for_tracking(walk, auto)
    np.testing.assert_allclose(out.rotations, walk.rotations, atol=1e-12)
    np.testing.assert_array_equal(out.trans[:, :2], walk.trans[:, :2])
    np.testing.assert_allclose(out.trans[:, 2], walk.trans[:, 2] - floor_offset(walk))
    assert not np.allclose(clean_for_tracking(walk, full).rotations, walk.rotations)
    # a video-like estimate gets all of it, as without adaptation
    noisy = corrupt(walk, seed=2)
    assert cleanup_strength(noisy, auto) == 1.0
    a, b = clean_for_tracking(noisy, auto), clean_for_tracking(noisy, full)
    np.testing.assert_array_equal(a.rotations, b.rotations)
    np.testing.assert_array_equal(a.trans, b.trans)
    # a clip that a video estimator made (the WHAM ingest says so in its meta) gets all of it, however smooth
    assert cleanup_strength(walk.copy(meta={**walk.meta, ESTIMATE_META: "wham"}), auto) == 1.0
    # in between (half the benchmark's jitter), part of it
    mid = corrupt(walk, CorruptConfig(rot_jitter_deg=1.5), seed=3)
    assert cleanup_strength(mid, auto) == 1.0  # corrupt marks its clips as estimates
    del mid.meta[ESTIMATE_META]  # the same noise, of unknown origin
    assert 0.1 < cleanup_strength(mid, auto) < 0.9
