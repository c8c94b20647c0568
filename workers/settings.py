"""Typed runtime settings of the stream stages; every field names its environment variable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.db import default_store_url

if TYPE_CHECKING:
    from index.gallery import AnnConfig


class EmbedSettings(BaseSettings):
    """Embedding agents (env prefix ``GAITLINE_EMBED_``)."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_EMBED_", extra="forbid")

    model: str = Field("default", description="registered embedder name (default = the learned model, "
                                              "baseline = training-free GEI); env GAITLINE_EMBED_MODEL")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="env GAITLINE_EMBED_DEVICE")
    embed_from: Literal["auto", "strips", "bnneck", "lda"] = Field(
        "auto", description="learned models: which features form the vector; bnneck and lda are centred, so "
                            "cosine thresholds mean something across models; auto = lda (the fitted projection) "
                            "where the checkpoint has one, else bnneck; env GAITLINE_EMBED_EMBED_FROM")
    precision: Literal["auto", "fp32"] = Field(
        "auto", description="auto = fp16 on CUDA, bf16 on CPUs with native bf16 (AMX/AVX512-BF16), else fp32; "
                            "fp32 = never reduced; env GAITLINE_EMBED_PRECISION")
    compile: bool | None = Field(
        None, description="torch.compile the model before joining the group (2.2x the windows/s on an H200, "
                          "1.37x on 2 CPU threads; ~15-30 s at start); unset = on CUDA only; "
                          "env GAITLINE_EMBED_COMPILE")
    max_batch: int = Field(64, ge=1, le=4096, description="env GAITLINE_EMBED_MAX_BATCH")
    max_wait_s: float = Field(0.05, gt=0, le=10, description="env GAITLINE_EMBED_MAX_WAIT_S")
    metrics_port: int = Field(9101, ge=0, le=65535, description="0 disables; env GAITLINE_EMBED_METRICS_PORT")


class IndexSettings(BaseSettings):
    """Identity service (env prefix ``GAITLINE_INDEX_``)."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_INDEX_", extra="forbid")

    match_threshold: float | None = Field(
        None, ge=-1, le=1,
        description="cosine similarity to accept a match; None = the model's calibrated value "
                    "(index.matcher.MODEL_THRESHOLDS); env GAITLINE_INDEX_MATCH_THRESHOLD")
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
        "hnsw", description="approximate index: hnsw graph or ivf cells; env GAITLINE_INDEX_ANN_KIND")
    ann_nprobe: int = Field(
        48, ge=1, le=65536, description="IVF cells searched per query (recall vs speed); env GAITLINE_INDEX_ANN_NPROBE")
    ann_ef_search: int = Field(
        384, ge=1, le=65536, description="HNSW candidates explored per query (recall vs speed); "
                                        "env GAITLINE_INDEX_ANN_EF_SEARCH")
    metrics_port: int = Field(9102, ge=0, le=65535, description="0 disables; env GAITLINE_INDEX_METRICS_PORT")

    def ann(self) -> AnnConfig:
        """The gallery's exact/approximate switch."""
        from index.gallery import AnnConfig  # faiss loads only where a gallery is built

        return AnnConfig(min_identities=self.ann_min_identities, kind=self.ann_kind, nprobe=self.ann_nprobe,
                         ef_search=self.ann_ef_search)


class TrackSettings(BaseSettings):
    """Trajectory stitcher / store writer (env prefix ``GAITLINE_TRACK_``)."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_TRACK_", extra="forbid")

    store_url: str = Field(default_factory=default_store_url,
                           description="SQLAlchemy URL; env GAITLINE_TRACK_STORE_URL (or GAITLINE_STORE_URL)")
    retention_days: float = Field(
        30.0, ge=0, description="delete sightings older than this many days of stream time (0 = keep); "
                                "env GAITLINE_TRACK_RETENTION_DAYS")
    max_batch: int = Field(200, ge=1, description="env GAITLINE_TRACK_MAX_BATCH")
    max_wait_s: float = Field(0.5, gt=0, description="env GAITLINE_TRACK_MAX_WAIT_S")
    metrics_port: int = Field(9103, ge=0, le=65535, description="0 disables; env GAITLINE_TRACK_METRICS_PORT")
