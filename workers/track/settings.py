"""Typed settings of the track stage; every field names its environment variable."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.db import default_store_url


class TrackSettings(BaseSettings):
    """Trajectory stitcher / store writer (env prefix ``GAITLINE_TRACK_``)."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_TRACK_", extra="forbid")

    store_url: str = Field(default_factory=default_store_url,
                           description="SQLAlchemy URL of the store the sightings are written to; "
                                       "env GAITLINE_TRACK_STORE_URL")
    retention_days: float = Field(
        30.0, ge=0, description="delete sightings older than this many days of stream time (0 = keep); "
                                "env GAITLINE_TRACK_RETENTION_DAYS")
    max_batch: int = Field(200, ge=1, description="most sightings per store write; env GAITLINE_TRACK_MAX_BATCH")
    max_wait_s: float = Field(0.5, gt=0, description="longest wait to fill a batch, seconds; "
                                                    "env GAITLINE_TRACK_MAX_WAIT_S")
    metrics_port: int = Field(9103, ge=0, le=65535,
                              description="/metrics port, 0 disables; env GAITLINE_TRACK_METRICS_PORT")
