"""The pipeline under load, for ``gaitline bench e2e`` and ``bench/profile_stages.py``.

:class:`Pipeline` starts a broker of its own (a free port, a state folder in the bench's work
folder, stopped at the end: the figures then hold the broker's CPU and nobody else's records),
the embed, index and track stages as processes (as in a cluster), a publisher of real
silhouette windows (cut from vtest.avi by the frames stage) and a reader of ``sightings.v1``.
:meth:`Pipeline.step` offers windows at a steady rate and returns the latency of each
(window published -> its sighting read) and the CPU seconds every process spent, read from
``/proc/<pid>/stat`` before the first window and after the last stage has drained.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from configs.schema import load_network
from streams.admin import ensure_topics
from streams.broker import LocalBroker
from streams.clients import Producer, TopicTail
from streams.schemas import _PREFIX, TrackletWindow
from streams.settings import BrokerSettings, KafkaSettings, default_cache_dir
from streams.topics import SIGHTINGS, TRACKLETS
from workers.demo import StageProcs, wait_drained

STAGES = ("embed", "index", "track")
"""The consumer stages, each a process of its own."""
PROCESSES = ("publisher", *STAGES, "broker")
"""What a step's CPU figures are given for (``publisher``: the bench's sending threads)."""
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), or of its thread ``tid``.

    Reads ``/proc/<pid>[/task/<tid>]/stat``; 0.0 when it is gone (a process that exited).
    """
    path = f"/proc/{pid}/task/{tid}/stat" if tid is not None else f"/proc/{pid}/stat"
    try:
        text = Path(path).read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces: split after it
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15 of stat)


def source_windows() -> list[TrackletWindow]:
    """Every window the frames stage cuts from vtest.avi (its camera network ``vtest``)."""
    from workers.frames.cameras import run_cameras
    from workers.frames.settings import FramesSettings

    out: list[TrackletWindow] = []
    run_cameras(load_network("vtest"), ["vtest"], FramesSettings(), out.append, threading.Event())
    return out


def _sighting_id(value: bytes | None) -> str:
    """The sighting id from a ``sightings.v1`` record's JSON header alone: the reader is not the stage
    under test, so it leaves the full validation (:meth:`Sighting.from_bytes`) to the track stage."""
    if not value:
        return ""
    _, _, hlen = _PREFIX.unpack_from(value)
    return str(json.loads(value[_PREFIX.size : _PREFIX.size + hlen]).get("sighting_id", ""))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StepResult:
    """One offered rate: what was sent and seen, the latencies, and the CPU each process spent."""

    rate: float
    windows: int
    offered: float
    latencies_ms: np.ndarray
    cpu_s: dict[str, float]
    wall_s: float
    aborted: bool
    target_ms: float

    @property
    def p95_ms(self) -> float | None:
        """p95 of the latencies, with a window never seen counted as infinitely late."""
        if self.windows == 0:
            return None
        lat = np.concatenate([self.latencies_ms, np.full(self.windows - self.latencies_ms.size, np.inf)])
        return float(np.percentile(lat, 95))

    @property
    def passed(self) -> bool:
        """The step held the target: p95 at most ``target_ms``, every window seen, not cut short."""
        p95 = self.p95_ms
        return not self.aborted and p95 is not None and p95 <= self.target_ms

    def summary(self) -> dict[str, Any]:
        """The step as the bench's JSON reports it."""
        lat = self.latencies_ms

        def pct(q: float) -> float | None:
            return round(float(np.percentile(lat, q)), 1) if lat.size else None

        n = max(self.windows, 1)
        return {"rate": round(self.rate, 2), "offered_windows_per_s": round(self.offered, 2),
                "windows": self.windows, "sightings": int(lat.size), "p50_ms": pct(50), "p95_ms": pct(95),
                "p99_ms": pct(99), "passed": self.passed, "cut_short": self.aborted,
                "wall_s": round(self.wall_s, 1),
                "cpu_s_per_window": {k: round(v / n, 5) for k, v in self.cpu_s.items()},
                "cpu_cores_busy": {k: round(v / max(self.wall_s, 1e-9), 3) for k, v in self.cpu_s.items()}}


@dataclass
class Pipeline:
    """A broker, the three stages and a publisher/reader, started by :meth:`start`, stopped by :meth:`stop`.

    Args:
        workdir: logs, the broker's state and the SQLite store go here.
        env: extra environment for the stage processes (settings under test).
        target_ms: the latency a step must hold at p95.
    """

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    target_ms: float = 500.0
    source: list[bytes] = field(default_factory=list)
    _windows: list[TrackletWindow] = field(default_factory=list)
    _sent: dict[str, float] = field(default_factory=dict)
    _seen: dict[str, float] = field(default_factory=dict)
    _serial: int = 0

    def start(self, windows: list[TrackletWindow]) -> None:
        """Start the broker and the stages, and wait until a first window went all the way through."""
        self._windows = windows
        self.workdir.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        self.broker = LocalBroker(BrokerSettings(port=port, controller_port=_free_port(),
                                                 state_dir=self.workdir / "broker"))
        self.broker.start()
        self.kafka = KafkaSettings(bootstrap=self.broker.bootstrap, namespace=f"bench-{uuid.uuid4().hex[:8]}")
        ensure_topics(self.kafka)
        self.procs = StageProcs(self.workdir)
        env = {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
               "GAITLINE_KAFKA_NAMESPACE": self.kafka.namespace,
               "GAITLINE_TRACK_STORE_URL": f"sqlite:///{self.workdir / 'store.db'}",
               "GAITLINE_EMBED_METRICS_PORT": "0", "GAITLINE_INDEX_METRICS_PORT": "0",
               "GAITLINE_TRACK_METRICS_PORT": "0", **self.env}
        for stage in STAGES:
            self.procs.start(stage, env)
        self._stop = threading.Event()
        self._tail = TopicTail(self.kafka, SIGHTINGS.full_name(self.kafka.namespace), "gaitline-bench-e2e")
        self._watcher = threading.Thread(target=self._watch, name="sightings-reader", daemon=True)
        self._watcher.start()
        self.producer = Producer(self.kafka, "gaitline-bench-e2e", linger_ms=0, acks=1)
        self.topic = TRACKLETS.full_name(self.kafka.namespace)
        # the first records wait for the consumer groups to form: not part of any figure
        self.producer.send_and_wait(self.topic, b"warmup", self._messages(1)[0][1], timeout_s=30)
        wait_drained(self.kafka, self.procs, timeout_s=180)

    def _watch(self) -> None:
        while not self._stop.is_set():
            records = self._tail.poll(timeout_ms=200)  # returns as soon as records arrive
            now = time.time()
            for rec in records:
                self._seen.setdefault(_sighting_id(rec.value), now)

    def _messages(self, n: int) -> list[tuple[str, bytes, bytes]]:
        """``n`` windows with ids never sent before: (window id, key, value), encoded before the clock runs."""
        out = []
        for _ in range(n):
            i = self._serial
            self._serial += 1
            w = self._windows[i % len(self._windows)]
            wid = f"{w.camera_id}/{w.track_id + 1000 * (i // len(self._windows))}/{w.frame_start}"
            out.append((wid, f"{w.camera_id}/{w.track_id}".encode(),
                        w.model_copy(update={"window_id": wid}).to_bytes()))
        return out

    def pids(self) -> dict[str, tuple[int, int | None]]:
        """(pid, tid) per entry of :data:`PROCESSES` (the publisher: this process's sending threads)."""
        out: dict[str, tuple[int, int | None]] = {s: (self.procs.procs[s].pid, None) for s in STAGES}
        out["broker"] = (self.broker.pid() or 0, None)
        return out

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of every entry of :data:`PROCESSES` (and of the sightings reader)."""
        me = os.getpid()
        out = {name: cpu_seconds(pid, tid) for name, (pid, tid) in self.pids().items()}
        sender = getattr(getattr(self.producer, "_producer", None), "_sender", None)
        out["publisher"] = cpu_seconds(me, threading.main_thread().native_id) + (
            cpu_seconds(me, sender.native_id) if sender is not None and sender.native_id else 0.0)
        out["reader"] = cpu_seconds(me, self._watcher.native_id)
        return out

    def idle(self, seconds: float) -> dict[str, float]:
        """CPU cores each process keeps busy while nothing is offered (polls, heartbeats, timers)."""
        before = self.cpu()
        time.sleep(seconds)
        after = self.cpu()
        return {k: round((after[k] - before[k]) / seconds, 3) for k in before}

    def step(self, rate: float, seconds: float, drain_s: float = 240.0) -> StepResult:
        """Offer ``rate`` windows/s for ``seconds`` and wait until every sighting is read and every stage drained.

        The step is cut short as soon as more than 5 % of its windows are later than the target (its
        p95 can no longer pass): an overloaded step then leaves a short backlog to drain.
        """
        n = max(1, int(round(rate * seconds)))
        msgs = self._messages(n)
        late_limit = 0.05 * n
        target_s = self.target_ms / 1000
        sent_ids: list[str] = []
        before = self.cpu()
        t0 = time.monotonic()
        wall0 = time.time()
        aborted = False
        next_check = t0 + 0.25
        for i, (wid, key, value) in enumerate(msgs):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._sent[wid] = time.time()
            sent_ids.append(wid)
            self.producer.send(self.topic, key, value)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + 0.25
                if self._late(sent_ids, target_s) > late_limit:
                    aborted = True
                    break
        self.producer.flush()
        offered = len(sent_ids) / max(time.monotonic() - t0, 1e-9)
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and any(w not in self._seen for w in sent_ids):
            self.procs.check()
            time.sleep(0.1)
        wait_drained(self.kafka, self.procs, timeout_s=max(10.0, deadline - time.monotonic()))
        after = self.cpu()
        lat = np.array([self._seen[w] - self._sent[w] for w in sent_ids if w in self._seen]) * 1000  # [n] ms
        return StepResult(rate=rate, windows=len(sent_ids), offered=offered,
                          latencies_ms=lat, cpu_s={k: after[k] - before[k] for k in before},
                          wall_s=time.time() - wall0, aborted=aborted, target_ms=self.target_ms)

    def _late(self, sent_ids: list[str], target_s: float) -> int:
        now = time.time()
        late = 0
        for w in sent_ids:
            seen = self._seen.get(w)
            if (seen if seen is not None else now) - self._sent[w] > target_s:
                late += 1
        return late

    def stop(self) -> None:
        """Stop the reader, the producer, the stages and the broker (whatever was started)."""
        if hasattr(self, "_stop"):
            self._stop.set()
            self._watcher.join(5)
            self._tail.close()
        if hasattr(self, "producer"):
            self.producer.close()
        if hasattr(self, "procs"):
            self.procs.stop()
        if hasattr(self, "broker"):
            self.broker.stop()


def default_workdir() -> Path:
    """A fresh folder for one bench run's logs, broker state and store."""
    return default_cache_dir() / "bench" / f"e2e-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
