"""Compact payload codecs: bit-packed silhouette windows and float16 vectors.

A 30-frame window of 64x44 binary masks is 84 KB as uint8 and 10.3 KB bit-packed.
Consecutive silhouettes of a walker differ only at the limbs' edges, so each frame is
XOR-ed with the previous one before zstd: the deltas are mostly zero bytes and compress
several-fold further (the wire target is <= 3 KB per window).

Codec version 2 (what :func:`encode_masks` writes for silhouette-like masks) stores each row
as its run boundaries instead of bits: a silhouette row is one or two runs (body, or two legs),
and a boundary is predicted by the same boundary one row up (body outlines are smooth), so the
residuals are mostly -1, 0 or +1. At 10 fps, where consecutive frames differ a lot, this is
much smaller than version 1 (``gaitline bench frames`` reports bytes per window,
``bench/results/frames.json``). Noise-like masks, where runs are short, still get version 1.
Both versions decode.
"""

from __future__ import annotations

import base64
import binascii
import struct

import numpy as np
import zstandard

from streams.exceptions import CodecError

_MASK_HEADER = struct.Struct(">BHHH")  # codec version, frames, height, width
_MASK_CODEC_VERSION = 1
_MASK_CODEC_RUNS = 2
_MAX_FRAMES = 4096
_MAX_SIDE = 1024
_ZSTD_LEVEL = 9
_F16_MAX = float(np.finfo(np.float16).max)
_ZSTD_LEVEL_RUNS = 15  # smaller than level 9 for a little more time a window; 19 gains little for twice the time

_compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)
_compressor_runs = zstandard.ZstdCompressor(level=_ZSTD_LEVEL_RUNS)
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
    runs = _encode_runs(masks != 0) if w < 255 else None
    if runs is not None and len(runs) <= n * h * w // 32:
        return runs  # well under what bits could reach: skip the second encoding
    bits = np.packbits(masks.reshape(n, h * w) != 0, axis=1)  # [n, ceil(h*w/8)]
    delta = bits.copy()
    delta[1:] ^= bits[:-1]  # temporal XOR: static body parts become zero bytes
    packed = _MASK_HEADER.pack(_MASK_CODEC_VERSION, n, h, w) + _compressor.compress(delta.tobytes())
    return runs if runs is not None and len(runs) < len(packed) else packed


def decode_masks(data: bytes, shape: tuple[int, int] | None = None, max_frames: int | None = None,
                 frames: int | None = None) -> np.ndarray:
    """Decode bytes written by :func:`encode_masks` into a ``uint8`` array ``[n, h, w]`` of 0/1.

    The payload's header is checked against what the caller declares *before* anything is
    decompressed or allocated, so a sub-kilobyte record cannot ask for gigabytes.

    Args:
        data: the payload.
        shape: the ``(h, w)`` every frame must have (e.g. ``(64, 44)``), or None for any up to 1024.
        max_frames: the most frames accepted, or None for the codec's own limit (4096).
        frames: the exact number of frames the message declares elsewhere (e.g. its timestamps), or None.
    """
    if len(data) < _MASK_HEADER.size:
        raise CodecError("silhouette payload shorter than its header")
    version, n, h, w = _MASK_HEADER.unpack_from(data)
    if version not in (_MASK_CODEC_VERSION, _MASK_CODEC_RUNS):
        raise CodecError(f"unknown silhouette codec version {version}")
    if not (0 < n <= _MAX_FRAMES and 0 < h <= _MAX_SIDE and 0 < w <= _MAX_SIDE):
        raise CodecError(f"silhouette header shape ({n}, {h}, {w}) out of range")
    if shape is not None and (h, w) != tuple(shape):
        raise CodecError(f"silhouette header shape ({n}, {h}, {w}) is not the declared "
                         f"{shape[0]}x{shape[1]}: refused before decoding")
    if max_frames is not None and n > max_frames:
        raise CodecError(f"silhouette header declares {n} frames, more than the {max_frames} allowed: "
                         "refused before decoding")
    if frames is not None and n != frames:
        raise CodecError(f"silhouette header declares {n} frames but the message declares {frames}: "
                         "refused before decoding")
    if version == _MASK_CODEC_RUNS:
        return _decode_runs(data[_MASK_HEADER.size :], n, h, w)
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


def _encode_runs(fg: np.ndarray) -> bytes | None:
    """Version 2 of a bool window ``[n, h, w]`` (w < 255), or None when runs would not pay."""
    n, h, w = fg.shape
    pad = np.zeros((n, h, w + 2), dtype=np.int8)  # [n, h, w + 2]
    pad[:, :, 1:-1] = fg
    edge = np.diff(pad, axis=2) != 0  # [n, h, w + 1] run boundaries
    cnt = edge.sum(axis=2)  # [n, h], always even
    total = int(cnt.sum())
    if total > n * h * w // 4 or int(cnt.max()) // 2 > 255:
        return None  # noise-like: the bit-packed version is smaller
    k_max = max(int(cnt.max()), 1)
    f, r, p = np.nonzero(edge)  # row-major: boundaries of a row come out in order
    starts = np.concatenate(([0], np.cumsum(cnt.ravel())[:-1]))
    k = np.arange(total) - np.repeat(starts, cnt.ravel())
    pos = np.zeros((n, h, k_max), dtype=np.int16)  # [n, h, k] boundary columns
    pos[f, r, k] = p
    same = np.zeros((n, h), dtype=bool)  # [n, h] the row above has as many boundaries
    same[:, 1:] = cnt[:, 1:] == cnt[:, :-1]
    pred = np.zeros_like(pos)
    pred[:, 1:] = np.where(same[:, 1:, None], pos[:, :-1], 0)
    res = ((pos - pred) & 0xFF).astype(np.uint8)[np.arange(k_max) < cnt[..., None]]  # [total]
    body = (cnt // 2).astype(np.uint8).tobytes() + res.tobytes()
    return _MASK_HEADER.pack(_MASK_CODEC_RUNS, n, h, w) + _compressor_runs.compress(body)


def _decode_runs(data: bytes, n: int, h: int, w: int) -> np.ndarray:
    """Inverse of :func:`_encode_runs`; :class:`CodecError` on any inconsistency."""
    limit = n * h * (1 + w + 1)
    try:
        raw = _decompressor.decompress(data, max_output_size=limit)
    except zstandard.ZstdError as exc:
        raise CodecError(f"silhouette payload does not decompress: {exc}") from exc
    if len(raw) < n * h:
        raise CodecError("silhouette run payload is shorter than its run counts")
    cnt = 2 * np.frombuffer(raw, dtype=np.uint8, count=n * h).astype(np.int64).reshape(n, h)  # [n, h]
    total = int(cnt.sum())
    if len(raw) != n * h + total:
        raise CodecError(f"silhouette run payload has {len(raw) - n * h} boundaries, expected {total}")
    k_max = max(int(cnt.max()), 1)
    valid = np.arange(k_max) < cnt[..., None]  # [n, h, k]
    res = np.zeros((n, h, k_max), dtype=np.int16)
    res[valid] = np.frombuffer(raw, dtype=np.uint8, offset=n * h)
    same = np.zeros((n, h), dtype=bool)
    same[:, 1:] = cnt[:, 1:] == cnt[:, :-1]
    # each row is predicted from the decoded row above, so a boundary is the sum (mod 256) of its row's
    # residual and those of the rows above it back to the last row whose run count changed: one cumsum
    # and a subtraction instead of a loop over rows
    acc = np.cumsum(res, axis=1, dtype=np.int32)  # [n, h, k]
    rows = np.arange(h)
    first = np.maximum.accumulate(np.where(same, 0, rows[None, :]), axis=1)  # [n, h] first row of each chain
    before = np.take_along_axis(acc, np.maximum(first - 1, 0)[..., None].repeat(k_max, axis=2), axis=1)
    before[first == 0] = 0
    pos = ((acc - before) & 0xFF).astype(np.int16)  # [n, h, k]
    p = pos[valid]
    if p.size and (int(p.max()) > w or np.any(np.diff(pos, axis=2)[valid[..., 1:]] <= 0)):
        raise CodecError("silhouette run boundaries are out of order or outside the row")
    edge = np.zeros((n, h, w + 1), dtype=np.uint8)  # [n, h, w + 1]
    fi, ri, _ = np.nonzero(valid)
    edge[fi, ri, p] = 1
    # every row has an even number of boundaries, so the running parity is back to 0 at each row's end:
    # one cumulative sum over the flat array (uint8, wrapping, keeps the parity) equals one per row
    inside = (np.cumsum(edge.reshape(-1), dtype=np.uint8) & 1).reshape(n, h, w + 1)
    return np.ascontiguousarray(inside[:, :, :w])  # [n, h, w]


def encode_vector(vec: np.ndarray) -> bytes:
    """Encode a 1-D embedding as little-endian float16 (half the bytes, ample precision)."""
    if vec.ndim != 1 or vec.size == 0:
        raise CodecError(f"vector must be 1-D and non-empty, got shape {vec.shape}")
    if not np.all(np.isfinite(vec)):
        raise CodecError("vector has NaN or infinite values")
    if np.any(np.abs(vec) > _F16_MAX):  # would become infinite on the wire, and every reader refuse it
        raise CodecError(f"vector has values beyond float16's range (±{_F16_MAX:g})")
    return vec.astype("<f2").tobytes()


def decode_vector(data: bytes, dim: int) -> np.ndarray:
    """Decode a float16 vector of ``dim`` values into float32."""
    if len(data) != 2 * dim:
        raise CodecError(f"vector payload has {len(data)} bytes, expected {2 * dim} for dim {dim}")
    vec = np.frombuffer(data, dtype="<f2").astype(np.float32)
    if not np.all(np.isfinite(vec)):
        raise CodecError("vector has NaN or infinite values")
    return vec


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def bytes_to_json(data: bytes) -> str:
    """A binary field (an image, pose data) of a message header as JSON text: standard base64 (JSON has no bytes)."""
    return base64.b64encode(data).decode("ascii")


def bytes_from_json(value: object, what: str, max_bytes: int) -> bytes:
    """The bytes of a binary field: ``value`` is the base64 text of a decoded header, or the bytes a
    producer passed; refused (ValueError, a dead letter when decoding) when it is neither, not
    base64, or over ``max_bytes``."""
    if isinstance(value, str):
        if len(value) > 4 * (max_bytes // 3 + 1):
            raise ValueError(f"{what} is over {max_bytes} bytes")
        try:
            value = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"{what} is not base64") from exc
    if not isinstance(value, bytes | bytearray):
        raise ValueError(f"{what} must be bytes or base64 text")
    data = bytes(value)
    if len(data) > max_bytes:
        raise ValueError(f"{what} has {len(data)} bytes, more than {max_bytes}")
    return data


def image_bytes_from_json(value: object, magic: bytes, kind: str, max_bytes: int) -> bytes:
    """The bytes of an image field (see :func:`bytes_from_json`), refused unless it is a ``kind``
    image (its magic bytes)."""
    data = bytes_from_json(value, f"{kind} image", max_bytes)
    if not data.startswith(magic):
        raise ValueError(f"not a {kind} image (bad magic bytes)")
    return data
