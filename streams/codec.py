"""Compact payload codecs: bit-packed silhouette windows and float16 vectors.

A 30-frame window of 64x44 binary masks is 84 KB as uint8 and 10.3 KB bit-packed.
Consecutive silhouettes of a walker differ only at the limbs' edges, so each frame is
XOR-ed with the previous one before zstd: the deltas are mostly zero bytes and compress
several-fold further (the wire target is <= 3 KB per window).
"""

from __future__ import annotations

import struct

import numpy as np
import zstandard

from streams.exceptions import CodecError

_MASK_HEADER = struct.Struct(">BHHH")  # codec version, frames, height, width
_MASK_CODEC_VERSION = 1
_MAX_FRAMES = 4096
_MAX_SIDE = 1024
_ZSTD_LEVEL = 9

_compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)
_decompressor = zstandard.ZstdDecompressor()


def encode_masks(masks: np.ndarray) -> bytes:
    """Encode a window of binary silhouettes.

    Args:
        masks: array ``[n, h, w]``; any non-zero pixel counts as foreground.

    Returns:
        The compressed bytes; :func:`decode_masks` gives back a ``uint8`` 0/1 array.
    """
    if masks.ndim != 3:
        raise CodecError(f"silhouette window must be [n, h, w], got shape {masks.shape}")
    n, h, w = masks.shape
    if not (0 < n <= _MAX_FRAMES and 0 < h <= _MAX_SIDE and 0 < w <= _MAX_SIDE):
        raise CodecError(f"silhouette window shape {masks.shape} out of range")
    bits = np.packbits(masks.reshape(n, h * w) != 0, axis=1)  # [n, ceil(h*w/8)]
    delta = bits.copy()
    delta[1:] ^= bits[:-1]  # temporal XOR: static body parts become zero bytes
    return _MASK_HEADER.pack(_MASK_CODEC_VERSION, n, h, w) + _compressor.compress(delta.tobytes())


def decode_masks(data: bytes) -> np.ndarray:
    """Decode bytes written by :func:`encode_masks` into a ``uint8`` array ``[n, h, w]`` of 0/1."""
    if len(data) < _MASK_HEADER.size:
        raise CodecError("silhouette payload shorter than its header")
    version, n, h, w = _MASK_HEADER.unpack_from(data)
    if version != _MASK_CODEC_VERSION:
        raise CodecError(f"unknown silhouette codec version {version}")
    if not (0 < n <= _MAX_FRAMES and 0 < h <= _MAX_SIDE and 0 < w <= _MAX_SIDE):
        raise CodecError(f"silhouette header shape ({n}, {h}, {w}) out of range")
    row = (h * w + 7) // 8
    try:
        raw = _decompressor.decompress(data[_MASK_HEADER.size :], max_output_size=n * row)
    except zstandard.ZstdError as exc:
        raise CodecError(f"silhouette payload does not decompress: {exc}") from exc
    if len(raw) != n * row:
        raise CodecError(f"silhouette payload has {len(raw)} bytes, expected {n * row}")
    delta = np.frombuffer(raw, dtype=np.uint8).reshape(n, row)
    bits = np.bitwise_xor.accumulate(delta, axis=0)  # undo the temporal XOR
    return np.unpackbits(bits, axis=1, count=h * w).reshape(n, h, w)


def encode_vector(vec: np.ndarray) -> bytes:
    """Encode a 1-D embedding as little-endian float16 (half the bytes, ample precision)."""
    if vec.ndim != 1 or vec.size == 0:
        raise CodecError(f"vector must be 1-D and non-empty, got shape {vec.shape}")
    if not np.all(np.isfinite(vec)):
        raise CodecError("vector has NaN or infinite values")
    return vec.astype("<f2").tobytes()


def decode_vector(data: bytes, dim: int) -> np.ndarray:
    """Decode a float16 vector of ``dim`` values into float32."""
    if len(data) != 2 * dim:
        raise CodecError(f"vector payload has {len(data)} bytes, expected {2 * dim} for dim {dim}")
    vec = np.frombuffer(data, dtype="<f2").astype(np.float32)
    if not np.all(np.isfinite(vec)):
        raise CodecError("vector has NaN or infinite values")
    return vec
