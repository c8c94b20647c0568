"""Typed settings of the embedding agents; every field names its environment variable."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EmbedSettings(BaseSettings):
    """Embedding agents (env prefix ``GAITLINE_EMBED_``)."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_EMBED_", extra="forbid")

    model: str = Field("default", description="registered embedder name (default = the learned model, "
                                              "baseline = training-free GEI); env GAITLINE_EMBED_MODEL")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = CUDA when a GPU is visible, else CPU; "
                                                                     "env GAITLINE_EMBED_DEVICE")
    embed_from: Literal["auto", "strips", "bnneck", "lda"] = Field(
        "auto", description="learned models: which features form the vector; bnneck and lda are centred, so "
                            "cosine thresholds mean something across models; auto = lda (the fitted projection) "
                            "where the checkpoint has one, else bnneck; env GAITLINE_EMBED_EMBED_FROM")
    precision: Literal["auto", "fp32"] = Field(
        "auto", description="auto = fp16 on CUDA, bf16 on CPUs with native bf16 (AMX/AVX512-BF16), else fp32; "
                            "fp32 = never reduced; env GAITLINE_EMBED_PRECISION")
    compile: bool | None = Field(
        None, description="torch.compile the model before joining the group: more windows/s for a compilation "
                          "of tens of seconds at start (bench/results/gpu_embed.json, bench/results/embed.json); "
                          "unset = on CUDA only; env GAITLINE_EMBED_COMPILE")
    cpu_runtime: Literal["auto", "eager", "fused", "int8"] = Field(
        "auto", description="learned models on CPU (gait/model/cpu_runtime.py): eager = the network as trained; "
                            "fused = the same numbers with the stem as a table lookup and the pooling on "
                            "contiguous memory; int8 = fused with int8 convs (needs the checkpoint's "
                            "<name>.int8.json calibration); auto = int8 on x86 CPUs without native bf16 "
                            "when precision is auto and a calibration exists, else fused; the GPU path "
                            "ignores it; env GAITLINE_EMBED_CPU_RUNTIME")
    max_batch: int = Field(64, ge=1, le=4096, description="most windows per inference batch (raise it on a GPU); "
                                                          "env GAITLINE_EMBED_MAX_BATCH")
    max_wait_s: float = Field(0.05, gt=0, le=10, description="longest wait to fill a batch, seconds; "
                                                             "env GAITLINE_EMBED_MAX_WAIT_S")
    metrics_port: int = Field(9101, ge=0, le=65535,
                              description="/metrics port, 0 disables; env GAITLINE_EMBED_METRICS_PORT")
