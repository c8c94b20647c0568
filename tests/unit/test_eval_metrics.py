"""Recognition metrics on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np

from gait.evaluation.metrics import (
    Split,
    exclude_identical,
    mean_average_precision,
    open_set,
    rank1_by_view,
    tpir_at_fpir,
)


def _unit(v: list[list[float]]) -> np.ndarray:
    a = np.asarray(v, np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_rank1_table_and_identical_view_exclusion() -> None:
    # gallery: subjects a, b in views 000 and 090
    g = Split(_unit([[1, 0], [0, 1], [1, 0.1], [0.1, 1]]), np.array(["a", "b", "a", "b"]),
              np.array(["000", "000", "090", "090"]))
    # probe a@000 correct; probe b@090 looks like a (wrong)
    p = Split(_unit([[1, 0.05], [1, 0.0]]), np.array(["a", "b"]), np.array(["000", "090"]))
    t = rank1_by_view(p, g, ["000", "090"])
    assert np.allclose(t, [[1.0, 1.0], [0.0, 0.0]])
    assert np.allclose(exclude_identical(t), [1.0, 0.0])


def test_map_known_value() -> None:
    g = Split(_unit([[1, 0], [0.9, 0.1], [0, 1]]), np.array(["a", "b", "a"]), np.array(["018", "018", "018"]))
    p = Split(_unit([[1, 0]]), np.array(["a"]), np.array(["000"]))
    # ranking: a (rel), b, a (rel) -> AP = (1/1 + 2/3) / 2
    assert abs(mean_average_precision(p, g) - (1 + 2 / 3) / 2) < 1e-9
    # same-view gallery is excluded: nothing left to rank
    assert np.isnan(mean_average_precision(Split(p.emb, p.labels, np.array(["018"])), g))


def test_tpir_at_fpir_threshold() -> None:
    nonmated = np.linspace(0.0, 0.99, 100)  # the best impostor scores 0.99, next 0.98
    mated = np.array([0.995, 0.985, 0.5, 0.999])
    correct = np.array([True, True, True, False])
    # FPIR 1 % allows one of 100 non-mated above threshold -> threshold just above 0.98
    assert tpir_at_fpir(mated, correct, nonmated, 0.01) == 0.5
    # FPIR 0: threshold above 0.99 -> only 0.995 (correct) passes; 0.999 is the wrong identity
    assert tpir_at_fpir(mated, correct, nonmated, 0.0) == 0.25
    assert tpir_at_fpir(mated, correct, nonmated, 0.5) == 0.75


def test_open_set_perfect_separation() -> None:
    g = Split(_unit([[1, 0, 0], [0, 1, 0]]), np.array(["a", "b"]), np.array(["000", "000"]))
    p = Split(_unit([[1, 0, 0.1], [0, 1, 0.1], [0, 0, 1]]), np.array(["a", "b", "c"]), np.array(["090"] * 3))
    assert open_set(p, g, {"a", "b"}) == 1.0
