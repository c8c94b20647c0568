"""`gaitline eval gait` and `eval mtmc` end to end on tiny synthetic inputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gait.evaluation.mtmc import evaluate
from gaitline.cli.eval import app, split_subjects
from sim.city import plan_city
from sim.cityrender import render_city
from sim.gaitset import make_subject
from sim.truth import read_truth, rle_decode, rle_encode


def test_split_rule() -> None:
    subs = [f"{i:03d}" for i in range(1, 125)]
    test, note = split_subjects(subs)
    assert test[0] == "075" and len(test) == 50 and "74" in note
    test, note = split_subjects(subs[:20])
    assert len(test) == 20 and "all are scored" in note


def test_eval_gait_json(tmp_path: Path) -> None:
    views, types = ("000", "090"), ("nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "bg-01", "cl-01")
    for s in (1, 2):
        make_subject(4, s, 2, tmp_path, views=views, types=types)
    res = CliRunner().invoke(app, ["gait", "--dataset", str(tmp_path), "--model", "baseline", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert set(out["rank1"]) == {"NM", "BG", "CL"}
    assert 0 <= out["rank1"]["NM"] <= 100 and 0 <= out["mAP"] <= 100
    assert "trivial" in out["baselines"]
    assert "all are scored as the test set" in res.output


def test_eval_threshold_json(tmp_path: Path) -> None:
    views, types = ("000", "090"), ("nm-01", "nm-02", "bg-01")
    for s in (1, 2, 3):
        make_subject(4, s, 3, tmp_path, views=views, types=types)
    res = CliRunner().invoke(app, ["threshold", "--dataset", str(tmp_path), "--model", "baseline",
                                   "--window", "10", "--far", "0.1", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["windows"] == 3 * 2 * 3 and out["subjects"] == 3
    q = out["stranger_quantiles"]
    # the threshold is the strangers' 90th percentile: between their median and their p99
    assert q["0.5"] <= out["threshold"] <= q["0.99"]
    assert 0.0 <= out["mated_accepted"] <= 1.0


@pytest.mark.parametrize("args", [
    ["threshold", "--dataset", ".", "--far", "1.5"],
    ["threshold", "--dataset", ".", "--window", "0"],
    ["gait", "--dataset", "/nonexistent/dir"],
    ["gait", "--dataset", ".", "--max-frames", "-1"],
    ["gait", "--dataset", ".", "--model", "no-such-model"],
    ["mtmc", "--truth", "/nonexistent", "--store", "sqlite://"],
])
def test_bad_parameters_exit_2(args: list[str]) -> None:
    assert CliRunner().invoke(app, args).exit_code == 2


def test_rle_roundtrip() -> None:
    import numpy as np

    m = np.random.default_rng(0).random((7, 5)) > 0.5
    assert (rle_decode(rle_encode(m), 7, 5) == m).all()
    assert rle_encode(np.ones((2, 2), bool)) == [0, 4]


@dataclass
class _Row:
    camera_id: str
    track_id: int
    identity_id: str
    t_start: float
    t_end: float
    x: float
    y: float
    ground_plane: bool
    truth_id: str | None
    box_x: int | None = None
    box_y: int | None = None
    box_w: int | None = None
    box_h: int | None = None


def test_city_determinism_and_mtmc(tmp_path: Path) -> None:
    for d in ("a", "b"):
        render_city(plan_city(2, 6, 8.0, 11, fps=5, width=192, height=144), tmp_path / d)
    for f in sorted((tmp_path / "a").rglob("*")):
        if f.is_file():
            assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes(), f
    city = tmp_path / "a"
    # perfect predictions from the ground truth: a one-frame sighting per visible person, tagged
    rows = []
    for cam in ("cam1", "cam2"):
        for ft in read_truth(city, cam):
            for p in ft.people:
                if p.visible >= 0.3:
                    rows.append(_Row(cam, int(p.id[1:]), "id-" + p.id, ft.t, ft.t, 0, 0, True, p.id))
    assert rows, "the tiny city should show somebody"
    res = evaluate(city, rows, min_height_px=0)  # a 192x144 city: everybody is small
    assert res["idf1"] == 1.0 and res["mota"] == 1.0
    # one identity per sighting on the second camera: cross-camera identities no longer agree
    split = [_Row(r.camera_id, r.track_id, r.identity_id + ("-x" if r.camera_id == "cam2" else ""), r.t_start,
                  r.t_end, r.x, r.y, r.ground_plane, r.truth_id) for r in rows]
    res2 = evaluate(city, split, min_height_px=0)
    both = {r.truth_id for r in rows if r.camera_id == "cam1"} & {r.truth_id for r in rows if r.camera_id == "cam2"}
    if both:
        assert res2["idf1"] < 1.0
    assert res2["per_camera"]["cam1"]["idf1"] == 1.0
    assert evaluate(city, [])["idf1"] in (0.0, None)


def test_mtmc_matches_boxes_by_iou_and_ignores_small_people(tmp_path: Path) -> None:
    city = tmp_path / "c"
    render_city(plan_city(1, 4, 8.0, 5, fps=5), city)
    truth = list(read_truth(city, "cam1"))
    big = [(ft, p) for ft in truth for p in ft.people if p.visible >= 0.3 and p.box[3] >= 40]
    small = [(ft, p) for ft in truth for p in ft.people if p.box[3] < 40]
    assert big, "someone should be large enough"
    rows = [_Row("cam1", int(p.id[1:]), "id-" + p.id, ft.t, ft.t, 0, 0, False, None, *p.box) for ft, p in big]
    assert evaluate(city, rows)["idp"] == 1.0  # boxes match by IoU without truth ids
    shifted = [_Row(r.camera_id, r.track_id, r.identity_id, r.t_start, r.t_end, 0, 0, False, None,
                    r.box_x + 3 * r.box_w, r.box_y, r.box_w, r.box_h) for r in rows]  # type: ignore[operator]
    assert evaluate(city, shifted)["idp"] in (0.0, None)
    if small:
        extra = [_Row("cam1", 99, "id-small", ft.t, ft.t, 0, 0, False, None, *p.box) for ft, p in small]
        assert evaluate(city, rows + extra)["false_positives"] == evaluate(city, rows)["false_positives"]


def test_eval_params_scores_measured_gait_against_the_city_truth(tmp_path: Path) -> None:
    city = tmp_path / "c"
    render_city(plan_city(1, 4, 15.0, 5, fps=10), city)
    res = CliRunner().invoke(app, ["params", "--city", str(city), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["windows"] > 0 and out["people"] >= 1
    speed = out["speed_mps"]["ours"]
    assert speed["coverage"] > 0.5 and speed["median_rel_err"] < 0.25  # metres and seconds are right
    for name in ("cadence_spm", "step_length_m", "stride_length_m"):
        assert set(out[name]) == {"ours", "constant"} and out[name]["constant"]["coverage"] == 1.0
    bad = CliRunner().invoke(app, ["params", "--city", str(tmp_path / "nowhere")])
    assert bad.exit_code == 2
    (tmp_path / "empty").mkdir()
    bad = CliRunner().invoke(app, ["params", "--city", str(tmp_path / "empty")])
    assert bad.exit_code == 2 and "people.json" in bad.output


def test_params_score_counts_misses_and_errors() -> None:
    from gait.evaluation.parameter_errors import score
    from streams.schemas import GaitParams, TrackletWindow
    from tests.factories import tracklet_window

    def win(i: int, who: str | None, cad: float | None, speed: float) -> TrackletWindow:
        return tracklet_window(1, track_id=i, truth_id=who, gait=GaitParams(cadence_spm=cad, speed_mps=speed))

    people = {"p1": {"cadence_spm": 100.0, "speed_mps": 1.0, "step_length_m": 0.6, "stride_length_m": 1.2},
              "p2": {"cadence_spm": 120.0, "speed_mps": 1.5, "step_length_m": 0.75, "stride_length_m": 1.5}}
    ws = [win(1, "p1", 110.0, 1.0), win(2, "p1", None, 1.0), win(3, "p2", 120.0, 1.2), win(4, None, 99.0, 1.0)]
    r = score(ws, people)
    assert r["windows"] == 3 and r["windows_untagged"] == 1 and r["people"] == 2
    cad = r["cadence_spm"]["ours"]
    assert cad["coverage"] == round(2 / 3, 3) and cad["median_rel_err"] == 0.05 and cad["within_10pct"] == 1.0
    assert r["speed_mps"]["ours"]["within_10pct"] == round(2 / 3, 3)  # 1.2 vs 1.5 is 20 % off
    assert r["cadence_spm"]["constant"]["coverage"] == 1.0
