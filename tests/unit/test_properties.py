"""Property-based tests (hypothesis) of the codec and every schema: whatever bytes arrive, a reader either
gives back a valid message or refuses it with a SchemaError (a dead letter), quickly and in bounded memory."""

from __future__ import annotations

import contextlib
import json
import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.codec import decode_masks, decode_vector, encode_masks, encode_vector
from streams.exceptions import CodecError, SchemaError
from streams.schemas import SILHOUETTE_SHAPE, DeadLetter, Embedding, GalleryEntry, Message, Sighting, TrackletWindow
from tests.factories import dead_letter, embedding, gallery_entry, sighting, tracklet_window

SCHEMAS: tuple[type[Message], ...] = (TrackletWindow, Embedding, Sighting, GalleryEntry, DeadLetter)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _valid() -> dict[type[Message], bytes]:
    now = time.time() - 60
    return {TrackletWindow: tracklet_window(4, t0=now).to_bytes(), Embedding: embedding(t_start=now).to_bytes(),
            Sighting: sighting(t_start=now).to_bytes(), GalleryEntry: gallery_entry(created_at=now).to_bytes(),
            DeadLetter: dead_letter().to_bytes()}


VALID = _valid()


@st.composite
def masks(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(1, 12))
    kind = draw(st.sampled_from(["noise", "blocks"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "noise":
        return (rng.random((n, *SILHOUETTE_SHAPE)) > draw(st.floats(0.05, 0.95))).astype(np.uint8)
    out = np.zeros((n, *SILHOUETTE_SHAPE), np.uint8)  # silhouette-like: a few runs per row
    for t in range(n):
        top, left = int(rng.integers(0, 30)), int(rng.integers(0, 30))
        out[t, top:top + int(rng.integers(1, 34)), left:left + int(rng.integers(1, 14))] = 1
    return out


@FAST
@given(masks())
def test_masks_round_trip_exactly(m):
    np.testing.assert_array_equal(decode_masks(encode_masks(m), shape=SILHOUETTE_SHAPE, frames=m.shape[0]), m)


@FAST
@given(st.binary(max_size=400))
def test_any_bytes_decode_to_the_declared_shape_or_a_codec_error(data):
    try:
        out = decode_masks(data, shape=SILHOUETTE_SHAPE, max_frames=64)
    except CodecError:
        return
    assert out.ndim == 3 and out.shape[1:] == SILHOUETTE_SHAPE and out.shape[0] <= 64


@FAST
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=64))
def test_vectors_round_trip_or_refuse_non_finite_values(values):
    vec = np.asarray(values, np.float32)
    if not np.all(np.isfinite(vec)) or np.any(np.abs(vec) > np.finfo(np.float16).max):
        try:
            encode_vector(vec)
        except CodecError:
            return
        raise AssertionError("a non-finite vector was encoded")
    back = decode_vector(encode_vector(vec), len(values))
    np.testing.assert_allclose(back, vec.astype(np.float16).astype(np.float32))


@FAST
@given(st.sampled_from(SCHEMAS), st.binary(max_size=300))
def test_arbitrary_bytes_are_a_message_or_a_schema_error(schema, data):
    with contextlib.suppress(SchemaError):  # anything else (a crash, a MemoryError) fails the test
        assert isinstance(schema.from_bytes(data), schema)


@FAST
@given(st.sampled_from(SCHEMAS), st.data())
def test_truncated_flipped_or_padded_records_are_a_message_or_a_schema_error(schema, data):
    raw = bytearray(VALID[schema])
    how = data.draw(st.sampled_from(["truncate", "flip", "pad"]))
    if how == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
    else:
        raw += data.draw(st.binary(min_size=1, max_size=2000))
    try:
        msg = schema.from_bytes(bytes(raw))
    except SchemaError:
        return
    assert isinstance(msg, schema)


@FAST
@given(st.sampled_from(SCHEMAS), st.integers(0, 255), st.integers(-3, 1000))
def test_unknown_schema_versions_are_refused(schema, envelope, version):
    raw = VALID[schema]
    hlen = int.from_bytes(raw[3:7], "big")
    header = json.loads(raw[7:7 + hlen])
    header["v"] = version
    body = json.dumps(header).encode()
    data = raw[:2] + bytes([envelope]) + len(body).to_bytes(4, "big") + body + raw[7 + hlen:]
    if envelope == 1 and version == schema.VERSION:
        assert isinstance(schema.from_bytes(data), schema)
        return
    try:
        schema.from_bytes(data)
    except SchemaError:
        return
    raise AssertionError("an unknown version was read")


@FAST
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_time_is_accepted_only_between_the_epoch_and_the_clock_plus_its_tolerance(t):
    ok = np.isfinite(t) and 0 <= t <= time.time() + 300
    try:
        sighting(t_start=0.0, t_end=t)
    except ValueError:
        assert not ok or t > time.time() + 299  # the clock moved on while testing
        return
    assert ok
