"""``gaitline bench faults``: delivery guarantees under faults, through the real broker and a real PostgreSQL.

A simulated city (rendered once, cut into silhouette windows by the frames stage) flows through
the embed, index and track stages, started as processes exactly as in a cluster, on a broker and
a PostgreSQL cluster of the bench's own (so they can be killed and restarted without touching
anyone else's). The run is a sequence of segments; each publishes the city's windows again under
fresh window and track ids at a steady rate and, a third of the way in, injects one fault:

=================  ===================================================================
``clean``          nothing (the reference the others are compared with)
``kill9_<stage>``  SIGKILL of the embed, index or track process, then a restart
``kill9_frames``   the frames stage publishing the city itself, SIGKILLed and restarted
``broker_restart`` the broker killed (SIGKILL) and started again
``pg_restart``     PostgreSQL crash-stopped, down a few seconds, started again
``embed_add``      a second embed agent joins (rebalance)
``sigstop_embed``  the first embed agent SIGSTOPped past its session timeout, then SIGCONT
``embed_remove``   the second embed agent stopped with SIGTERM (rebalance)
=================  ===================================================================

After each segment has drained, the accounting is end to end, by window id: every window
published has an embedding, exactly one identity decision (``sightings.v1``) and one row in the
store. ``lost`` counts windows missing downstream, ``duplicates`` windows given two different
identities or stored twice (a record redelivered with the same decision is only
``redelivered``: consumers deduplicate by window id). ``recovery_s`` is the time from the
injection until a window published after it is in the store. ``same_identities_as_clean`` says
whether the segment grouped its windows into identities as the clean segment did.

Last line: one JSON object, per fault ``injected``, ``survived``, ``lost``, ``duplicates``,
``recovery_s``, and the totals; kept with the host in ``bench/results/faults.json``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from bench.pgcluster import PrivatePostgres, free_port
from bench.results import OUT_OPTION, SAVE_OPTION, save_result
from gaitline.errors import GaitlineError
from store.db import Store
from streams.admin import ensure_topics
from streams.broker import LocalBroker
from streams.clients import TopicTail
from streams.schemas import Embedding, Sighting, TrackletWindow
from streams.settings import BrokerSettings, KafkaSettings
from streams.topics import DEADLETTER, EMBEDDINGS, SIGHTINGS, TRACKLETS
from workers.demo import StageProcs, wait_drained

ALL_FAULTS = ("clean", "kill9_embed", "kill9_index", "kill9_track", "broker_restart", "pg_restart", "embed_add",
              "sigstop_embed", "embed_remove", "kill9_frames")
SHORT = ("clean", "kill9_index", "kill9_track", "pg_restart")
SESSION_TIMEOUT_S = 10.0  # streams.stage_app's consumer session timeout


@dataclass
class Segment:
    """One fault's share of the run: the windows it published and what happened."""

    fault: str
    ids: list[str] = field(default_factory=list)
    source_index: dict[str, int] = field(default_factory=dict)  # window id -> index of the city's window
    injected: bool = False
    injected_at: float | None = None
    marker: str | None = None  # the first window published after the injection
    recovered_at: float | None = None
    drained: bool = False
    gallery_miscounted: int | None = None  # identities whose gallery count differs from their stored sightings
    error: str | None = None


class Rig:
    """The bench's services and stage processes, and how to hurt them."""

    def __init__(self, workdir: Path, model: str, partitions: int) -> None:
        self.workdir = workdir
        self.broker = LocalBroker(BrokerSettings(port=free_port(), controller_port=free_port(),
                                                 state_dir=workdir / "kafka", start_timeout_s=120))
        self.pg = PrivatePostgres()
        self.partitions = partitions
        self.kafka = KafkaSettings(bootstrap=self.broker.bootstrap, namespace=f"faults-{uuid.uuid4().hex[:6]}",
                                   topic_partitions=partitions)
        self.procs = StageProcs(workdir)
        self.env = {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
                    "GAITLINE_KAFKA_NAMESPACE": self.kafka.namespace,
                    "GAITLINE_KAFKA_TOPIC_PARTITIONS": str(partitions), "GAITLINE_EMBED_MODEL": model,
                    "GAITLINE_EMBED_METRICS_PORT": "0", "GAITLINE_INDEX_METRICS_PORT": "0",
                    "GAITLINE_TRACK_METRICS_PORT": "0"}
        self.store: Store | None = None

    def start(self) -> None:
        """Start the broker, PostgreSQL and the three stages."""
        self.broker.start()
        self.pg.init()
        self.env["GAITLINE_TRACK_STORE_URL"] = self.pg.url
        ensure_topics(self.kafka)
        self.store = Store(self.pg.url)
        for stage in ("embed", "index", "track"):
            self.procs.start(stage, self.env)

    def stop(self) -> None:
        """Stop everything the rig started."""
        for proc in self.procs.procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
        self.procs.stop()
        if self.store is not None:
            self.store.close()
        self.broker.stop()
        self.pg.destroy()

    def restart_broker(self) -> None:
        """SIGKILL the broker (no clean shutdown), then start it again on the same folder and port."""
        pid = self.broker.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            while Path(f"/proc/{pid}").exists() and _state(pid) != "Z":
                time.sleep(0.05)
        self.broker.pid_file.unlink(missing_ok=True)
        time.sleep(2.0)
        self.broker.start()

    def stored(self, window_id: str) -> bool:
        """Whether the store holds ``window_id`` (False while the database is away)."""
        assert self.store is not None
        try:
            return self.store.has_sighting(window_id)
        except GaitlineError:
            return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def city_windows(workdir: Path, seed: int, seconds: float) -> tuple[Path, list[TrackletWindow]]:
    """Render a small city and cut it into windows with the frames stage (in this process)."""
    from configs.schema import load_network
    from sim.city import plan_city
    from sim.cityrender import render_city
    from workers.frames.cameras import run_cameras
    from workers.frames.settings import FramesSettings

    city = workdir / "city"
    render_city(plan_city(2, 8, seconds, seed, fps=10.0, width=384, height=288), city)
    loaded = load_network(city / "network.yaml")
    out: list[TrackletWindow] = []
    run_cameras(loaded, [c.id for c in loaded.network.cameras], FramesSettings(), out.append, threading.Event())
    if not out:
        raise GaitlineError(f"the city in {city} gave no windows")
    return city / "network.yaml", out


def _inject(rig: Rig, fault: str) -> None:
    procs = rig.procs
    if fault.startswith("kill9_") and fault != "kill9_frames":
        stage = fault.removeprefix("kill9_")
        procs.kill(stage, signal.SIGKILL)
        time.sleep(1.0)
        procs.restart(stage)
    elif fault == "broker_restart":
        rig.restart_broker()
    elif fault == "pg_restart":
        rig.pg.restart(down_s=5.0)
    elif fault == "embed_add":
        procs.start("embed", rig.env, name="embed-2")
    elif fault == "sigstop_embed":
        procs.kill("embed", signal.SIGSTOP)
        time.sleep(SESSION_TIMEOUT_S + 5)
        procs.kill("embed", signal.SIGCONT)
    elif fault == "embed_remove":
        procs.kill("embed-2", signal.SIGTERM)
    elif fault != "clean":
        raise GaitlineError(f"unknown fault {fault!r} (known: {', '.join(ALL_FAULTS)})")


def _feed(rig: Rig, seg: Segment, source: list[TrackletWindow], n: int, rate: float, number: int) -> None:
    """Publish ``n`` windows of ``source`` under segment ``number``'s ids, injecting the fault after a third."""
    from workers.frames.publish import WindowPublisher

    publisher = WindowPublisher(rig.kafka, max_block_s=5.0, delivery_timeout_s=30.0)
    t0 = time.monotonic()
    try:
        for i in range(n):
            w = source[i % len(source)]
            track = w.track_id + 10_000 * number + 1_000 * (i // len(source))
            wid = f"{w.camera_id}/{track}/{w.frame_start}"
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            publisher(w.model_copy(update={"window_id": wid, "track_id": track}))
            seg.ids.append(wid)
            seg.source_index[wid] = i
            if i == n // 3 and seg.fault != "clean":
                seg.injected_at = time.monotonic()
                _inject(rig, seg.fault)
                seg.injected = True
            if seg.injected_at is not None and seg.marker is None and i > n // 3:
                seg.marker = wid
    finally:
        publisher.close(timeout_s=120)


def _frames_segment(rig: Rig, seg: Segment, network: Path) -> None:
    """Run the frames stage on the city as a process, SIGKILL it once it has published, and restart it."""
    def frames() -> subprocess.Popen[bytes]:
        log = open(rig.workdir / "frames.log", "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen([sys.executable, "-m", "gaitline", "worker", "frames", "--network", str(network),
                                 "--metrics-port", "0", "--realtime"], env=rig.env, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        return proc

    topic = TRACKLETS.full_name(rig.kafka.namespace)
    tail = TopicTail(rig.kafka, topic, "gaitline-bench-faults-frames")
    list(tail.to_end())  # only what this segment's frames stage publishes counts below
    proc = frames()
    deadline = time.monotonic() + 120
    before: set[str] = set()
    while len(before) < 3 and time.monotonic() < deadline:  # a few windows out: now it is mid-stream
        before |= {w for w in (_window_id(r.value) for r in tail.poll(500)) if w is not None and _is_city_id(w)}
    seg.injected_at = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    seg.injected = True
    before |= {w for w in (_window_id(r.value) for r in tail.to_end()) if w is not None and _is_city_id(w)}
    proc = frames()  # a file source starts again from the beginning: its windows keep their ids
    seen = set(before)
    deadline = time.monotonic() + 300
    while seg.marker is None and proc.poll() is None and time.monotonic() < deadline:
        for w in (_window_id(r.value) for r in tail.poll(500)):
            if w is not None and _is_city_id(w):
                if w not in before and seg.marker is None:
                    seg.marker = w  # the first window the killed process had not published
                seen.add(w)
    while seg.marker is not None and not rig.stored(seg.marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    if seg.marker is not None and rig.stored(seg.marker):
        seg.recovered_at = time.monotonic()
    code = proc.wait(600)
    if code != 0:
        seg.error = f"the restarted frames stage exited with code {code}"
    seen |= {w for w in (_window_id(r.value) for r in tail.to_end()) if w is not None and _is_city_id(w)}
    tail.close()
    seg.ids = sorted(seen)


def _is_city_id(window_id: str) -> bool:
    parts = window_id.split("/")
    return len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < 10_000


def _is_city_window(value: bytes | None) -> bool:
    wid = _window_id(value)
    return wid is not None and _is_city_id(wid)


def _window_id(value: bytes | None) -> str | None:
    try:
        return TrackletWindow.from_bytes(value).window_id
    except GaitlineError:
        return None


def _read(rig: Rig, spec: Any, schema: Any, key: Callable[[Any], str]) -> dict[str, list[Any]]:
    tail = TopicTail(rig.kafka, spec.full_name(rig.kafka.namespace), f"gaitline-bench-faults-{spec.name}")
    out: dict[str, list[Any]] = defaultdict(list)
    try:
        for r in tail.to_end():
            msg = schema.from_bytes(r.value)
            out[key(msg)].append(msg)
    finally:
        tail.close()
    return out


def gallery_miscounted(rig: Rig) -> int:
    """Identities whose sightings count on the replayed ``gallery.v1`` differs from their rows in the store
    (a window matched twice updates the gallery twice), plus identities only one of them knows."""
    from index.replay import replay_gallery

    assert rig.store is not None
    gallery, _ = replay_gallery(rig.kafka)
    stored: dict[str, int] = defaultdict(int)
    for row in rig.store.all_sightings():
        stored[row.identity_id] += 1
    counts = dict(gallery.counts) if gallery is not None else {}
    return sum(1 for i in set(stored) | set(counts) if stored.get(i) != counts.get(i))


def account(rig: Rig, segments: list[Segment]) -> dict[str, Any]:
    """Per segment and in total: what was lost, doubled or redelivered, end to end."""
    assert rig.store is not None
    embs = _read(rig, EMBEDDINGS, Embedding, lambda m: m.window_id)
    sights = _read(rig, SIGHTINGS, Sighting, lambda m: m.sighting_id)
    rows: dict[str, list[str]] = defaultdict(list)
    for row in rig.store.all_sightings():
        rows[row.sighting_id].append(row.identity_id)
    dl_tail = TopicTail(rig.kafka, DEADLETTER.full_name(rig.kafka.namespace), "gaitline-bench-faults-dl")
    dead = sum(1 for _ in dl_tail.to_end())
    dl_tail.close()
    clean = next((s for s in segments if s.fault == "clean"), None)
    reference = _grouping(clean, rows) if clean else None
    per: dict[str, Any] = {}
    for seg in segments:
        missing_emb = [w for w in seg.ids if w not in embs]
        missing_dec = [w for w in seg.ids if w not in sights]
        missing_row = [w for w in seg.ids if w not in rows]
        two_decisions = [w for w in seg.ids if len({s.identity_id for s in sights.get(w, [])}) > 1]
        two_rows = [w for w in seg.ids if len(rows.get(w, [])) > 1]
        lost = len(set(missing_emb) | set(missing_dec) | set(missing_row))
        dups = len(set(two_decisions) | set(two_rows))
        recovery = (round(seg.recovered_at - seg.injected_at, 2)
                    if seg.recovered_at is not None and seg.injected_at is not None else None)
        same = _grouping(seg, rows) == reference if reference is not None and seg.fault != "kill9_frames" else None
        per[seg.fault] = {
            "injected": seg.injected or seg.fault == "clean", "windows": len(seg.ids),
            "survived": seg.drained and lost == 0 and dups == 0 and seg.error is None and not seg.gallery_miscounted,
            "lost": lost, "duplicates": dups, "recovery_s": recovery,
            "lost_by_stage": {"embed": len(missing_emb), "index": len(missing_dec), "track": len(missing_row)},
            "redelivered": {"embeddings": sum(len(embs.get(w, [])) - 1 for w in seg.ids if w in embs),
                            "sightings": sum(len(sights.get(w, [])) - 1 for w in seg.ids if w in sights)},
            "gallery_miscounted": seg.gallery_miscounted,
            "identities": len({rows[w][0] for w in seg.ids if w in rows}),
            "same_identities_as_clean": same,
            **({"error": seg.error} if seg.error else {})}
    faults = [f for f in per if f != "clean"]
    return {"faults": per, "faults_injected": sum(per[f]["injected"] for f in faults),
            "faults_survived": sum(per[f]["survived"] for f in faults),
            "lost": sum(p["lost"] for p in per.values()), "duplicates": sum(p["duplicates"] for p in per.values()),
            "deadlettered": dead}


def _grouping(seg: Segment | None, rows: dict[str, list[str]]) -> set[frozenset[int]] | None:
    """The segment's windows grouped by the identity the store gave them, as sets of city-window indices."""
    if seg is None:
        return None
    groups: dict[str, set[int]] = defaultdict(set)
    for wid in seg.ids:
        if wid in rows and wid in seg.source_index:
            groups[rows[wid][0]].add(seg.source_index[wid] % 10_000)
    return {frozenset(g) for g in groups.values()}


def run_faults(faults: tuple[str, ...], windows: int, rate: float, model: str, seed: int,
               say: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Run the fault segments and return the accounting (see the module docstring)."""
    unknown = [f for f in faults if f not in ALL_FAULTS]
    if unknown:
        raise GaitlineError(f"unknown fault(s) {', '.join(unknown)} (known: {', '.join(ALL_FAULTS)})")
    if {"sigstop_embed", "embed_remove"} & set(faults) and "embed_add" not in faults:
        raise GaitlineError("sigstop_embed and embed_remove need embed_add before them")
    workdir = Path(tempfile.mkdtemp(prefix="gaitline-faults-"))
    started = time.monotonic()
    network, source = city_windows(workdir, seed, 40.0)
    say(f"city: {len(source)} windows; logs in {workdir}")
    rig = Rig(workdir, model, partitions=2)
    segments: list[Segment] = []
    try:
        rig.start()
        for number, fault in enumerate(faults, start=1):
            seg = Segment(fault)
            segments.append(seg)
            say(f"segment {number}: {fault} ...")
            try:
                if fault == "kill9_frames":
                    _frames_segment(rig, seg, network)
                else:
                    _feed(rig, seg, source, windows, rate, number)
                deadline = time.monotonic() + 300
                while seg.marker and not rig.stored(seg.marker) and time.monotonic() < deadline:
                    rig.procs.check()
                    time.sleep(0.2)
                if seg.marker and rig.stored(seg.marker):
                    seg.recovered_at = time.monotonic()
                wait_drained(rig.kafka, rig.procs, timeout_s=300)
                seg.drained = True
                seg.gallery_miscounted = gallery_miscounted(rig)
            except GaitlineError as exc:
                seg.error = str(exc)
                say(f"segment {number}: {fault} failed: {exc}")
                break
        result = account(rig, segments)
    finally:
        rig.stop()
    result.update({"windows_per_segment": windows, "rate_windows_per_s": rate, "model": model,
                   "partitions": rig.partitions, "elapsed_s": round(time.monotonic() - started, 1),
                   "logs": str(workdir)})
    return result


def faults(json_out: bool = typer.Option(False, "--json", help="last line: one JSON object"),
           only: str = typer.Option(",".join(ALL_FAULTS), "--faults",
                                    help=f"comma-separated, in order (known: {', '.join(ALL_FAULTS)})"),
           short: bool = typer.Option(False, "--short", help=f"only {', '.join(SHORT)} (what make test runs)"),
           windows: int = typer.Option(60, "--windows", min=6, help="windows published per segment"),
           rate: float = typer.Option(10.0, "--rate", min=0.5, help="windows per second offered"),
           model: str = typer.Option("baseline", "--model", help="embedder (baseline keeps the CPU for the stages)"),
           seed: int = typer.Option(0, "--seed", help="the city's seed"),
           out: Path | None = OUT_OPTION,
           save: bool = SAVE_OPTION) -> None:
    """Kill, restart and pause the stages, the broker and PostgreSQL while data flows; count what was lost."""
    from streams.clients import quiet_client_logs

    quiet_client_logs()  # the broker restart makes the feeder's client log every reconnect attempt
    chosen = SHORT if short else tuple(f.strip() for f in only.split(",") if f.strip())
    result = run_faults(chosen, windows, rate, model, seed,
                        say=(lambda m: None) if json_out else (lambda m: typer.echo(m, err=True)))
    if not json_out:
        for name, f in result["faults"].items():
            typer.echo(f"{name:15s} survived={f['survived']} lost={f['lost']} duplicates={f['duplicates']} "
                       f"recovery_s={f['recovery_s']}")
    save_result("faults", result, out, save)
    typer.echo(json.dumps(result))
