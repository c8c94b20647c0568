"""The embed stage's metrics (naming rule: :mod:`gaitline.metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gaitline.metrics import LATENCY_BUCKETS


class EmbedMetrics:
    """The embedding agents."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.windows = Counter("gaitline_embed_windows_total", "Windows embedded", ["model"],
                               registry=registry)
        self.batch_size = Histogram("gaitline_embed_batch_windows", "Windows per inference batch",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=registry)
        self.inference_seconds = Histogram("gaitline_embed_inference_seconds", "Model time per batch",
                                           buckets=LATENCY_BUCKETS, registry=registry)
        self.model_info = Gauge("gaitline_embed_model_info", "The model in use (value 1)",
                                ["model", "version", "device", "precision"], registry=registry)
        self.deadlettered = Counter("gaitline_embed_deadlettered_total", "Records sent to dead letter",
                                    ["reason"], registry=registry)
        self.retries = Counter("gaitline_embed_batch_retries_total",
                               "Batches retried instead of acknowledged: the handler raised or an output was "
                               "not acknowledged (what = handler or send)", ["what"], registry=registry)
        self.consumer_lag = Gauge("gaitline_embed_consumer_lag_records",
                                  "Input records on this worker's partitions not yet read", registry=registry)
