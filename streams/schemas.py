"""Typed, versioned messages: one class per topic, imported by producer and consumer alike.

Wire format of every value (keys are plain UTF-8 strings)::

    b"GL" | envelope version (1 byte) | header length (uint32, big endian) | JSON header | payload

The JSON header carries ``schema`` (the message type), ``v`` (its version) and the typed
fields; the payload carries the bulky binary part (silhouettes, vectors) in the codecs of
:mod:`streams.codec`. A reader refuses an unknown schema or version with
:class:`~streams.exceptions.SchemaError`, which consumers turn into a dead letter.
"""

from __future__ import annotations

import json
import struct
import time
from typing import Annotated, Any, ClassVar, Literal, Self

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from streams.codec import (
    JPEG_MAGIC,
    PNG_MAGIC,
    bytes_to_json,
    decode_masks,
    decode_vector,
    encode_masks,
    encode_vector,
    image_bytes_from_json,
)
from streams.exceptions import SchemaError
from streams.pose import WindowPose
from streams.settings import clock_skew_s

MAGIC = b"GL"
ENVELOPE_VERSION = 1
_PREFIX = struct.Struct(">2sBI")
_MAX_HEADER = 1 << 20
SILHOUETTE_SHAPE = (64, 44)
"""Every silhouette on ``tracklets.v1`` is this many rows and columns."""
MAX_WINDOW_FRAMES = 512
"""The most frames one window may carry (the frames stage writes 30; a decode is bounded by this)."""
_MAX_INT64 = 2**63 - 1
MAX_EVIDENCE_BYTES = 16 * 1024
"""The largest gait energy image (a 64x44 grayscale PNG, ~1-2 KB) a message may carry."""
MAX_KEYFRAME_BYTES = 64 * 1024
"""The largest key-frame crop (a small JPEG of one person) a message may carry."""
# evidence images travel in the JSON header as base64; producers pass bytes
_AS_BASE64 = PlainSerializer(bytes_to_json, return_type=str, when_used="json")
PngBytes = Annotated[bytes, BeforeValidator(lambda v: image_bytes_from_json(v, PNG_MAGIC, "PNG", MAX_EVIDENCE_BYTES)),
                     _AS_BASE64]
JpegBytes = Annotated[bytes, _AS_BASE64,
                      BeforeValidator(lambda v: image_bytes_from_json(v, JPEG_MAGIC, "JPEG", MAX_KEYFRAME_BYTES))]


def _absent(value: object) -> bool:
    """An optional field left out of the header when None: a record without it stays byte for byte what
    readers from before the field accept."""
    return value is None


class Message(BaseModel):
    """Base of every message: strict fields, a schema name and a version, binary payload aside."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, allow_inf_nan=False)

    SCHEMA: ClassVar[str]
    VERSION: ClassVar[int]
    _registry: ClassVar[dict[str, type[Message]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "SCHEMA" in cls.__dict__:
            if cls.SCHEMA in Message._registry:
                raise TypeError(f"duplicate message schema {cls.SCHEMA!r}")
            Message._registry[cls.SCHEMA] = cls

    def _payload(self) -> bytes:
        return b""

    @classmethod
    def _with_payload(cls, header: dict[str, Any], payload: bytes) -> Self:
        if payload:
            raise SchemaError(f"{cls.SCHEMA} v{cls.VERSION} carries no payload, got {len(payload)} bytes")
        return cls.model_validate(header)

    def to_bytes(self) -> bytes:
        """Serialise to the wire format described in the module docstring."""
        header = {"schema": self.SCHEMA, "v": self.VERSION, **self.model_dump(mode="json")}
        raw = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
        return _PREFIX.pack(MAGIC, ENVELOPE_VERSION, len(raw)) + raw + self._payload()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> Self:
        """Parse and validate ``data``; raise :class:`SchemaError` saying what is wrong."""
        schema, version, header, payload = _split(data)
        if schema != cls.SCHEMA:
            raise SchemaError(f"expected schema {cls.SCHEMA!r}, got {schema!r}")
        if version != cls.VERSION:
            raise SchemaError(f"unknown {schema} version {version!r} (this reader knows v{cls.VERSION})")
        try:
            return cls._with_payload(header, payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            msg = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
            raise SchemaError(f"invalid {schema} v{version}: {where}: {msg}") from exc


def _split(data: bytes | None) -> tuple[str, int, dict[str, Any], bytes]:
    if not data:
        raise SchemaError("empty message body")
    if len(data) < _PREFIX.size:
        raise SchemaError("message shorter than its envelope")
    magic, env_version, hlen = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise SchemaError("not a gaitline message (bad magic bytes)")
    if env_version != ENVELOPE_VERSION:
        raise SchemaError(f"unknown envelope version {env_version}")
    if hlen > _MAX_HEADER or _PREFIX.size + hlen > len(data):
        raise SchemaError("header length exceeds the message")
    try:
        header = json.loads(data[_PREFIX.size : _PREFIX.size + hlen])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise SchemaError("header is not a JSON object")
    schema = header.pop("schema", None)
    version = header.pop("v", None)
    if not isinstance(schema, str):
        raise SchemaError("header has no schema name")
    return schema, version, header, data[_PREFIX.size + hlen :]


def peek_schema(data: bytes | None) -> tuple[str, int]:
    """Return ``(schema, version)`` of a message without validating its body."""
    schema, version, _, _ = _split(data)
    return schema, version


def check_time(t: float) -> float:
    """``t`` (epoch seconds) if it is a time a stage may act on: not negative, not later than the
    wall clock plus :func:`~streams.settings.clock_skew_s`; else ValueError (a dead letter when decoding).
    NaN and infinities are refused by the messages' ``allow_inf_nan=False`` before this runs."""
    if t < 0:
        raise ValueError(f"time {t} is negative")
    limit = time.time() + clock_skew_s()
    if t > limit:
        raise ValueError(f"time {t:.0f} is {t - limit + clock_skew_s():.0f} s ahead of this host's clock "
                         f"(tolerance {clock_skew_s():.0f} s, GAITLINE_STREAMS_MAX_CLOCK_SKEW_S)")
    return t


class _VectorMessage(Message):
    """A message whose payload is its ``vector`` of ``dim`` float16 values."""

    dim: int = Field(gt=0)
    vector: np.ndarray = Field(exclude=True, description="[dim] float32, L2-normalised")

    def _payload(self) -> bytes:
        return encode_vector(self.vector)

    @classmethod
    def _with_payload(cls, header: dict[str, Any], payload: bytes) -> Self:
        dim = header.get("dim")
        if not isinstance(dim, int) or dim <= 0:
            raise SchemaError(f"{cls.SCHEMA} header has no positive integer dim")
        return cls.model_validate({**header, "vector": decode_vector(payload, dim)})


class GaitParams(BaseModel):
    """Gait parameters measured over one window; ``None`` where the window cannot tell."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    cadence_spm: float | None = Field(None, ge=0, description="steps per minute")
    speed_mps: float | None = Field(None, ge=0, description="walking speed, metres per second")
    step_length_m: float | None = Field(None, ge=0)
    stride_length_m: float | None = Field(None, ge=0)


class TrackletWindow(Message):
    """``tracklets.v1``: N consecutive 64x44 silhouettes of one track on one camera."""

    SCHEMA: ClassVar[str] = "tracklet"
    VERSION: ClassVar[int] = 1

    window_id: str = Field(min_length=1, description="camera_id/track_id/first frame index; unique")
    camera_id: str = Field(min_length=1)
    track_id: int = Field(ge=0, le=_MAX_INT64)
    region: str = Field(min_length=1)
    frame_start: int = Field(ge=0)
    frame_end: int = Field(ge=0)
    timestamps: list[float] = Field(description="seconds since the epoch, one per frame")
    foot_points: list[tuple[float, float]] = Field(description="per frame; ground metres if calibrated")
    ground_plane: bool = Field(description="True when foot_points are metres on the ground plane")
    boxes: list[tuple[int, int, int, int]] = Field(description="per frame x, y, w, h in image pixels")
    quality: float = Field(ge=0, le=1, description="share of frames with a plausible silhouette")
    gait: GaitParams = Field(default_factory=GaitParams)
    truth_id: str | None = Field(None, description="simulator ground truth; None on real cameras")
    keyframe_jpeg: JpegBytes | None = Field(None, exclude_if=_absent, description="JPEG crop of the person in "
                                            "the middle frame (only with GAITLINE_FRAMES_KEYFRAME_CROP)")
    pose: WindowPose | None = Field(None, exclude_if=_absent, description="body keypoints per frame (only with "
                                    "GAITLINE_FRAMES_POSE; streams/pose.py)")
    silhouettes: np.ndarray = Field(exclude=True, description="[n, 64, 44] uint8 0/1")

    @field_validator("timestamps")
    @classmethod
    def _check_times(cls, v: list[float]) -> list[float]:
        for t in v:
            check_time(t)
        return v

    @field_validator("silhouettes")
    @classmethod
    def _check_shape(cls, v: np.ndarray) -> np.ndarray:
        if v.ndim != 3 or not 0 < v.shape[0] <= MAX_WINDOW_FRAMES or v.shape[1:] != SILHOUETTE_SHAPE:
            raise ValueError(f"silhouettes must be [n, 64, 44], got {v.shape}")
        return v

    @model_validator(mode="after")
    def _check_lengths(self) -> Self:
        n = self.silhouettes.shape[0]
        for name in ("timestamps", "foot_points", "boxes"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries for {n} frames")
        if self.frame_end < self.frame_start:
            raise ValueError("frame_end precedes frame_start")
        if self.pose is not None and self.pose.frames != n:
            raise ValueError(f"pose has {self.pose.frames} frames for {n} frames")
        return self

    def _payload(self) -> bytes:
        return encode_masks(self.silhouettes)

    @classmethod
    def _with_payload(cls, header: dict[str, Any], payload: bytes) -> Self:
        stamps = header.get("timestamps")
        if not isinstance(stamps, list) or not 0 < len(stamps) <= MAX_WINDOW_FRAMES:
            raise SchemaError(f"{cls.SCHEMA} header needs 1..{MAX_WINDOW_FRAMES} timestamps, one per frame")
        # bound the decode by what the header declares, before a byte is decompressed
        masks = decode_masks(payload, shape=SILHOUETTE_SHAPE, max_frames=MAX_WINDOW_FRAMES, frames=len(stamps))
        return cls.model_validate({**header, "silhouettes": masks})


class Embedding(_VectorMessage):
    """``embeddings.v1``: one window's identity vector and gait parameters."""

    SCHEMA: ClassVar[str] = "embedding"
    VERSION: ClassVar[int] = 1

    window_id: str = Field(min_length=1)
    camera_id: str
    track_id: int = Field(ge=0, le=_MAX_INT64)
    region: str
    t_start: float
    t_end: float
    foot_point: tuple[float, float] = Field(description="last foot point of the window")
    box: tuple[int, int, int, int] | None = Field(None, description="last frame's x, y, w, h in pixels")
    ground_plane: bool
    quality: float = Field(ge=0, le=1)
    gait: GaitParams
    model: str = Field(description="model name, e.g. 'gei-baseline'")
    model_version: str
    truth_id: str | None = None
    evidence_png: PngBytes | None = Field(None, exclude_if=_absent,
                                          description="the window's gait energy image, 64x44 grayscale PNG")
    keyframe_jpeg: JpegBytes | None = Field(None, exclude_if=_absent, description="the window's key-frame crop")

    _times = field_validator("t_start", "t_end")(check_time)



class Sighting(Message):
    """``sightings.v1``: an identity was seen on a camera during a window."""

    SCHEMA: ClassVar[str] = "sighting"
    VERSION: ClassVar[int] = 1

    sighting_id: str = Field(min_length=1, description="the window id it came from; unique")
    identity_id: str = Field(min_length=1)
    camera_id: str
    track_id: int = Field(ge=0, le=_MAX_INT64)
    region: str
    t_start: float
    t_end: float
    x: float
    y: float
    box: tuple[int, int, int, int] | None = Field(None, description="last frame's x, y, w, h in pixels")
    ground_plane: bool
    score: float = Field(description="cosine similarity to the identity (1.0 when just enrolled)")
    enrolled: bool = Field(description="True when this sighting created the identity")
    model: str
    gait: GaitParams
    truth_id: str | None = None
    evidence_png: PngBytes | None = Field(None, exclude_if=_absent,
                                          description="the gait energy image of the window matched")
    keyframe_jpeg: JpegBytes | None = Field(None, exclude_if=_absent, description="the window's key-frame crop")

    _times = field_validator("t_start", "t_end")(check_time)


class GalleryEntry(_VectorMessage):
    """``gallery.v1`` (compacted, key = identity id): the gallery's current vector per identity.

    A record with a null value (a tombstone) means the identity was forgotten.
    """

    SCHEMA: ClassVar[str] = "gallery"
    VERSION: ClassVar[int] = 1

    identity_id: str = Field(min_length=1)
    op: Literal["enrol", "update"]
    model: str
    model_version: str | None = Field(None, description="version of the model whose vector this is")
    n_sightings: int = Field(ge=1)
    created_at: float
    updated_at: float
    last_camera_id: str | None = Field(None, description="where the identity was last seen (for gating)")
    last_seen: float | None = Field(None, description="when, epoch seconds")

    @field_validator("created_at", "updated_at", "last_seen")
    @classmethod
    def _check_times(cls, v: float | None) -> float | None:
        return None if v is None else check_time(v)



class DeadLetter(Message):
    """``deadletter.v1``: a record a stage could not process, with why, and the original bytes."""

    SCHEMA: ClassVar[str] = "deadletter"
    VERSION: ClassVar[int] = 1

    stage: str = Field(description="the stage that gave up, e.g. 'embed'")
    reason: str
    source_topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    failed_at: float = Field(default_factory=time.time)
    original: bytes = Field(b"", exclude=True)

    def _payload(self) -> bytes:
        return self.original

    @classmethod
    def _with_payload(cls, header: dict[str, Any], payload: bytes) -> Self:
        return cls.model_validate({**header, "original": payload})
