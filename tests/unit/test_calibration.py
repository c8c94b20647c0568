"""Open-set thresholds travel in the checkpoint's metadata and the identity service reads them there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import gait.model.calibration as cal
from gait.exceptions import CheckpointError
from gait.model.checkpoint import load_checkpoint, save_checkpoint
from gait.model.network import GaitModel, profile_config
from gaitline.cli.eval import app
from index.matcher import DEFAULT_THRESHOLD, IdentityMatcher, threshold_for
from index.settings import IndexSettings
from sim.gaitset import make_subject


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of shipped checkpoints holding one uncalibrated ``tiny.pt``."""
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tiny.pt", GaitModel(profile_config("tiny", num_classes=5)).eval(), meta={"step": 3})
    monkeypatch.setattr(cal, "CHECKPOINT_DIR", tmp_path)
    return tmp_path / "tiny.pt"


def test_an_uncalibrated_model_falls_back_and_a_written_threshold_is_read(shipped: Path) -> None:
    assert cal.calibrated_threshold("tiny") is None
    assert threshold_for("tiny") == DEFAULT_THRESHOLD
    before = load_checkpoint(shipped).model.state_dict()
    kind = cal.kind_of("tiny", torch.load(shipped, weights_only=True))
    cal.write_calibration(shipped, kind, {"threshold": 0.42, "far": 0.001, "command": "gaitline eval threshold"})
    assert cal.calibrated_threshold("tiny") == 0.42
    assert threshold_for("tiny") == 0.42 and threshold_for("tiny", override=0.9) == 0.9
    assert IdentityMatcher(IndexSettings()).threshold("tiny") == 0.42
    # another kind of vector from the same file is not calibrated by it
    other = "bnneck" if kind != "bnneck" else "strips"
    assert cal.calibrated_threshold(f"tiny+{other}") is None
    after = load_checkpoint(shipped)
    assert after.meta["step"] == 3 and after.meta["open_set"][kind]["far"] == 0.001
    assert all(torch.equal(before[k], v) for k, v in after.model.state_dict().items())


def test_a_bad_calibration_is_refused(shipped: Path) -> None:
    with pytest.raises(CheckpointError, match="threshold"):
        cal.write_calibration(shipped, "lda", {"threshold": 3.0})
    with pytest.raises(CheckpointError, match="kind"):
        cal.write_calibration(shipped, "pixels", {"threshold": 0.5})


def test_names_without_a_shipped_checkpoint_are_uncalibrated() -> None:
    assert cal.calibrated_threshold("checkpoint:my-run") is None
    assert cal.calibrated_threshold("no-such-model") is None
    assert cal.calibrated_threshold("gei-baseline") is not None  # a training-free model states its own
    assert cal.calibrated_threshold("baseline") == cal.calibrated_threshold("gei-baseline")  # by registry name too


def test_the_shipped_default_carries_its_threshold_and_how_it_was_measured() -> None:
    record = cal.calibration("default")
    assert record is not None, "gait/checkpoints/default.pt has no open-set calibration"
    assert -1.0 < record["threshold"] < 1.0
    # fitted on real strangers (gaitline eval real --write-threshold), with what it does on held-out people
    assert record["far"] > 0 and record["source"] == "real" and "eval real" in record["command"]
    assert record["held_out"]["far"] >= 0 and record["comparisons"]["strangers"] > 1000
    assert "eval threshold" in record["replaced"]["command"]  # the simulator's calibration it replaced


def test_eval_threshold_write_stores_what_it_measured(shipped: Path) -> None:
    data = shipped.parent / "data"
    for s in (1, 2, 3):
        make_subject(4, s, 3, data, views=("000", "090"), types=("nm-01", "nm-02"))
    res = CliRunner().invoke(app, ["threshold", "--dataset", str(data), "--model", str(shipped), "--window", "8",
                                   "--far", "0.2", "--write", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    kind = out["written"]["kind"]
    stored = torch.load(shipped, weights_only=True)["meta"]["open_set"][kind]
    assert stored["threshold"] == out["threshold"] and stored["far"] == 0.2
    assert "--write" in stored["command"] and stored["windows"] == out["windows"]
