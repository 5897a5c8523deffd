"""Retargeting onto the shipped robots: reachable poses are followed closely, extreme poses stay inside the
joint limits, feet stay on the floor, bad clips are refused."""

import numpy as np
import pytest

from conftest import make_standing_clip
from walk_fixture import make_walking_clip

from motionlib.motion import rotations as R
from motionlib.motion.errors import MotionError


@pytest.fixture(scope="module", params=["g1", "h1"])
def retargeter(request):
    from motionlib.retarget.description import load_description
    from motionlib.retarget.ik import Retargeter

    return Retargeter(load_description(request.param))


def _report(rt, clip):
    from motionlib.retarget.report import clip_report

    return clip_report(rt.robot, rt.run(clip), clip)


def test_reachable_pose_small_error(retargeter):
    rep = _report(retargeter, make_standing_clip(20, wave=0.0))
    # an upright body with its arms down: every targeted point within a few cm (H1 has no wrists and a
    # one-axis ankle and torso, so it follows less closely)
    assert rep["keypoint_error_mm"] < (20.0 if retargeter.desc.name == "g1" else 30.0)
    assert rep["joint_limit_violations"] == 0
    assert rep["penetration_mm"] == 0.0 and rep["float_mm"] < 1.0
    assert rep["self_collision_frames"] == 0.0


def test_walk_keeps_planted_feet_and_floor(retargeter):
    clip = make_walking_clip(1.0)
    rep = _report(retargeter, clip)
    assert rep["joint_limit_violations"] == 0 and rep["velocity_limit_violations"] == 0
    assert rep["penetration_mm"] <= 5.0
    assert rep["planted_skate_mm"] <= rep["human_planted_skate_mm"] + 1.0
    assert rep["keypoint_error_mm"] < 40.0


def _extreme(kind: str):
    """A standing clip whose joint rotations are edited into an extreme pose, reached over 15 frames."""
    clip = make_standing_clip(30, wave=0.0)
    aa = R.quat_to_axis_angle(clip.rotations)
    ramp = np.clip(np.arange(30) / 15.0, 0, 1)[:, None]
    trans = clip.trans.copy()
    if kind == "squat":  # deep squat: hips and knees fully flexed, pelvis lowered
        aa[:, 1, 0] = aa[:, 2, 0] = (-2.2 * ramp)[:, 0]
        aa[:, 4, 0] = aa[:, 5, 0] = (2.4 * ramp)[:, 0]
        trans[:, 2] -= 0.5 * ramp[:, 0]
    elif kind == "overhead":  # both arms straight up
        aa[:, 16, 2] = -1.2 + 2.7 * ramp[:, 0]
        aa[:, 17, 2] = 1.2 - 2.7 * ramp[:, 0]
    elif kind == "kick":  # a high front kick with the right leg, the knee snapped past straight
        aa[:, 2, 0] = -2.0 * ramp[:, 0]
        aa[:, 5, 0] = -0.4 * ramp[:, 0]
    return clip.copy(rotations=R.axis_angle_to_quat(aa), trans=trans)


@pytest.mark.parametrize("kind", ["squat", "overhead", "kick"])
def test_extreme_poses_never_violate_limits(retargeter, kind):
    clip = _extreme(kind)
    result = retargeter.run(clip)
    from motionlib.retarget.report import clip_report

    rep = clip_report(retargeter.robot, result, clip)
    # the pose drives some joint close to (within 0.25 rad of) its limit, and none past it
    q = result.qpos[:, retargeter.robot.joint_qpos]
    lo, hi = retargeter.robot.joint_range.T
    assert np.minimum(q - lo, hi - q).min() < 0.25
    assert rep["joint_limit_violations"] == 0
    assert rep["velocity_limit_violations"] == 0
    assert rep["penetration_mm"] <= 5.0


def test_short_and_nan_clips_refused(retargeter):
    with pytest.raises(MotionError, match="too short"):
        retargeter.run(make_standing_clip(3))
    clip = make_standing_clip(10)
    clip.trans[4, 0] = np.nan  # past the constructor's check, as a clip edited in memory could be
    with pytest.raises(MotionError, match="NaN"):
        retargeter.run(clip)


def test_pin_planted_holds_runs_and_stays_continuous():
    from motionlib.retarget.scaling import pin_planted

    xy = np.c_[np.linspace(0, 1, 20), np.zeros(20)]
    planted = np.zeros(20, dtype=bool)
    planted[3:8] = planted[12:17] = True
    out = pin_planted(xy, planted)
    assert np.ptp(out[3:8], axis=0).max() == 0 and np.ptp(out[12:17], axis=0).max() == 0
    assert np.abs(np.diff(out, axis=0)).max() < 0.2  # no jump at the runs' ends
