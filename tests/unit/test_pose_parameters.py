"""Keypoint gait parameters against the simulator's exact joints, seen through pinhole cameras."""

from __future__ import annotations

import numpy as np
import pytest

from gait.vision import pose as bp
from gait.vision.gait_cycle import cycle_curves
from gait.vision.pose_parameters import Measure, gait_events, pose_parameters, view_of
from sim import body
from sim.camera import PinholeCamera
from sim.keypoints import angle_ranges, keypoints, world_pose

FPS = 25.0
# camera centres looking at the walker's path (along +x from the origin, 4 s at ~1.3 m/s)
SIDE, OBLIQUE, FRONTAL = (3.0, -8.0, 1.6), (9.0, -7.0, 3.0), (14.0, 0.3, 3.0)


def _walk(seed: int, centre: tuple[float, float, float], seconds: float = 4.0,
          t: np.ndarray | None = None) -> tuple[body.Identity, np.ndarray, np.ndarray, PinholeCamera]:
    ident = body.draw_identity(np.random.default_rng(seed))
    t = np.arange(0, seconds, 1 / FPS) if t is None else t
    cam = PinholeCamera.look_at(np.array(centre), np.array([3.0, 0.0, 0.9]), 700, 384, 288)
    return ident, t, keypoints(world_pose(ident, t), cam), cam


def _v(m: object) -> float:
    assert isinstance(m, Measure) and m.value is not None, m
    return float(m.value)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_side_view_angle_ranges_and_cadence_match_the_truth(seed: int) -> None:
    ident, t, kp, cam = _walk(seed, SIDE)
    res = pose_parameters(kp, 1.7e9 + t, cam.image_to_ground())
    assert res["view"] == "side"
    p = res["params"]
    for name, true in angle_ranges(ident).items():
        assert abs(_v(p[name]) - true) < 5.0, (name, p[name], true)  # the 5° target
        assert p[name].confidence > 0.8
    assert abs(_v(p["cadence_spm"]) - ident.gait.cadence_spm) < 0.05 * ident.gait.cadence_spm
    # sideways lies along the line of sight: no step width, and the report says why
    assert p["step_width_m"].value is None and "line of sight" in str(p["step_width_m"].reason)


def test_oblique_calibrated_view_gives_step_width_foot_angle_and_progression() -> None:
    for seed in (2, 5, 6, 7, 8):
        ident, t, kp, cam = _walk(seed, OBLIQUE)
        j = world_pose(ident, t)
        # truth: the heels' lateral distance while their foot stands (the swing arcs inwards)
        # (single support: the other foot swings clearly higher)
        za, zb = j[:, body.ANKLE_L, 2], j[:, body.ANKLE_R, 2]
        down_l, down_r = za < zb - 0.03, zb < za - 0.03
        true_width = float(np.median(j[down_l, body.HEEL_L, 1]) - np.median(j[down_r, body.HEEL_R, 1]))
        p = pose_parameters(kp, 1.7e9 + t, cam.image_to_ground())["params"]
        assert abs(_v(p["step_width_m"]) - true_width) < 0.03, (seed, p["step_width_m"], true_width)  # 3 cm
        assert abs(_v(p["foot_angle_deg"]) - np.degrees(ident.gait.toe_out)) < 5.0
        assert _v(p["progression_deviation_m"]) < 0.04  # a straight walk (the sim's sway: ~2.5 cm)
        assert abs(_v(p["cadence_spm"]) - ident.gait.cadence_spm) < 0.06 * ident.gait.cadence_spm


def test_uncalibrated_camera_has_no_ground_parameters() -> None:
    _, t, kp, _ = _walk(2, OBLIQUE)
    p = pose_parameters(kp, t, None)["params"]
    for name in ("step_width_m", "progression_deviation_m", "foot_angle_deg"):
        assert p[name].value is None and "not calibrated" in str(p[name].reason)


def test_frontal_view_gives_no_sagittal_angles_or_steps() -> None:
    _, t, kp, cam = _walk(3, FRONTAL)
    res = pose_parameters(kp, t, cam.image_to_ground())
    assert res["view"] == "frontal" and view_of(kp)[0] == "frontal"
    for name in ("knee_left_range_deg", "hip_right_range_deg", "cadence_spm", "step_time_asymmetry_pct"):
        assert res["params"][name].value is None and "frontal" in str(res["params"][name].reason)


def test_step_time_asymmetry_of_a_limping_rhythm() -> None:
    # the same poses, but the half cycle before each left strike takes 0.6 of the stride's time
    ident = body.draw_identity(np.random.default_rng(4))
    stride = 120.0 / ident.gait.cadence_spm
    tm = np.arange(0, 4.0, 1 / FPS)  # model time
    u = (tm / stride) % 1.0
    slow = np.where(u >= 0.5, 1.2, 0.8)  # [T] the left step (right strike -> left strike) is slow
    real = np.concatenate([[0.0], np.cumsum(slow[:-1] / FPS)])
    _, _, kp, cam = _walk(4, SIDE, t=tm)
    p = pose_parameters(kp, 1.7e9 + real, cam.image_to_ground())["params"]
    assert abs(_v(p["step_time_asymmetry_pct"]) - 40.0) < 10.0  # 2 |0.6 - 0.4| / 1.0
    sym = pose_parameters(kp, 1.7e9 + tm, cam.image_to_ground())["params"]
    assert _v(sym["step_time_asymmetry_pct"]) < 10.0


def test_events_survive_left_right_confusion_and_cadence_is_cross_checked() -> None:
    ident, t, kp, cam = _walk(1, SIDE)
    bad = kp.copy()
    legs = np.r_[bp.HIP_L, bp.KNEE_L, bp.ANKLE_L, bp.HEEL_L, bp.TOE_L]
    other = np.r_[bp.HIP_R, bp.KNEE_R, bp.ANKLE_R, bp.HEEL_R, bp.TOE_R]
    for i in (20, 45, 70):  # three frames with the legs' labels swapped
        bad[i, np.r_[legs, other]] = kp[i, np.r_[other, legs]]
    ev, ev_bad = gait_events(kp, t), gait_events(bad, t)
    assert ev is not None and ev_bad is not None
    assert len(ev_bad.left) + len(ev_bad.right) == len(ev.left) + len(ev.right)
    p = pose_parameters(kp, t, None, silhouette_cadence=ident.gait.cadence_spm * 1.1)["params"]
    assert 5.0 < _v(p["cadence_disagreement_pct"]) < 15.0
    assert 0.0 < _v(p["double_support_share"]) < 0.4


def test_cycle_curves_show_the_knee_swing_peak() -> None:
    _, t, kp, _ = _walk(2, SIDE)
    curves = cycle_curves(kp, t)
    assert curves is not None
    knee = curves["knee_left"]
    assert np.isfinite(knee).all() and 55 <= int(np.argmax(knee)) * 4 <= 90  # swing: ~70 % of the cycle


def test_a_standing_person_is_not_measured() -> None:
    ident = body.draw_identity(np.random.default_rng(1))
    cam = PinholeCamera.look_at(np.array(SIDE), np.array([3.0, 0.0, 0.9]), 700, 384, 288)
    j = np.repeat(world_pose(ident, np.zeros(1)), 60, axis=0)  # frozen mid-stance for 2.4 s
    p = pose_parameters(keypoints(j, cam), np.arange(60) / FPS, cam.image_to_ground())["params"]
    assert p["cadence_spm"].value is None and p["double_support_share"].value is None
    assert p["knee_left_range_deg"].value is not None and p["knee_left_range_deg"].value < 1.0
    assert Measure(1.23456, "m", 0.5).as_dict() == {"value": 1.235, "unit": "m", "confidence": 0.5, "reason": None}


def test_hip_flexion_is_positive_with_the_knee_ahead_either_way() -> None:
    from gait.vision.pose_parameters import joint_angles
    from sim import body
    from sim.camera import PinholeCamera
    from sim.keypoints import keypoints, world_pose

    ident = body.draw_identity(np.random.default_rng(1))
    t = np.arange(0, 3, 1 / 25)
    cam = PinholeCamera.look_at(np.array([2.0, -8.0, 1.0]), np.array([2.0, 0.0, 1.0]), 700, 384, 288)
    for heading, start in ((0.0, (0.0, 0.0)), (np.pi, (4.0, 0.0))):  # walking right, then left on screen
        j = world_pose(ident, t, heading=heading, start=start)
        hip = joint_angles(keypoints(j, cam))["hip_left"]
        # the body model's hip flexion: the thigh against the vertical, in the walking direction
        thigh = j[:, body.KNEE_L] - j[:, body.HIP_L]
        fwd = np.array([np.cos(heading), np.sin(heading)])
        true = np.degrees(np.arctan2(thigh[:, :2] @ fwd, -thigh[:, 2]))
        assert np.corrcoef(hip, true)[0, 1] > 0.95
        assert np.median(np.abs(hip - true)) < 6  # the trunk's lean shifts it a little
