import numpy as np
import pytest

from streams.codec import decode_masks, decode_vector, encode_masks, encode_vector
from streams.exceptions import CodecError


def test_masks_round_trip_exactly():
    rng = np.random.default_rng(0)
    masks = (rng.random((30, 64, 44)) > 0.6).astype(np.uint8)
    out = decode_masks(encode_masks(masks))
    assert out.shape == (30, 64, 44) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, masks)


def test_masks_nonbinary_input_counts_nonzero_as_foreground():
    masks = np.zeros((2, 64, 44), np.uint8)
    masks[0, 3, 4] = 255
    masks[1, 5, 6] = 7
    out = decode_masks(encode_masks(masks))
    assert out[0, 3, 4] == 1 and out[1, 5, 6] == 1 and out.sum() == 2


def test_walking_silhouettes_are_compact():
    masks = np.zeros((30, 64, 44), np.uint8)
    for t in range(30):
        masks[t, 2:40, 15:29] = 1
        s = int(5 * abs(np.sin(t / 3)))
        masks[t, 40:64, 17 - s:21 - s] = 1
        masks[t, 40:64, 23 + s:27 + s] = 1
    assert len(encode_masks(masks)) < 3000  # raw would be 84,480 bytes


@pytest.mark.parametrize("bad", [b"", b"\x01\x00", b"\x09\x00\x01\x00\x40\x00\x2c" + b"x" * 10,
                                 b"\x01\x00\x02\x00\x40\x00\x2c" + b"not zstd"])
def test_masks_reject_broken_payloads(bad):
    with pytest.raises(CodecError):
        decode_masks(bad)


def test_masks_reject_bad_shapes():
    with pytest.raises(CodecError):
        encode_masks(np.zeros((64, 44), np.uint8))
    with pytest.raises(CodecError):
        encode_masks(np.zeros((0, 64, 44), np.uint8))


def test_vector_round_trip_and_errors():
    v = np.linspace(-1, 1, 256).astype(np.float32)
    back = decode_vector(encode_vector(v), 256)
    np.testing.assert_allclose(back, v, atol=1e-3)
    with pytest.raises(CodecError):
        decode_vector(encode_vector(v), 128)
    with pytest.raises(CodecError):
        encode_vector(np.array([1.0, np.nan], np.float32))


def _bomb_v1() -> bytes:
    """A few hundred bytes whose header asks for 4096 frames of 1024x1024 (a 512 MB output buffer)."""
    import struct

    import zstandard

    body = zstandard.ZstdCompressor(level=19, write_content_size=False).compress(bytes(1 << 20))
    return struct.pack(">BHHH", 1, 4096, 1024, 1024) + body


def test_a_decode_bomb_is_refused_by_its_declared_shape_before_anything_is_allocated():
    import tracemalloc

    bomb = _bomb_v1()
    assert len(bomb) < 1024
    tracemalloc.start()
    try:
        with pytest.raises(CodecError, match="declare"):
            decode_masks(bomb, shape=(64, 44), max_frames=256)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"decoding a refused header allocated {peak / 1e6:.0f} MB"


def test_a_runs_bomb_is_refused_too():
    import struct

    header = struct.pack(">BHHH", 2, 4096, 1024, 254)
    with pytest.raises(CodecError, match="declare"):
        decode_masks(header + b"\x28\xb5\x2f\xfd" + b"\x00" * 20, shape=(64, 44), max_frames=256)
    with pytest.raises(CodecError, match="declare"):
        decode_masks(struct.pack(">BHHH", 2, 300, 64, 44) + b"x", shape=(64, 44), max_frames=256)
