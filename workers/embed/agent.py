"""Embedding agents: ``tracklets.v1`` windows -> identity vectors on ``embeddings.v1``.

Agents form one consumer group; the broker spreads the partitions. Windows are micro-batched
(max size, max wait) and run through the configured embedder on the injected device.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict

import numpy as np
from prometheus_client import CollectorRegistry

from gait.model.registry import Embedder, get_embedder
from streams.admin import ensure_topics
from streams.agents import Output, Record, attach_batch_agent, dead_letter_output, decode_all, run_worker
from streams.schemas import Embedding, TrackletWindow
from streams.settings import KafkaSettings
from streams.stage_app import StageApp
from streams.topics import EMBEDDINGS, TRACKLETS
from workers.embed.evidence import evidence_pngs
from workers.embed.metrics import EmbedMetrics
from workers.embed.settings import EmbedSettings

STAGE = "embed"

log = logging.getLogger(__name__)


def pick_device(requested: str) -> str:
    """``auto`` means CUDA when a GPU is visible, else CPU."""
    if requested != "auto":
        return requested
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


class WindowEmbedder:
    """The embed stage's handler: decode windows, embed them in batches, dead-letter the bad ones."""

    def __init__(self, embedder: Embedder, metrics: EmbedMetrics | None = None) -> None:
        self.embedder = embedder
        self.metrics = metrics

    def __call__(self, records: list[Record]) -> list[Output]:
        """Handle one batch of raw ``tracklets.v1`` records."""
        decoded, outputs = decode_all(records, TrackletWindow, STAGE,
                                      self.metrics.deadlettered if self.metrics else None)
        good: dict[int, list[TrackletWindow]] = defaultdict(list)  # by window length: one tensor each
        for _, window in decoded:
            good[window.silhouettes.shape[0]].append(window)
        for windows in good.values():
            outputs.extend(self._embed(windows))
        return outputs

    def _embed(self, windows: list[TrackletWindow]) -> list[Output]:
        sils = np.stack([w.silhouettes for w in windows])  # [b, n, 64, 44] uint8
        batch = sils.astype(np.float32)  # [b, n, 64, 44]
        started = time.perf_counter()
        vectors = self.embedder.embed(batch)  # [b, dim]
        if self.metrics:
            self.metrics.inference_seconds.observe(time.perf_counter() - started)
            self.metrics.batch_size.observe(len(windows))
            self.metrics.windows.labels(self.embedder.name).inc(len(windows))
        out = []
        for w, vec, gei in zip(windows, vectors, evidence_pngs(sils), strict=True):
            if not np.all(np.isfinite(vec)):
                rec = Record(w.window_id.encode(), w.to_bytes(), TRACKLETS.name, None, None)
                out.append(self._dead(rec, "model produced a non-finite embedding", "non_finite"))
                continue
            emb = Embedding(window_id=w.window_id, camera_id=w.camera_id, track_id=w.track_id,
                            region=w.region, t_start=w.timestamps[0], t_end=w.timestamps[-1],
                            foot_point=w.foot_points[-1], box=w.boxes[-1], ground_plane=w.ground_plane,
                            quality=w.quality,
                            gait=w.gait, model=self.embedder.name, model_version=self.embedder.version,
                            dim=int(vec.shape[0]), truth_id=w.truth_id, vector=vec,
                            evidence_png=gei, keyframe_jpeg=w.keyframe_jpeg)
            out.append(Output(EMBEDDINGS, w.region.encode(), emb.to_bytes()))
        return out

    def _dead(self, rec: Record, reason: str, kind: str) -> Output:
        if self.metrics:
            self.metrics.deadlettered.labels(kind).inc()
        return dead_letter_output(STAGE, rec, reason)


def run(kafka: KafkaSettings, settings: EmbedSettings) -> None:
    """Run an embedding agent until SIGTERM."""
    # before torch loads: its OpenMP threads spin between kernels by default, and on a host shared
    # with the other stages (or under a CPU limit) a spinning thread burns the cores the broker and
    # the index need while it waits for a partner the OS has descheduled; passive threads sleep
    # (docs/benchmarks.md, "Where a window's CPU goes"; an OMP_WAIT_POLICY already set is kept)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    ensure_topics(kafka)  # create what is missing, fail in one line on a topic that differs from its declaration
    registry = CollectorRegistry()
    metrics = EmbedMetrics(registry)
    device = pick_device(settings.device)
    embedder = get_embedder(settings.model, device=device, embed_from=settings.embed_from,
                            precision=settings.precision, compile=settings.compile,
                            cpu_runtime=settings.cpu_runtime)
    precision = getattr(embedder, "precision", "float32")  # the training-free baselines have none
    warm_up = getattr(embedder, "warm_up", None)
    if warm_up is not None:
        # before joining the group: a first batch that compiles for tens of seconds would stall its partitions
        log.info("embedder %s warmed up in %.1f s (compiled: %s)", embedder.name, warm_up(),
                 getattr(embedder, "compiled", False))
    metrics.model_info.labels(embedder.name, embedder.version, device, precision).set(1)
    app = StageApp(STAGE, kafka)
    # a failing batch (the GPU out of memory) is retried, then split in halves: never acked unembedded
    attach_batch_agent(app, kafka, TRACKLETS, WindowEmbedder(embedder, metrics), settings.max_batch,
                       settings.max_wait_s, lag=metrics.consumer_lag, retries=metrics.retries, stage=STAGE)
    run_worker(app, registry, settings.metrics_port)
