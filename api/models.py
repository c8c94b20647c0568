"""The API's answers as pydantic models: what ``/api/v1/openapi.json`` promises, and what a test checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# every character Python's str.strip() removes (the audit log strips with it), spelled out: pydantic's regex
# engine and the JSON Schema readers (schemathesis, a browser) do not agree on what \s means
_SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
# at least 3 characters once the spaces around it are gone: it is written to the audit log with the caller's name
REASON_PATTERN = f"^[{_SPACES}]*[^{_SPACES}][^\r\n]+[^{_SPACES}][{_SPACES}]*$"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(_Out):
    error: str = Field(description="what is wrong, in one line")


class MeOut(_Out):
    user: str
    role: str
    permissions: list[str]


class SightingOut(_Out):
    sighting_id: str
    camera: str
    track: int
    identity: str
    t_start: float
    t_end: float
    x: float
    y: float
    ground_plane: bool
    score: float
    enrolled: bool
    cadence_spm: float | None
    speed_mps: float | None
    step_length_m: float | None
    stride_length_m: float | None
    evidence: str | None = Field(None, description="the window's gait energy image (mean silhouette), "
                                                   "a data:image/png;base64 URL")
    keyframe: str | None = Field(None, description="a key-frame crop of the person (data:image/jpeg;base64), "
                                                   "when the site keeps them")


class VisitOut(_Out):
    camera: str
    t_start: float
    t_end: float
    sightings: int


class WatchOut(_Out):
    identity_id: str
    actor: str
    reason: str
    created_at: float


class WhereOut(_Out):
    identity: str
    sightings: list[SightingOut]
    truncated: bool
    limit: int
    offset: int
    visits: list[VisitOut]
    cameras: list[str]
    first_seen: float
    last_seen: float
    path_m: float | None
    watched: WatchOut | None


class IdentityOut(_Out):
    identity_id: str
    sightings: int
    first_seen: float
    last_seen: float
    cameras: list[str]
    watched: bool


class IdentitiesOut(_Out):
    identities: list[IdentityOut]
    total: int
    limit: int
    offset: int


class CameraSightingsOut(_Out):
    camera: str = Field(description="the camera ids searched, comma-separated")
    cameras: list[str]
    sightings: list[SightingOut]
    truncated: bool
    identities: list[str]


class SiteOut(_Out):
    name: str
    map_image: str | None
    bounds: list[float] | None


class CameraOut(_Out):
    id: str
    region: str
    position: list[float] | None
    heading_deg: float | None
    fov_deg: float | None
    range_m: float | None
    lat: float | None
    lon: float | None
    seen: bool


class LinkOut(_Out):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    min_transit_s: float
    typical_transit_s: float


class CamerasOut(_Out):
    site: SiteOut
    cameras: list[CameraOut]
    links: list[LinkOut]


class WatchlistOut(_Out):
    watchlist: list[WatchOut]


class WatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identity_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    reason: str = Field(min_length=3, max_length=500, pattern=REASON_PATTERN)


class AuditEntryOut(_Out):
    at: float
    actor: str
    action: str
    subject: str | None
    reason: str
    detail: dict[str, Any]


class AuditOut(_Out):
    entries: list[AuditEntryOut]


class CandidateOut(_Out):
    identity: str
    windows_accepted: int
    share: float
    mean_similarity: float
    best_similarity: float


class SeenOut(_Out):
    visits: list[VisitOut]
    cameras: list[str]
    last_seen: float | None
    evidence: str | None = Field(None, description="the gait energy image of the identity's latest sighting")


class TrackMatchOut(_Out):
    track: int
    windows: int
    match: str | None
    candidates: list[CandidateOut]
    seen: SeenOut | None = None


class SearchOut(_Out):
    clip: str
    frames: int
    windows: int
    model: str | None
    threshold: float
    gallery_size: int
    tracks: list[TrackMatchOut]


class StatusOut(_Out):
    status: str
