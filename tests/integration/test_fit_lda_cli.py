"""`gaitline fit-lda` end to end: a projected checkpoint fitted on simulated people, and its one-line errors
from a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gait.model.checkpoint import load_checkpoint, save_checkpoint
from gait.model.network import GaitModel, profile_config
from gait.model.projection import fit_lda, projection_features, reading
from sim.gaitset import make_subject

pytestmark = pytest.mark.integration

torch.set_num_threads(1)


def test_fit_lda_cli_writes_a_projected_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gaitline.cli.train
    from gaitline.cli.main import app

    monkeypatch.setattr(gaitline.cli.train, "FIT_PEOPLE_PER_PASS", 3)  # two passes: 3 people, then 1

    views, types = ("000", "090"), ("nm-01", "nm-02", "bg-01")
    people = tmp_path / "seed9"
    for s in (1, 2, 3, 4):
        make_subject(9, s, 4, people, views=views, types=types)
    base = tmp_path / "base.pt"
    torch.manual_seed(0)
    save_checkpoint(base, GaitModel(profile_config("tiny", num_classes=5)).eval(),
                    meta={"dataset": str(tmp_path / "trainset")})
    out = tmp_path / "lda.pt"
    runner = CliRunner()
    res = runner.invoke(app, ["fit-lda", "--model", str(base), "--dataset", str(people), "--out", str(out),
                              "--dims", "3", "--shrink", "1.0", "--frames", "3"])
    assert res.exit_code == 0, res.output
    ck = load_checkpoint(out, device="cpu")
    assert ck.config.projection_dim == 3 and ck.meta["projection"]["people"] == 4
    assert ck.meta["projection"]["sequences"] == 4 * 2 * 3 and ck.meta["dataset"] == str(tmp_path / "trainset")
    assert ck.meta["projection"]["frames"] == 3
    # the fitted map is the one fit_lda computes on the same features (by default the pyramid,
    # max, mean and std over the first 3 frames, window and mirror, square roots), embedded in one pass
    base_ck = load_checkpoint(base, device="cpu")
    from gaitline.cli.train import load_split

    arrays, subj, _ = load_split(people, 0, max_frames=3)
    assert {len(a) for a in arrays} == {3}
    feats = projection_features(reading(base_ck.model, "pyramid", mirror=True, frame_mean=True, frame_std=True,
                                        power=0.5), arrays)
    want = fit_lda(feats, [f"0-{s}" for s in subj], dims=3, shrink=1.0)
    cfg = ck.config
    assert cfg.projection_input == "pyramid" and cfg.projection_mirror and cfg.projection_frame_mean
    assert cfg.projection_frame_std and ck.meta["projection"]["frame_std"]
    assert cfg.projection_power == 0.5 and ck.meta["projection"]["power"] == 0.5
    assert np.allclose(ck.model.projection.weight.numpy(), want.weight, atol=1e-4)  # type: ignore[union-attr]
    # people who trained the model, or more directions than people allow: one-line errors, exit 2
    (tmp_path / "trainset").mkdir()
    for args, needle in ((["--dataset", str(tmp_path / "trainset")], "never saw"),
                         (["--dataset", str(people), "--dims", "9"], "identities - 1"),
                         (["--dataset", str(people), "--input", "bnneck"], "pyramid or strips")):
        proc = subprocess.run([sys.executable, "-m", "gaitline", "fit-lda", "--model", str(base),
                               "--out", str(tmp_path / "x.pt"), *args], capture_output=True, text=True, timeout=300)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and needle in lines[0], proc.stderr
    assert not (tmp_path / "x.pt").exists()
