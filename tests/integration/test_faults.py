"""The short fault suite (``gaitline bench faults --short``): kill -9 of the index and the track stage, and a
PostgreSQL crash, while windows flow through the real broker and a real PostgreSQL; nothing lost or doubled."""

from __future__ import annotations

import pytest

from bench.faults import SHORT, run_faults

pytestmark = pytest.mark.integration


def test_short_fault_suite_loses_nothing_and_doubles_nothing():
    result = run_faults(SHORT, windows=30, rate=10.0, model="baseline", seed=0)
    per = result["faults"]
    assert list(per) == list(SHORT)
    for name, f in per.items():
        assert f["injected"], name
        assert f["lost"] == 0 and f["duplicates"] == 0, (name, f)
        assert f["gallery_miscounted"] == 0, (name, f)  # no window matched twice after a restart
        assert f["survived"], (name, f)
    # a window the index read again after its kill keeps its first decision: it is not published twice
    assert per["kill9_index"]["redelivered"]["sightings"] == 0, per["kill9_index"]
    assert result["faults_survived"] == result["faults_injected"] == len(SHORT) - 1
    assert result["lost"] == 0 and result["duplicates"] == 0 and result["deadlettered"] == 0
