"""Silhouette-breakage statistics on shapes whose answers are known."""

import numpy as np
import pytest

from gait.evaluation.noisestats import frame_stats, sequence_stats, summarise


def _body() -> np.ndarray:
    m = np.zeros((64, 44), np.uint8)
    m[4:60, 14:30] = 1  # a 56 x 16 block
    return m


def test_clean_block_is_full_smooth_whole() -> None:
    st = frame_stats(_body())
    assert st is not None
    assert st["fill"] == 1.0 and st["ragged"] == 0.0 and st["holes"] == 0.0 and st["fragments"] == 1.0
    assert st["aspect"] == pytest.approx(16 / 56)


def test_holes_fragments_and_ragged_edges_are_counted() -> None:
    m = _body()
    m[20:26, 18:24] = 0  # an enclosed hole of 36 px
    m[62:64, 0:3] = 1  # a detached speck
    st = frame_stats(m)
    assert st is not None
    assert st["holes"] == pytest.approx(36 / m.sum()) and st["fragments"] == 2.0
    rag = _body()
    rag[10:50:2, 30] = 1  # single-pixel spikes along one edge
    st_rag = frame_stats(rag)
    assert st_rag is not None and st_rag["ragged"] > 0.01
    assert frame_stats(np.zeros((64, 44), np.uint8)) is None


def test_flicker_and_summary() -> None:
    a, b = _body(), np.roll(_body(), 4, axis=1)
    rows = sequence_stats(np.stack([a, a, b]))
    assert "flicker" not in rows[0] and rows[1]["flicker"] == 0.0
    assert rows[2]["flicker"] == pytest.approx(1 - 12 / 20)  # 12 of 20 columns overlap
    s = summarise([np.stack([a, a, b])])
    assert s["frames"]["n"] == 3 and s["fill"]["median"] == 1.0
