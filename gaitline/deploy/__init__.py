"""What the Helm chart and the image are generated from: the code's own declarations.

The chart cannot read Python, so the few facts it needs from the code are written into files it
ships, by :mod:`gaitline.deploy.__main__` (``python -m gaitline.deploy``), and unit tests fail
while a written file differs from what the code says today:

- ``helm/gaitline/files/topics.yaml``: the topics of ``streams/topics.py`` and which stage reads
  which (the topic-creation hook, Strimzi ``KafkaTopic`` resources, KEDA's lag triggers and the
  replica caps);
- ``helm/gaitline/values.schema.json``: the chart's values, with the choices and bounds of the
  settings models the values feed (``EmbedSettings.device``, ``KafkaSettings.security_protocol``...);
- ``helm/gaitline/files/dashboard.json``: the Grafana dashboard, built with grafana-foundation-sdk;
- ``constraints.txt``: the pinned versions the images install.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "gaitline"
