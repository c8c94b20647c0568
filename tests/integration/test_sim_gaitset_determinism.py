"""`gaitline sim gaitset`: the same seed writes the same bytes, in the CASIA-B layout (a whole subject, twice)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gait.dataset import TYPES, VIEWS, load_sequence, scan, to_64x44
from gaitline.cli.sim import app

pytestmark = pytest.mark.integration


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_and_layout(tmp_path: Path) -> None:
    r = CliRunner()
    for d in ("a", "b"):
        res = r.invoke(app, ["gaitset", "--subjects", "1", "--seed", "5", "--out", str(tmp_path / d), "--workers", "1"])
        assert res.exit_code == 0, res.output
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a == b
    assert len([k for k in a if k.endswith(".npz")]) == len(TYPES) * len(VIEWS)
    seqs = scan(tmp_path / "a")
    assert {s.type for s in seqs} == set(TYPES) and {s.view for s in seqs} == set(VIEWS)
    arr = load_sequence(seqs[0].path)
    assert arr.dtype == np.uint8 and arr.shape[1:] == (64, 64) and arr.shape[0] >= 20
    assert to_64x44(arr).shape[1:] == (64, 44)
    man = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert man["subjects"] == 1 and len(man["sequences"]) == 110
