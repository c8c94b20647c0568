"""A store that is away or refuses a row is counted by kind, and the error still reaches the runner
(which keeps the batch or dead-letters the row: tests/unit/test_batch_runner.py)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from store.exceptions import StoreRefused, StoreUnavailable
from streams.agents import Record
from tests.factories import sighting
from workers.track.agent import SightingWriter
from workers.track.metrics import TrackMetrics


class _Store:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def add_sightings(self, sightings):  # type: ignore[no-untyped-def]
        raise self.exc


@pytest.mark.parametrize("exc, kind", [(StoreUnavailable("connection refused"), "unavailable"),
                                       (StoreRefused("value too long"), "refused")])
def test_store_errors_are_counted_by_kind_and_raised(exc: Exception, kind: str) -> None:
    registry = CollectorRegistry()
    metrics = TrackMetrics(registry)
    writer = SightingWriter(_Store(exc), metrics)  # type: ignore[arg-type]
    rec = Record(b"p-1", sighting().to_bytes(), "sightings.v1", 0, 1)
    with pytest.raises(type(exc)):
        writer([rec])
    value = registry.get_sample_value("gaitline_track_store_errors_total", {"kind": kind})
    other = registry.get_sample_value("gaitline_track_store_errors_total",
                                      {"kind": "refused" if kind == "unavailable" else "unavailable"})
    assert value == 1.0 and other == 0.0  # both series exist from the start
