"""`gaitline eval real`: names, manifests, the scores on synthetic vectors, the folds, the errors,
and the whole protocol on a small labelled stand-in the simulator renders (no real footage needed)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from gait.evaluation.real import Embedded, Recording, mean_vector, parse_name, read_manifest, scan_folder
from gait.evaluation.real_scores import (
    build_gallery,
    halves,
    people_folds,
    score,
    score_condition,
    score_folds,
    split_halves,
)
from gait.exceptions import DatasetError
from gaitline.cli.eval import app
from sim.walkset import render_walkset


def _video(path: Path, frames: int = 5, value: int = 128) -> Path:
    """A small decodable video of a still grey scene (nobody walks in it)."""
    w = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (160, 120))
    for _ in range(frames):
        w.write(np.full((120, 160, 3), value, np.uint8))
    w.release()
    return path


# --- names and manifests --------------------------------------------------------------------


@pytest.mark.parametrize(("name", "parsed"), [
    ("person01_walking_d1_uncomp.avi", ("person01", "d1")),
    ("person12_walking_d4.mp4", ("person12", "d4")),
    ("Person03_boxing_D2_x_y.AVI", ("person03", "d2")),
    ("person07_d3.avi", ("person07", "d3")),
    ("person05_walking_d03_uncomp.avi", ("person05", "d3")),
    ("person01_walking_d1_uncomp.mkv", None),
    ("walker01_walking_d1.avi", None),
    ("person01_walking_1.avi", None),
    ("person01_walking_dx.avi", None),
])
def test_kth_names(name: str, parsed: tuple[str, str] | None) -> None:
    assert parse_name(name) == parsed


def test_scan_folder_keeps_named_videos_and_lists_the_others(tmp_path: Path) -> None:
    for n in ("person01_walking_d1_uncomp.avi", "person01_walking_d2_uncomp.avi", "clip.avi", "MD5SUMS"):
        (tmp_path / n).write_bytes(b"x")
    recs, skipped = scan_folder(tmp_path)
    assert [(r.person, r.condition) for r in recs] == [("person01", "d1"), ("person01", "d2")]
    assert skipped == ["clip.avi"]


def test_manifest_paths_are_relative_to_it(tmp_path: Path) -> None:
    m = tmp_path / "labels" / "m.csv"
    m.parent.mkdir()
    m.write_text("person,video,condition\nann,../v/a.mp4,outdoors\n\nbob,/abs/b.avi,indoors\n")
    recs = read_manifest(m)
    assert recs == [Recording(m.parent / "../v/a.mp4", "ann", "outdoors"),
                    Recording(Path("/abs/b.avi"), "bob", "indoors")]


@pytest.mark.parametrize(("text", "why"), [
    ("video,person,condition,notes\na.avi,p,d1,x\n", "unknown columns ['notes']"),
    ("video,person\na.avi,p\n", "missing columns ['condition']"),
    ("video,person,condition\na.avi,,d1\n", "line 2"),
    ("", "empty"),
])
def test_bad_manifests(tmp_path: Path, text: str, why: str) -> None:
    m = tmp_path / "m.csv"
    m.write_text(text)
    with pytest.raises(DatasetError) as err:
        read_manifest(m)
    assert why in str(err.value)


# --- scores on synthetic vectors --------------------------------------------------------------


def _emb(person: str, cond: str, vecs: list[list[float]], starts: list[int] | None = None,
         length: int = 30) -> Embedded:
    w = np.asarray(vecs, np.float32).reshape(len(vecs), 2)
    w = w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)
    fs = np.asarray(starts if starts is not None else [15 * i for i in range(len(vecs))], np.int64)
    return Embedded(Recording(Path(f"{person}_walking_{cond}.avi"), person, cond), w, fs, fs + length - 1)


def _set() -> list[Embedded]:
    # gallery: a points along x, b along y; probes: a's d2 right, b's d2 wrong, b's d3 has no window
    return [_emb("a", "d1", [[1, 0], [1, 0.1], [1, -0.1], [1, 0]]),
            _emb("b", "d1", [[0, 1], [0.1, 1], [-0.1, 1], [0, 1]]),
            _emb("a", "d2", [[1, 0.2], [0.9, 0.3], [0.1, 1]]),  # windows 2 of 3 right, mean right
            _emb("b", "d2", [[1, 0.1], [0.2, 1]]),  # one window right, the mean wrong
            _emb("a", "d3", [[1, 0]]),
            _emb("b", "d3", [])]


def test_rank1_by_recording_and_by_window() -> None:
    es = _set()
    gal = build_gallery(es, "d1")
    assert list(gal.labels) == ["a", "b"] and gal.people == ["a", "b"]
    d2 = score_condition(es, gal, "d2")
    assert d2["rank1_recording"] == 50.0 and d2["correct"] == 1
    assert d2["windows"] == 5 and d2["rank1_window"] == 60.0  # 2 of a's 3 + 1 of b's 2
    d3 = score_condition(es, gal, "d3")
    # a recording without windows is a miss that stays in the denominator, and is named
    assert d3["recordings"] == 2 and d3["rank1_recording"] == 50.0 and d3["no_windows"] == ["b_walking_d3.avi"]
    assert d3["windows_share"] == 50.0 and d3["rank1_window"] == 100.0
    assert score_condition(es, gal, "d2", people={"a"})["rank1_recording"] == 100.0


def test_a_gallery_recording_without_windows_cannot_be_found() -> None:
    es = [_emb("a", "d1", [[1, 0]]), _emb("b", "d1", []), _emb("a", "d2", [[1, 0]]), _emb("b", "d2", [[0, 1]])]
    s = score(es, "d1")
    assert s["gallery"] == {"condition": "d1", "people": 2, "vectors": 1, "without_windows": ["b_walking_d1.avi"]}
    assert s["chance"] == 50.0 and s["conditions"]["d2"]["rank1_recording"] == 50.0


def test_halves_split_in_time_without_shared_frames() -> None:
    e = _emb("a", "d1", [[1, 0], [0, 1], [1, 1], [1, -1]], starts=[45, 0, 15, 30])
    first, second = split_halves(e)  # type: ignore[misc]
    # in time order: 0, 15 | 30, 45; the 30 window shares frames 30..44 with the 15 one: left out
    assert np.allclose(first, e.windows[[1, 2]]) and np.allclose(second, e.windows[[0]])
    assert split_halves(_emb("a", "d1", [[1, 0], [1, 0]])) is None  # two overlapping windows
    assert split_halves(_emb("a", "d1", [[1, 0]])) is None
    es = [_emb("a", "d1", [[1, 0], [1, 0.1], [1, 0.2], [1, 0], [1, 0]], starts=[0, 15, 30, 60, 90]),
          _emb("b", "d1", [[0, 1], [0.1, 1], [0, 1], [0, 1], [0, 1]], starts=[0, 15, 30, 60, 90]),
          _emb("c", "d1", [[1, 0]])]
    h = halves(es, "d1")
    assert h == {"recordings": 2, "rank1": 100.0, "skipped": ["c_walking_d1.avi"]}


def test_mean_vector_is_unit_length_or_none() -> None:
    v = mean_vector(np.array([[3, 0], [3, 8]], np.float32))
    assert v is not None and np.isclose(np.linalg.norm(v), 1.0) and np.allclose(v, [0.6, 0.8])
    assert mean_vector(np.zeros((0, 4), np.float32)) is None


def test_folds_partition_people_and_follow_the_seed() -> None:
    people = [f"person{i:02d}" for i in range(1, 13)]
    f = people_folds(people, 2, seed=0)
    assert sorted(f[0] + f[1]) == people and len(f[0]) == len(f[1]) == 6
    assert f == people_folds(list(reversed(people)), 2, seed=0)  # the order given does not matter
    assert f != people_folds(people, 2, seed=1)
    assert [len(x) for x in people_folds(people[:5], 3)] == [2, 2, 1]
    with pytest.raises(ValueError):
        people_folds(people[:2], 3)


def test_fold_scores_use_the_whole_gallery() -> None:
    es = _set()
    r = score_folds(es, "d1", [["a"], ["b"]])
    assert [p["rank1_recording"]["d2"] for p in r["folds"]] == [100.0, 0.0]
    assert r["mean"]["d2"] == 50.0 and r["spread"]["d2"] == 50.0
    # b alone is still matched against a's gallery vector: its d2 mean is nearer a's
    assert r["folds"][1]["rank1_window"]["d2"] == 50.0


# --- the command's errors: one line, exit code 2 ------------------------------------------------


def _one_line_error(args: list[str]) -> str:
    res = CliRunner().invoke(app, ["real", *args])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    return lines[0]


def test_errors_are_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no recordings" in _one_line_error(["--dataset", str(empty)])
    assert "one of them" in _one_line_error([])
    assert "not a folder" in _one_line_error(["--dataset", str(tmp_path / "nowhere")])

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "person01_walking_d1.avi").write_bytes(b"not a video")
    assert "cannot be decoded" in _one_line_error(["--dataset", str(bad)])

    m = tmp_path / "m.csv"
    m.write_text("video,person,condition,extra\n")
    assert "unknown columns" in _one_line_error(["--manifest", str(m)])
    m.write_text("video,person,condition\nmissing.avi,ann,d1\n")
    assert "does not exist" in _one_line_error(["--manifest", str(m)])
    assert "does not exist" in _one_line_error(["--dataset", str(m)])  # a CSV given as --dataset is a manifest

    ok = tmp_path / "ok"
    ok.mkdir()
    for n in ("person01_walking_d1.avi", "person01_walking_d2.avi", "person02_walking_d2.avi"):
        _video(ok / n)
    line = _one_line_error(["--dataset", str(ok)])
    assert "person02" in line and "gallery" in line
    assert "no recording has it" in _one_line_error(["--dataset", str(ok), "--gallery-condition", "d7"])
    assert "one of them" in _one_line_error(["--dataset", str(ok), "--manifest", str(m)])


# --- the whole protocol on a rendered stand-in --------------------------------------------------


@pytest.fixture(scope="module")
def walkset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 people x 2 conditions (d1 outdoors, d3 other clothes), 5 s each at 160x120, plus a
    recording nobody walks in."""
    out = tmp_path_factory.mktemp("walkset")
    render_walkset(out, people=3, conditions=("d1", "d3"), seconds=5.0)
    _video(out / "person03_walking_d4.avi", frames=60)
    return out


def test_eval_real_on_rendered_walkers(walkset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.models import tiny_projected_checkpoint

    # the protocol's bookkeeping is under test here, not the segmenter (the background model's cut is
    # the quicker and steadier one on these rendered walkers; the learned one is checked on real video)
    monkeypatch.setenv("GAITLINE_FRAMES_SILHOUETTES", "mog2")
    cache = tmp_path / "cache"
    args = ["real", "--dataset", str(walkset), "--cache", str(cache), "--json"]
    res = CliRunner().invoke(app, [*args, "--model", "baseline", "--folds", "3"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["people"] == 3 and out["recordings"] == 7 and out["probe_conditions"] == ["d3", "d4"]
    assert out["chance"] == pytest.approx(33.33)
    fr = out["frames"]
    assert fr["cached"] == 0 and fr["with_windows"] == {"d1": 3, "d3": 3, "d4": 0}
    assert fr["no_windows"]["d4"] == ["person03_walking_d4.avi"] and "person03_walking_d4.avi" in res.output
    assert set(out["models"]) == {"baseline", "trivial"}
    base = out["models"]["baseline"]
    d4 = base["conditions"]["d4"]
    assert d4["recordings"] == 1 and d4["rank1_recording"] == 0.0 and d4["rank1_window"] is None
    assert base["halves"]["recordings"] == 3 and base["halves"]["rank1"] >= 66
    # one person per fold, one recording per condition each: the folds' mean is the whole set's
    assert [len(f) for f in out["folds"]["people"]] == [1, 1, 1]
    assert base["folds"]["mean"]["d3"] == pytest.approx(base["conditions"]["d3"]["rank1_recording"], abs=0.01)
    assert len(list(cache.glob("*.npz"))) == 7

    ckpt = tiny_projected_checkpoint(tmp_path)
    too_many = CliRunner().invoke(app, [*args, "--people", "person01,person02", "--folds", "3"])
    assert too_many.exit_code == 2 and "more folds" in too_many.output
    again = CliRunner().invoke(app, [*args, "--model", str(ckpt), "--people", "person01,person02"])
    assert again.exit_code == 0, again.output
    out2 = json.loads(again.output.strip().splitlines()[-1])
    assert out2["frames"]["cached"] == 7 and out2["frames"]["windows"] == fr["windows"]
    assert list(out2["models"]) == [str(ckpt), "baseline", "trivial"] and out2["model"] == str(ckpt)

    refused = CliRunner().invoke(app, [*args, "--model", str(ckpt), "--people", "person01", "--write-threshold"])
    assert refused.exit_code == 2 and "--people" in refused.output
    wrote = CliRunner().invoke(app, [*args, "--model", str(ckpt), "--far", "0.05", "--write-threshold"])
    assert wrote.exit_code == 0, wrote.output
    out3 = json.loads(wrote.output.strip().splitlines()[-1])
    import torch

    stored = torch.load(ckpt, weights_only=True)["meta"]["open_set"][out3["written"]["kind"]]
    fitted = out3["models"][str(ckpt)]["open_set"]
    assert stored["threshold"] == fitted["threshold"] and stored["far"] == 0.05 and stored["source"] == "real"
    assert "--write-threshold" in stored["command"] and stored["people"] == 3
    assert out2["models"][str(ckpt)]["dim"] == 8 and out2["probe_people"] == ["person01", "person02"]
    assert out2["models"][str(ckpt)]["conditions"]["d3"]["recordings"] == 2
    assert out2["models"]["baseline"]["halves"]["recordings"] == 2


def test_open_set_scores_each_probe_window_against_every_identity() -> None:
    from gait.evaluation.real_scores import fit_threshold, window_scores

    es = _set()
    gal = build_gallery(es, "d1")
    mated, strangers = window_scores(es, gal, "d1")
    assert len(mated) == 6 and len(strangers) == 6  # 6 probe windows, each against 1 own and 1 other identity
    a_vec = gal.vectors[list(gal.labels).index("a")]
    probe = es[2].windows[0]
    assert float(probe @ a_vec) == pytest.approx(mated[0])
    assert fit_threshold(strangers, 0.0) == pytest.approx(strangers.max())
    assert fit_threshold(np.zeros(0), 0.01) is None
    # only a's windows against a's identity: no stranger left among {a}
    assert len(window_scores(es, gal, "d1", {"a"})[1]) == 0


def test_the_held_out_threshold_is_fitted_on_other_people() -> None:
    from gait.evaluation.real_scores import open_set

    # four people on four axes; c's probe window leans towards d: c and d are hard to tell apart
    es = [_emb3("a", "d1", [[1, 0, 0, 0]]), _emb3("b", "d1", [[0, 1, 0, 0]]),
          _emb3("c", "d1", [[0, 0, 1, 0]]), _emb3("d", "d1", [[0, 0, 0, 1]]),
          _emb3("a", "d2", [[1, 0.1, 0, 0]]), _emb3("b", "d2", [[0.1, 1, 0, 0]]),
          _emb3("c", "d2", [[0, 0, 1, 0.9]]), _emb3("d", "d2", [[0, 0, 0.05, 1]])]
    res = open_set(es, "d1", [["a", "b"], ["c", "d"]], far=0.0)
    assert res["comparisons"] == {"mated": 4, "strangers": 12}
    assert res["threshold"] == pytest.approx(0.9 / np.hypot(1, 0.9), abs=1e-4)  # the worst stranger, c vs d
    ab, cd = res["per_fold"]
    # a and b are scored at the threshold c and d need (0.669): no false match, every true one kept
    assert ab["threshold"] == pytest.approx(0.9 / np.hypot(1, 0.9), abs=1e-4)
    assert ab["far"] == 0.0 and ab["tar"] == 1.0 and ab["strangers"] == 2
    # c and d at the threshold fitted on a and b (0.0995): c's window passes for d
    assert cd["threshold"] == pytest.approx(0.1 / np.hypot(1, 0.1), abs=1e-4)
    assert cd["far"] == 0.5 and cd["tar"] == 1.0
    assert res["held_out"] == {"far": 0.25, "tar": 1.0}


def _emb3(person: str, cond: str, vecs: list[list[float]]) -> Embedded:
    w = np.asarray(vecs, np.float32)
    w = w / np.linalg.norm(w, axis=1, keepdims=True)
    fs = np.arange(len(vecs), dtype=np.int64) * 15
    return Embedded(Recording(Path(f"{person}_walking_{cond}.avi"), person, cond), w, fs, fs + 29)
