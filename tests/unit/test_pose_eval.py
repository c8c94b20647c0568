"""Scoring the keypoint parameters: against a simulated city's exact joints (eval params), and
within against between people on labelled recordings (eval params-real)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gait.evaluation.pose_errors import POSE_PARAMS, replan
from gait.evaluation.pose_real import _cache_file, _icc, agreement, evaluate
from gait.evaluation.real import Recording
from gaitline.cli.eval import app
from sim import body
from sim.camera import PinholeCamera
from sim.city import plan_city
from sim.cityrender import render_city
from sim.keypoints import gait_truth, keypoints, walker_joints, world_pose


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city") / "c"
    render_city(plan_city(1, 6, 20.0, 5, fps=25), out)  # one walker is seen whole for 3 s
    return out


def test_eval_params_scores_the_keypoint_parameters_against_the_exact_joints(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval-params.json"
    res = CliRunner().invoke(app, ["params", "--city", str(city), "--no-silhouette", "--window-s", "3",
                                   "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    kp = json.loads(res.output.strip().splitlines()[-1])["keypoints"]
    assert kp["windows"] >= 1 and set(POSE_PARAMS) <= set(kp)
    side = kp["hip_left_range_deg"]["side+oblique"]
    assert side["ours"]["coverage"] == 1.0 and side["ours"]["median_abs_err"] < 5.0
    assert side["constant"]["coverage"] == 1.0  # the baseline answers every window
    assert kp["cadence_spm"]["side+oblique"]["ours"]["within_tol"] == 1.0
    saved = json.loads(out.read_text())
    assert saved["bench"] == "eval-params" and "host" in saved and saved["result"]["keypoints"]["windows"] >= 1
    assert "hip_left_range_deg" in res.output and "const" in res.output


def test_eval_params_refuses_an_unknown_keypoint_source(city: Path) -> None:
    res = CliRunner().invoke(app, ["params", "--city", str(city), "--pose-keypoints", "guess"])
    assert res.exit_code == 2 and "truth, model or none" in res.output
    res = CliRunner().invoke(app, ["params", "--city", str(city), "--no-silhouette", "--pose-keypoints", "none"])
    assert res.exit_code == 2 and "nothing to score" in res.output


def test_the_replanned_city_walks_where_it_was_rendered(city: Path) -> None:
    plan = replan(city)
    truth = [json.loads(line) for line in (city / "truth" / "cam1.jsonl").read_text().splitlines()]
    frame = next(f for f in truth if f["people"])
    person = frame["people"][0]
    walker = next(w for w in plan.walkers if w.id == person["id"])
    j = walker_joints(walker, np.array([frame["t"] - 1_700_000_000.0]))
    feet = j[0, [body.HEEL_L, body.HEEL_R, body.TOE_L, body.TOE_R], :2].mean(axis=0)
    assert np.linalg.norm(feet - np.array(person["foot"])) < 0.5  # the truth's foot point is the walker's


def test_gait_truth_follows_the_identity() -> None:
    ident = body.draw_identity(np.random.default_rng(3))
    tr = gait_truth(ident)
    assert tr["cadence_spm"] == ident.gait.cadence_spm and tr["step_time_asymmetry_pct"] == 0.0
    assert 0.12 < tr["step_width_m"] < 0.35 and 0 < tr["foot_angle_deg"] < 25
    assert abs(tr["foot_angle_deg"] - np.degrees(ident.gait.toe_out)) < 4  # pelvis rotation adds a little


def test_icc_and_agreement_tell_a_person_apart_from_noise() -> None:
    assert _icc([[1.0, 1.1], [5.0, 5.2], [9.0, 8.9]]) > 0.95
    assert _icc([[1.0, 9.0], [5.0, 4.0], [9.0, 1.0]]) < 0.2
    values = {f"p{p}_d{d}": {"cadence_spm": 100.0 + 10 * p + 0.5 * d, "hip_range_deg": 40.0 + 5 * ((p + d) % 3)}
              for p in range(4) for d in range(3)}
    people = {k: k.split("_")[0] for k in values}
    res = agreement(values, people)
    assert res["cadence_spm"]["ratio"] < 0.2 and res["cadence_spm"]["people"] == 4
    assert res["hip_range_deg"]["ratio"] > 0.8  # varies as much within as between: noise


def test_params_real_reads_each_recordings_keypoints_from_the_cache(tmp_path: Path) -> None:
    """Two people, two recordings each, keypoints of simulated side-view walkers in the cache."""
    cam = PinholeCamera.look_at(np.array([3.0, -8.0, 1.0]), np.array([3.0, 0.0, 0.9]), 700, 384, 288)
    recs = []
    for p, seed in (("person01", 1), ("person02", 2)):
        ident = body.draw_identity(np.random.default_rng(seed))
        for d in ("d1", "d2"):
            video = tmp_path / f"{p}_walking_{d}.avi"
            video.write_bytes(b"x")
            rec = Recording(video, p, d)
            t = np.arange(0, 4.0, 1 / 25)
            kp = keypoints(world_pose(body.session(ident, np.random.default_rng(int(d[1:]))), t), cam)
            np.savez_compressed(_cache_file(tmp_path, rec, 0), frames=np.arange(len(t)), timestamps=1.7e9 + t,
                                keypoints=kp, track=np.zeros(len(t), np.int64),
                                windows=np.array([[0, 0, len(t) - 1]]), cadence=np.array([110.0]))
            recs.append(rec)
    res = evaluate(recs, 0, tmp_path)
    assert res["recordings"] == 4 and res["people"] == 2
    cad = res["parameters"]["cadence_spm"]
    assert cad["recordings"] == 4 and cad["within"] is not None and cad["between"] is not None
    assert res["per_recording"]["person01_walking_d1.avi"]["hip_range_deg"] is not None
