"""What every stage's metrics share: the naming rule, the latency buckets and the ``/metrics`` server.

Each stage declares its metrics once, in a typed container built against an injected
``CollectorRegistry`` (``workers/frames/metrics.py``, ``workers/embed/metrics.py``,
``index/metrics.py``, ``workers/track/metrics.py``, ``api/metrics.py``). Names follow
``gaitline_<stage>_<what>_<unit>`` (:data:`NAME_RULE`); no label ever carries a person or an
identity: labels are cameras, reasons, models, routes and topics only.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, start_http_server

STAGES = ("frames", "embed", "index", "track", "api")
# a gauge or histogram ends with what it measures; a counter ends with _total
UNITS = ("seconds", "bytes", "records", "windows", "identities", "tracks", "builds", "frames_per_second", "info")
NAME_RULE = re.compile(rf"^gaitline_({'|'.join(STAGES)})_[a-z0-9]+(_[a-z0-9]+)*_({'|'.join(UNITS)}|total)$")
FORBIDDEN_LABELS = frozenset({"identity", "identity_id", "person", "truth_id", "track_id", "sighting_id"})

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def serve(registry: CollectorRegistry, port: int) -> None:
    """Serve ``/metrics`` for ``registry`` on ``port`` (0 disables it)."""
    if port:
        start_http_server(port, addr="0.0.0.0", registry=registry)  # noqa: S104 - scraped in-cluster
