"""Typed settings of the identity service; every field names its environment variable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from index.gallery import AnnConfig


class IndexSettings(BaseSettings):
    """Identity service (env prefix ``GAITLINE_INDEX_``)."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_INDEX_", extra="forbid")

    match_threshold: float | None = Field(
        None, ge=-1, le=1,
        description="cosine similarity to accept a match; unset = the threshold calibrated into the model's "
                    "checkpoint (gaitline eval threshold --write), else index.matcher.DEFAULT_THRESHOLD; "
                    "env GAITLINE_INDEX_MATCH_THRESHOLD")
    update_rate: float = Field(
        0.1, gt=0, le=1, description="how fast a matched identity's vector follows; env GAITLINE_INDEX_UPDATE_RATE")
    candidates: int = Field(
        10, ge=1, le=1000, description="gallery candidates checked for feasibility; env GAITLINE_INDEX_CANDIDATES")
    network: str | None = Field(
        None, description="network YAML whose topology gates matches; env GAITLINE_INDEX_NETWORK")
    open_world_s: float = Field(
        3600.0, gt=0, description="after this gap, unlinked cameras are reachable; env GAITLINE_INDEX_OPEN_WORLD_S")
    retention_days: float = Field(
        30.0, ge=0, description="remove identities not seen for this many days of stream time (0 = keep); "
                                "env GAITLINE_INDEX_RETENTION_DAYS")
    ann_min_identities: int = Field(
        50_000, ge=0, description="gallery size from which search is approximate, 0 = always exact; "
                                  "env GAITLINE_INDEX_ANN_MIN_IDENTITIES")
    ann_kind: Literal["hnsw", "ivf"] = Field(
        "hnsw", description="approximate index: hnsw graph or ivf cells (gaitline bench index compares them); "
                             "env GAITLINE_INDEX_ANN_KIND")
    ann_nprobe: int = Field(
        48, ge=1, le=65536, description="IVF cells searched per query (recall vs speed); env GAITLINE_INDEX_ANN_NPROBE")
    ann_ef_search: int = Field(
        384, ge=1, le=65536, description="HNSW candidates explored per query (recall vs speed); "
                                        "env GAITLINE_INDEX_ANN_EF_SEARCH")
    decision_lookback_s: float = Field(
        600.0, ge=0, description="at start, read back the identity decisions published this many seconds ago "
                                 "and since (further back if older embeddings are still uncommitted): windows "
                                 "read again keep their identity, recent tracks keep theirs; "
                                 "env GAITLINE_INDEX_DECISION_LOOKBACK_S")
    metrics_port: int = Field(9102, ge=0, le=65535,
                              description="/metrics port, 0 disables; env GAITLINE_INDEX_METRICS_PORT")

    def ann(self) -> AnnConfig:
        """The gallery's exact/approximate switch."""
        from index.gallery import AnnConfig  # faiss loads only where a gallery is built

        return AnnConfig(min_identities=self.ann_min_identities, kind=self.ann_kind, nprobe=self.ann_nprobe,
                         ef_search=self.ann_ef_search)
