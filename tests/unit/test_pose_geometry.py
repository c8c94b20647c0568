"""The calibrated geometry of the keypoint parameters: the camera behind a ground homography, the
view from the walking line, and the keypoints moved onto the sagittal plane."""

from __future__ import annotations

import numpy as np
import pytest

from gait.vision.pose_geometry import camera_from_homography, sagittal_view
from gait.vision.pose_parameters import cycle_range, gait_events, joint_angles, pose_parameters
from sim import body
from sim.camera import PinholeCamera
from sim.keypoints import angle_ranges, keypoints, world_pose

W, H = 768, 576


def _pole_camera(azimuth_deg: float) -> PinholeCamera:
    """A camera 7 m up, 12 m from the middle of a walk along +x, looking down at it."""
    a = np.radians(azimuth_deg)
    centre = np.array([2.0 - 12 * np.cos(a), -12 * np.sin(a), 7.0])
    return PinholeCamera.look_at(centre, np.array([2.0, 0.0, 0.0]), f=650.0, cx=W / 2, cy=H / 2)


@pytest.mark.parametrize("azimuth", [0.0, 35.0, 90.0, 150.0])
def test_the_camera_comes_back_from_its_ground_homography(azimuth: float) -> None:
    cam = _pole_camera(azimuth)
    got = camera_from_homography(cam.image_to_ground(), (W / 2, H / 2))
    assert got is not None
    assert got.K[0, 0] == pytest.approx(650.0, rel=1e-6)
    assert np.allclose(got.C, cam.centre, atol=1e-6) and np.allclose(got.R, cam.R, atol=1e-6)


def test_a_homography_of_no_camera_above_the_ground_is_refused() -> None:
    assert camera_from_homography(np.diag([1.0, -1.0, 1.0]), (W / 2, H / 2)) is None


def _walk(azimuth: float, seconds: float = 4.0, fps: float = 25.0) -> tuple[np.ndarray, np.ndarray, PinholeCamera,
                                                                             body.Identity]:
    ident = body.draw_identity(np.random.default_rng(7))
    t = np.arange(0, seconds, 1 / fps)
    cam = _pole_camera(azimuth)
    return keypoints(world_pose(ident, t), cam), 1.7e9 + t, cam, ident


@pytest.mark.parametrize("azimuth, view", [(90.0, "side"), (45.0, "oblique"), (10.0, "frontal")])
def test_the_view_comes_from_the_walking_line_and_the_camera(azimuth: float, view: str) -> None:
    kp, _, cam, _ = _walk(azimuth)
    got = sagittal_view(kp, cam.image_to_ground(), (W / 2, H / 2))
    assert got is not None and got[0] == view
    assert (got[2] is None) == (view == "frontal")


def test_on_the_sagittal_plane_an_oblique_knee_is_measured_as_from_the_side() -> None:
    kp, ts, cam, ident = _walk(45.0)
    true = angle_ranges(ident)["knee_left_range_deg"]
    image = pose_parameters(kp, ts, cam.image_to_ground())["params"]["knee_left_range_deg"].value
    plane = pose_parameters(kp, ts, cam.image_to_ground(), principal_point=(W / 2, H / 2))
    assert plane["view"] == "oblique" and plane["view_source"] == "calibration"
    got = plane["params"]["knee_left_range_deg"].value
    assert abs(got - true) < 2.0
    assert abs(image - true) > 2 * abs(got - true)  # the image alone is foreshortened


def test_the_cycle_fit_shrugs_off_jitter_a_range_over_frames_does_not() -> None:
    kp, ts, _, ident = _walk(90.0, seconds=6.0)
    rng = np.random.default_rng(0)
    noisy = kp.copy()
    noisy[..., :2] += rng.normal(0, 2.5, noisy[..., :2].shape)  # a pose model's few pixels of jitter
    ev = gait_events(kp, ts)
    hip = joint_angles(noisy)["hip_left"]
    true = angle_ranges(ident)["hip_left_range_deg"]
    over_frames = float(np.percentile(hip, 98) - np.percentile(hip, 2))
    assert ev is not None
    fitted = cycle_range(hip, ev.left)
    assert fitted is not None and abs(fitted - true) < 4.0 < abs(over_frames - true)


@pytest.mark.parametrize("azimuth", [45.0, -45.0, 90.0])
def test_a_turned_out_foot_keeps_its_pitch_on_the_sagittal_plane(azimuth: float) -> None:
    from dataclasses import replace

    # toe-out alone (the pelvis held still: its turning is what no plane undoes)
    ident = body.draw_identity(np.random.default_rng(7))
    ident = replace(ident, gait=replace(ident.gait, toe_out=np.radians(12.0), pelvis_rot=0.0, obliquity=0.0))
    t = np.arange(0, 4.0, 1 / 25.0)
    cam = _pole_camera(azimuth)
    kp, ts, hom, pp = keypoints(world_pose(ident, t), cam), 1.7e9 + t, cam.image_to_ground(), (W / 2, H / 2)
    res = pose_parameters(kp, ts, hom, principal_point=pp)
    assert res["params"]["foot_angle_deg"].value == pytest.approx(12.0, abs=3.0)
    plain = sagittal_view(kp, hom, pp)  # the toes met on the heels' plane
    assert plain is not None and plain[2] is not None
    ev = gait_events(plain[2], ts)
    assert ev is not None
    for side in ("left", "right"):
        true = angle_ranges(ident)[f"ankle_{side}_range_deg"]
        got = res["params"][f"ankle_{side}_range_deg"].value
        naive = cycle_range(joint_angles(plain[2])[f"ankle_{side}"], getattr(ev, side))
        assert got is not None and naive is not None
        assert abs(got - true) < 2.0, (side, got, true)
        # the toe's sideways offset read as a tilt of the foot: one foot's range swells, the other's shrinks
        assert abs(naive - true) > 2 * abs(got - true) + 2.0, (side, naive, got, true)
