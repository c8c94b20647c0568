"""The whole pipeline on one video (or a simulated city), on a real broker (``gaitline demo``).

It starts the broker if none runs, starts the embed, index and track stages as separate
processes (as in a cluster), runs the frames stage on the video, waits until every consumer
group has caught up, prints a summary and stops everything it started.

The first run on a store makes a namespace of topics and an empty gallery. A second run on the
same store continues it: the same gallery, the store's history kept, and the recording played
again as a new pass of the same people (new track ids and times), so the walkers are
re-identified rather than enrolled again; the control room's watchlist alerts fire then.
``fresh=True`` starts over.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from configs.schema import NETWORKS_DIR
from gaitline.errors import GaitlineError
from store.db import Store, default_store_url
from streams.admin import admin_client, ensure_topics, group_lag_or_unknown, message_count
from streams.broker import LocalBroker
from streams.clients import send_records
from streams.groups import group_id
from streams.settings import BrokerSettings, KafkaSettings, default_cache_dir
from streams.topics import DEADLETTER, EMBEDDINGS, GALLERY, SIGHTINGS, TRACKLETS
from workers.frames.settings import FramesSettings
from workers.frames.worker import run_frames

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
STAGES = ("embed", "index", "track")
_INPUT = {"embed": TRACKLETS, "index": EMBEDDINGS, "track": SIGHTINGS}


@dataclass
class StageProcs:
    """The stage processes the demo started, with their log files."""

    logdir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)

    def start(self, stage: str, env: dict[str, str], name: str | None = None, args: tuple[str, ...] = ()) -> None:
        """Start ``gaitline worker <stage> [args]`` as process ``name`` (default: the stage; a second
        agent of a stage needs a name of its own); its output goes to ``<name>.log`` (appended)."""
        name = name or stage
        cmd = [sys.executable, "-m", "gaitline", "worker", stage, *args]
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        self.procs[name] = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.started[name] = (cmd, env)
        log.close()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to process ``name``; with SIGKILL or SIGTERM, wait for it and forget it."""
        proc = self.procs[name]
        proc.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            del self.procs[name]

    def restart(self, name: str) -> None:
        """Start process ``name`` again as it was started before."""
        cmd, env = self.started[name]
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        self.procs[name] = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def check(self) -> None:
        for stage, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.logdir / f"{stage}.log").read_text(errors="replace").strip().splitlines()[-3:]
                raise GaitlineError(f"the {stage} worker exited with code {proc.returncode}: "
                                    f"{' | '.join(tail)}")

    def stop(self, timeout: float = 30.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _decodable_fps(video: Path) -> float:
    """The frame rate of ``video``, or a clear error when OpenCV cannot decode a frame of it:
    checked before a broker starts, so bad input costs nothing."""
    from workers.analyze import probe_video
    from workers.exceptions import AnalyzeError

    try:
        return probe_video(video)[0]
    except AnalyzeError as exc:
        raise GaitlineError(f"cannot read video {video}: not a video OpenCV can decode") from exc


def _network_for_video(video: Path, fps: float, workdir: Path) -> Path:
    if video.resolve() == VTEST.resolve():
        return NETWORKS_DIR / "vtest.yaml"
    net = {"version": 1, "name": video.stem or "video",
           "cameras": [{"id": "cam0", "source": str(video.resolve()), "region": "demo", "fps": fps}]}
    path = workdir / "network.yaml"
    path.write_text(yaml.safe_dump(net))
    return path


def inject_malformed(kafka: KafkaSettings, n: int) -> None:
    send_records(kafka, TRACKLETS.full_name(kafka.namespace),
                 ((b"demo/malformed", b"GL\x01\x00\x00\x00\x05{broken body " + str(i).encode()) for i in range(n)),
                 client_id="gaitline-demo")


def wait_drained(kafka: KafkaSettings, procs: StageProcs, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for stage in STAGES:
        topic = _INPUT[stage].full_name(kafka.namespace)
        while True:
            procs.check()
            lag = group_lag_or_unknown(kafka, group_id(stage, kafka), topic)
            if lag == 0:
                break
            if time.monotonic() > deadline:
                raise GaitlineError(f"pipeline did not drain within {timeout_s:.0f}s: {stage} still has "
                                    f"{lag} records of {topic} to process (logs in {procs.logdir})")
            time.sleep(0.5)


def _state_file(store_url: str) -> Path:
    """Where the demo remembers the namespace it last ran on this store (a digest names the store)."""
    return default_cache_dir() / "demo" / f"last-{hashlib.sha256(store_url.encode()).hexdigest()[:16]}.json"


def _previous_namespace(store_url: str, kafka: KafkaSettings) -> str | None:
    """The namespace of the last demo on this store, when its gallery topic is still on the broker."""
    try:
        namespace = str(json.loads(_state_file(store_url).read_text())["namespace"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    admin = admin_client(kafka)
    try:
        topics = set(admin.list_topics())
    finally:
        admin.close()
    return namespace if GALLERY.full_name(namespace) in topics else None


_COUNTED = {"tracklets": TRACKLETS, "embeddings": EMBEDDINGS, "sightings_on_topic": SIGHTINGS,
            "deadlettered": DEADLETTER}


def run_demo(video: Path = VTEST, city: Path | None = None, store: str | None = None, malformed: int = 0,
             timeout_s: float = 600.0, say: Callable[[str], None] = lambda _msg: None,
             fresh: bool = False) -> dict[str, Any]:
    """Run every stage on a real broker over ``video`` (or the simulated ``city``) and return a summary.

    Args:
        video: the recording (ignored when ``city`` is given).
        city: a folder written by ``gaitline sim city``.
        store: store URL (default: ``GAITLINE_STORE_URL`` or the local SQLite file); reset on a fresh run.
        malformed: send this many broken records to ``tracklets.v1`` first (they must dead-letter).
        timeout_s: give up when the pipeline has not drained by then.
        say: progress lines for a person watching.
        fresh: start a new gallery and reset the store even when an earlier demo ran on it.
    """
    started_at = time.monotonic()
    if city is not None:
        network = city / "network.yaml"
        if not network.exists():
            raise GaitlineError(f"{city} is not a simulated city (no network.yaml); see `gaitline sim city`")
    elif not video.is_file() or not os.access(video, os.R_OK):
        raise GaitlineError(f"cannot read video {video}: no such readable file")
    fps = _decodable_fps(video) if city is None else 0.0
    broker = LocalBroker(BrokerSettings())
    started_broker = not broker.status().running
    if started_broker:
        say(f"starting Kafka on {broker.bootstrap} ...")
        broker.start()
    store_url = store or default_store_url()
    previous = None if fresh else _previous_namespace(store_url, KafkaSettings(bootstrap=broker.bootstrap))
    namespace = previous or f"demo-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    workdir = default_cache_dir() / "demo" / namespace
    workdir.mkdir(parents=True, exist_ok=True)
    if city is None:
        network = _network_for_video(video, fps, workdir)
    kafka = KafkaSettings(bootstrap=broker.bootstrap, namespace=namespace)
    procs = StageProcs(workdir)
    try:
        ensure_topics(kafka)
        db = Store(store_url)
        if previous is None:
            db.reset()
            frames_settings = FramesSettings()
        else:
            say(f"continuing the gallery of the last demo on this store ({namespace}; --fresh starts over)")
            # the same recording again, as a new pass: new track ids, so new window (sighting) ids
            frames_settings = FramesSettings(track_id_base=int(time.time() * 10))
        _state_file(store_url).write_text(json.dumps({"namespace": namespace}))
        before = {key: message_count(kafka, spec.full_name(namespace)) for key, spec in _COUNTED.items()}
        known = {i.identity_id: i.sightings for i in db.identities()}
        stored_before = db.count()
        env = {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": kafka.bootstrap, "GAITLINE_KAFKA_NAMESPACE": namespace,
               "GAITLINE_TRACK_STORE_URL": store_url, "GAITLINE_INDEX_NETWORK": str(network),
               "GAITLINE_EMBED_METRICS_PORT": "0",
               "GAITLINE_INDEX_METRICS_PORT": "0", "GAITLINE_TRACK_METRICS_PORT": "0"}
        for stage in STAGES:
            procs.start(stage, env)
        if malformed:
            inject_malformed(kafka, malformed)
        say(f"frames: reading {network} ...")
        frames = run_frames(str(network), [], None, 1, False, 0, kafka, settings=frames_settings)
        say(f"frames: {frames['frames']} frames, {frames['windows']} windows; waiting for the pipeline to drain ...")
        wait_drained(kafka, procs, timeout_s)
        counts = {key: message_count(kafka, spec.full_name(namespace)) - before[key]
                  for key, spec in _COUNTED.items()}
        # this run's identities: those with sightings added by this run
        idents = [i for i in db.identities() if i.sightings > known.get(i.identity_id, 0)]
        summary = {
            "frames": frames["frames"],
            "tracks": frames.get("tracks", 0),
            "tracklets": counts["tracklets"] - malformed,
            "embeddings": counts["embeddings"],
            "identities": len(idents),
            "reidentified": sum(1 for i in idents if i.identity_id in known),
            "continued": previous is not None,
            "sightings": db.count() - stored_before,
            "sightings_on_topic": counts["sightings_on_topic"],
            "deadlettered": counts["deadlettered"],
            "elapsed_s": round(time.monotonic() - started_at, 2),
            "store": store_url,
            "namespace": namespace,
            "bootstrap": kafka.bootstrap,
            "logs": str(workdir),
        }
        summary["top_identities"] = [{"identity_id": i.identity_id, "sightings": i.sightings, "cameras": i.cameras}
                                     for i in idents[:10]]
        db.close()
    finally:
        procs.stop()
        if started_broker:
            broker.stop()
    return summary
