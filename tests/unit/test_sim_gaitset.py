"""The synthetic gait dataset: seeds, silhouettes, alignment, bad parameters.

A whole subject written twice, byte for byte: tests/integration/test_sim_gaitset_determinism.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gait.dataset import align_opengait, to_64x44
from gaitline.cli.sim import app
from sim.gaitset import identity_of, make_subject, record


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_other_seed_other_bytes(tmp_path: Path) -> None:
    make_subject(1, 1, 1, tmp_path / "a", views=("090",), types=("nm-01",))
    make_subject(2, 1, 1, tmp_path / "b", views=("090",), types=("nm-01",))
    assert _digest(tmp_path / "a") != _digest(tmp_path / "b")


def test_silhouettes_are_walking_people() -> None:
    ident, everyday = identity_of(3, 7)
    seq, rec = record(ident, everyday, np.random.default_rng(0), 90.0, "nm", noise_level=0.0)
    fill = (seq > 127).mean(axis=(1, 2))  # [n]
    assert 0.12 < fill.mean() < 0.45  # a person, not a blob or a line
    widths = (seq > 127).any(axis=1).sum(axis=1)  # [n] occupied columns
    assert widths.max() - widths.min() >= 6  # legs open and close: side view shows the stride
    assert rec.fps in (15, 20, 25, 30)


def test_alignment_centres_and_scales() -> None:
    m = np.zeros((200, 120), np.uint8)
    m[20:180, 70:100] = 255
    out = align_opengait(m)
    assert out is not None and out.shape == (64, 64)
    cols = np.nonzero(out.any(axis=0))[0]
    assert abs((cols[0] + cols[-1]) / 2 - 32) <= 1.5
    assert align_opengait(np.zeros((10, 10), np.uint8)) is None


@pytest.mark.parametrize("args", [
    ["gaitset", "--subjects", "0", "--out", "X"],
    ["gaitset", "--subjects", "2", "--noise", "5", "--out", "X"],
    ["gaitset", "--subjects", "2", "--out", "/proc/forbidden/x"],
    ["city", "--cameras", "0", "--out", "X"],
    ["city", "--duration", "-5", "--out", "X"],
    ["city", "--size", "big", "--out", "X"],
    ["preview", "--subjects", "0", "--out", "X/p.png"],
])
def test_bad_parameters_exit_2(args: list[str], tmp_path: Path) -> None:
    args = [a.replace("X", str(tmp_path / "o")) if a.startswith("X") else a for a in args]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output



def test_cleanup_makes_sim_masks_break_like_the_frames_workers() -> None:
    from gait.evaluation.noisestats import summarise

    ident, everyday = identity_of(5, 2)
    seqs: dict[bool, list[np.ndarray]] = {True: [], False: []}
    for i, view in enumerate((0.0, 54.0, 90.0, 126.0, 180.0) * 2):
        for cleanup in (True, False):
            seq, _ = record(ident, everyday, np.random.default_rng(i), view, "nm", cleanup=cleanup)
            seqs[cleanup].append(to_64x44(seq))
    a, b = summarise(seqs[True]), summarise(seqs[False])
    assert a["fragments"]["p90"] < b["fragments"]["p90"]  # fewer broken-off pieces
    assert a["ragged"]["median"] < b["ragged"]["median"]  # smoother outlines, as real ones are
    assert 0.2 < a["fill"]["median"] < 0.8  # still a person, not a blob or a stick
