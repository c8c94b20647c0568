"""The shared message builders (tests/factories.py): valid on the wire, ids following their overrides."""

import numpy as np

from streams.schemas import DeadLetter, Embedding, GalleryEntry, Sighting, TrackletWindow
from tests.factories import dead_letter, embedding, gallery_entry, sighting, tracklet_window


def test_every_builder_makes_a_message_that_survives_the_wire() -> None:
    for message, cls in ((tracklet_window(), TrackletWindow), (embedding(), Embedding), (sighting(), Sighting),
                         (gallery_entry(), GalleryEntry), (dead_letter(), DeadLetter)):
        back = cls.from_bytes(message.to_bytes())
        assert back.model_dump() == message.model_dump(), cls.__name__


def test_derived_fields_follow_the_overrides() -> None:
    w = tracklet_window(30, t0=100.0, camera_id="cam2", track_id=7, frame_start=45)
    assert (w.window_id, w.frame_end, len(w.boxes), w.timestamps[-1]) == ("cam2/7/45", 74, 30, 102.9)
    e = embedding([3, 4], camera_id="cam2", track_id=7, t_start=10.0)
    assert (e.window_id, e.t_end, e.dim) == ("cam2/7/0", 13.0, 2) and np.allclose(e.vector, [0.6, 0.8])
    assert sighting(t_start=5.0, sighting_id="w9").t_end == 8.0
    g = gallery_entry(seed=3, created_at=7.0)
    assert g.updated_at == 7.0 and np.isclose(np.linalg.norm(g.vector), 1.0)
    assert not np.allclose(g.vector, gallery_entry(seed=4).vector)
