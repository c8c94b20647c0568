import json

import numpy as np
import pytest

from streams.exceptions import SchemaError
from streams.schemas import (
    DeadLetter,
    Embedding,
    GaitParams,
    GalleryEntry,
    Sighting,
    TrackletWindow,
    peek_schema,
)


def window(**over):
    n = over.pop("n", 5)
    args = dict(window_id="c/1/0", camera_id="c", track_id=1, region="r", frame_start=0, frame_end=n - 1,
                timestamps=[float(i) for i in range(n)], foot_points=[(0.0, 1.0)] * n, ground_plane=True,
                boxes=[(1, 2, 3, 4)] * n, quality=0.9, gait=GaitParams(cadence_spm=110.0),
                silhouettes=np.ones((n, 64, 44), np.uint8))
    args.update(over)
    return TrackletWindow(**args)


def test_tracklet_round_trip():
    w = window()
    back = TrackletWindow.from_bytes(w.to_bytes())
    assert back.model_dump() == w.model_dump()
    np.testing.assert_array_equal(back.silhouettes, w.silhouettes)
    assert peek_schema(w.to_bytes()) == ("tracklet", 1)


def test_tracklet_rejects_inconsistent_lengths_and_shapes():
    with pytest.raises(ValueError, match="timestamps"):
        window(timestamps=[0.0])
    with pytest.raises(ValueError, match="64, 44"):
        window(silhouettes=np.ones((5, 64, 64), np.uint8))


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
    data = window().to_bytes()
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
    e = Embedding(window_id="w", camera_id="c", track_id=1, region="r", t_start=1, t_end=2, foot_point=(1, 2),
                  ground_plane=False, quality=1, gait=GaitParams(), model="m", model_version="1", dim=8, vector=vec)
    assert np.allclose(Embedding.from_bytes(e.to_bytes()).vector, vec, atol=1e-3)
    s = Sighting(sighting_id="w", identity_id="p-1", camera_id="c", track_id=1, region="r", t_start=1, t_end=2,
                 x=0, y=0, ground_plane=True, score=0.9, enrolled=False, model="m", gait=GaitParams())
    assert Sighting.from_bytes(s.to_bytes()) == s
    g = GalleryEntry(identity_id="p-1", op="enrol", model="m", dim=8, n_sightings=1, created_at=1, updated_at=1,
                     vector=vec)
    assert GalleryEntry.from_bytes(g.to_bytes()).identity_id == "p-1"
    d = DeadLetter(stage="embed", reason="bad", source_topic="t", partition=0, offset=5, original=b"\x00raw")
    back = DeadLetter.from_bytes(d.to_bytes())
    assert back.original == b"\x00raw" and back.reason == "bad" and back.offset == 5


def test_embedding_dim_must_match_payload():
    vec = np.ones(8, np.float32)
    e = Embedding(window_id="w", camera_id="c", track_id=1, region="r", t_start=1, t_end=2, foot_point=(1, 2),
                  ground_plane=False, quality=1, gait=GaitParams(), model="m", model_version="1", dim=8, vector=vec)
    with pytest.raises(SchemaError, match="expected 32"):
        Embedding.from_bytes(_reheader(e.to_bytes(), dim=16))
