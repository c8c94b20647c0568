import json

import numpy as np
import pytest

from streams.exceptions import SchemaError
from streams.schemas import DeadLetter, Embedding, GaitParams, GalleryEntry, Sighting, TrackletWindow, peek_schema
from tests.factories import dead_letter, embedding, gallery_entry, sighting, tracklet_window


def test_tracklet_round_trip():
    w = tracklet_window()
    back = TrackletWindow.from_bytes(w.to_bytes())
    assert back.model_dump() == w.model_dump()
    np.testing.assert_array_equal(back.silhouettes, w.silhouettes)
    assert peek_schema(w.to_bytes()) == ("tracklet", 1)


def test_tracklet_rejects_inconsistent_lengths_and_shapes():
    with pytest.raises(ValueError, match="timestamps"):
        tracklet_window(timestamps=[0.0])
    with pytest.raises(ValueError, match="64, 44"):
        tracklet_window(silhouettes=np.ones((5, 64, 64), np.uint8))


def test_nan_gait_parameters_are_refused():
    with pytest.raises(ValueError):
        GaitParams(speed_mps=float("nan"))


def _reheader(data: bytes, **changes) -> bytes:
    hlen = int.from_bytes(data[3:7], "big")
    header = json.loads(data[7:7 + hlen])
    header.update(changes)
    raw = json.dumps(header).encode()
    return data[:3] + len(raw).to_bytes(4, "big") + raw + data[7 + hlen:]


def test_unknown_version_and_wrong_schema_are_schema_errors():
    data = tracklet_window().to_bytes()
    with pytest.raises(SchemaError, match="unknown tracklet version 2"):
        TrackletWindow.from_bytes(_reheader(data, v=2))
    with pytest.raises(SchemaError, match="expected schema 'embedding'"):
        Embedding.from_bytes(data)
    with pytest.raises(SchemaError, match="quality"):
        TrackletWindow.from_bytes(_reheader(data, quality=3))
    with pytest.raises(SchemaError, match="unknown|extra"):
        TrackletWindow.from_bytes(_reheader(data, colour="red"))


@pytest.mark.parametrize("data", [None, b"", b"XX\x01\x00\x00\x00\x00", b"GL\x01\x00\x00\xff\xff{}",
                                  b"GL\x01\x00\x00\x00\x02[]", b"GL\x07\x00\x00\x00\x02{}"])
def test_broken_envelopes(data):
    with pytest.raises(SchemaError):
        TrackletWindow.from_bytes(data)


def test_other_messages_round_trip():
    vec = np.ones(8, np.float32) / np.sqrt(8)
    e = embedding(vec, foot_point=(1, 2), ground_plane=False)
    assert np.allclose(Embedding.from_bytes(e.to_bytes()).vector, vec, atol=1e-3)
    s = sighting(score=0.9, enrolled=False)
    assert Sighting.from_bytes(s.to_bytes()) == s
    g = gallery_entry(vec, model_version=None)
    assert GalleryEntry.from_bytes(g.to_bytes()).identity_id == "p-1"
    d = dead_letter(reason="bad", source_topic="t", offset=5, original=b"\x00raw")
    back = DeadLetter.from_bytes(d.to_bytes())
    assert back.original == b"\x00raw" and back.reason == "bad" and back.offset == 5


def test_embedding_dim_must_match_payload():
    e = embedding(np.ones(8))
    with pytest.raises(SchemaError, match="expected 32"):
        Embedding.from_bytes(_reheader(e.to_bytes(), dim=16))


def test_a_tracklet_whose_payload_header_disagrees_with_its_declared_frames_is_refused_before_decoding():
    import struct

    w = tracklet_window(5)
    data = w.to_bytes()
    hlen = int.from_bytes(data[3:7], "big")
    bomb = data[:7 + hlen] + struct.pack(">BHHH", 2, 4096, 64, 44) + b"x" * 16
    with pytest.raises(SchemaError, match="declare"):
        TrackletWindow.from_bytes(bomb)


@pytest.mark.parametrize("bad", [1e12, -5.0, float("nan"), float("inf")])
def test_times_far_in_the_future_negative_or_not_numbers_are_refused(bad):
    import time

    good = tracklet_window(3, t0=time.time() - 10).to_bytes()
    hlen = int.from_bytes(good[3:7], "big")
    header = json.loads(good[7:7 + hlen])
    header["timestamps"][1] = bad
    raw = json.dumps(header).encode()  # json writes NaN and Infinity, and Python's reader takes them
    with pytest.raises(SchemaError, match="timestamps"):
        TrackletWindow.from_bytes(good[:3] + len(raw).to_bytes(4, "big") + raw + good[7 + hlen:])
    for make, field in ((embedding, "t_end"), (sighting, "t_end"), (gallery_entry, "updated_at")):
        with pytest.raises(ValueError, match=field):
            make(**{field: bad})


def test_the_clock_skew_tolerance_is_a_setting(monkeypatch):
    import time

    from streams.settings import clock_skew_s

    assert clock_skew_s() == 300.0
    soon = time.time() + 120
    sighting(t_end=soon)  # within the default five minutes
    monkeypatch.setenv("GAITLINE_STREAMS_MAX_CLOCK_SKEW_S", "60")
    clock_skew_s.cache_clear()
    try:
        with pytest.raises(ValueError, match="t_end"):
            sighting(t_end=soon)
    finally:
        monkeypatch.undo()
        clock_skew_s.cache_clear()
