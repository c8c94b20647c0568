"""``gaitline bench api``: how fast the control room gets its answers from a full store, and its alerts.

Fills a store (a fresh SQLite file, or ``--store URL``, e.g. the PostgreSQL of a cluster; it
must be empty) with ``--sightings`` sightings of ``--identities`` people over ``--cameras``
cameras and a day of time, plus one person with ``--person-sightings`` sightings (500) whose
every sighting has its evidence image (a 64x44 gait energy image PNG, as the embed stage writes),
starts the API server (uvicorn) on a free port and times real HTTP requests with a token, one at
a time: where a random person was seen, who a camera saw in a random 10-minute window, the first
page of identities (the page's first request), and **the person view with evidence** (the 500
sightings with their images as data URLs; target p95 <= 300 ms from a 1M-sighting store).

With ``--live`` (the default) it then measures **a sighting published on sightings.v1 -> the
SSE event on a connected page** (target p95 <= 1 s): its own Kafka broker, the real track stage
(``gaitline worker track``, a process, with its default batching) writing to a SQLite store, the
API's live feed polling that store, and a reader of ``/api/v1/live`` in this process; each of
``--live-sightings`` sightings is timed from just before it is sent to the moment its event is
read. The JSON object is kept with the host in ``bench/results/api.json``.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import typer

from bench.results import OUT_OPTION, SAVE_OPTION, save_result
from gaitline.errors import GaitlineError

T0 = 1_700_000_000.0
DAY = 86_400.0
PERSON = "p-followed"


def gei_png(seed: int) -> bytes:
    """A gait energy image the size and kind the embed stage stores: a blurred walking silhouette, 64x44 PNG."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.zeros((64, 44), np.uint8)  # [h, w]
    cv2.ellipse(img, (22, 10), (5, 6), 0, 0, 360, 255, -1)  # head
    cv2.ellipse(img, (22, 28), (8, 14), 0, 0, 360, 230, -1)  # trunk
    spread = int(rng.integers(3, 9))
    cv2.line(img, (22, 40), (22 - spread, 63), 160, 5)  # legs, as the mean of a stride blurs them
    cv2.line(img, (22, 40), (22 + spread, 63), 160, 5)
    ok, buf = cv2.imencode(".png", cv2.GaussianBlur(img, (5, 5), 1.5))
    if not ok:
        raise GaitlineError("cannot encode a PNG (OpenCV)")
    return buf.tobytes()


def fill(store: Any, sightings: int, identities: int, cameras: int, seed: int = 0) -> float:
    """Insert synthetic sightings; returns the seconds it took.

    Rows go in through SQLAlchemy's bulk insert, not the track worker's validated path: the
    bench times the queries, and a million validated messages would take minutes to fill.
    """
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from store.db import SightingRow

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for start in range(0, sightings, 50_000):
        n = min(50_000, sightings - start)
        who, cam = rng.integers(0, identities, n), rng.integers(0, cameras, n)
        at, xy = T0 + rng.random(n) * DAY, rng.random((n, 2)) * 500
        rows = [{"sighting_id": f"w{start + i}", "identity_id": f"p-{who[i]:08d}", "camera_id": f"cam{cam[i]}",
                 "track_id": i, "region": "r", "t_start": float(at[i]), "t_end": float(at[i]) + 3.0,
                 "x": float(xy[i, 0]), "y": float(xy[i, 1]), "ground_plane": True, "score": 0.9, "enrolled": False,
                 "model": "default", "cadence_spm": 110.0, "speed_mps": 1.3} for i in range(n)]
        with Session(store.engine) as session, session.begin():
            session.execute(insert(SightingRow), rows)  # executemany
    return time.perf_counter() - t0


def fill_person(store: Any, n: int, cameras: int, seed: int = 1) -> float:
    """Add :data:`PERSON` with ``n`` sightings over the day, each with its evidence image; returns the seconds."""
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from store.db import SightingRow
    from store.evidence import EvidenceRow

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    at = np.sort(T0 + rng.random(n) * DAY)
    rows = [{"sighting_id": f"f{i}", "identity_id": PERSON, "camera_id": f"cam{int(rng.integers(cameras))}",
             "track_id": i, "region": "r", "t_start": float(at[i]), "t_end": float(at[i]) + 3.0,
             "x": float(rng.random() * 500), "y": float(rng.random() * 500), "ground_plane": True, "score": 0.9,
             "enrolled": i == 0, "model": "default", "cadence_spm": 110.0, "speed_mps": 1.3} for i in range(n)]
    images = [{"sighting_id": f"f{i}", "gei_png": gei_png(i), "keyframe_jpeg": None} for i in range(n)]
    with Session(store.engine) as session, session.begin():
        session.execute(insert(SightingRow), rows)
        session.execute(insert(EvidenceRow), images)
    return time.perf_counter() - t0


def _timed(url: str, token: str) -> float:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
    return (time.perf_counter() - t) * 1000


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.array(ms)
    return {"p50_ms": round(float(np.median(a)), 2), "p95_ms": round(float(np.quantile(a, 0.95)), 2),
            "p99_ms": round(float(np.quantile(a, 0.99)), 2), "max_ms": round(float(a.max()), 2), "n": len(ms)}


def _served(store: Any, tmp: Path, **settings: Any) -> tuple[Any, str]:
    from prometheus_client import CollectorRegistry

    from api.auth import TokenBook, issue_token
    from api.metrics import ApiMetrics
    from api.server import Api, make_server
    from api.settings import ApiSettings

    book = tmp / "tokens.json"
    token = issue_token(book, "bench", "operator")
    api = Api(store, TokenBook.load(book), ApiMetrics(CollectorRegistry()), settings=ApiSettings(**settings))
    return make_server(api, "127.0.0.1", 0).start(), token


def measure(store_url: str, sightings: int, identities: int, cameras: int, queries: int,
            person_sightings: int = 500) -> dict[str, Any]:
    """Fill the store at ``store_url`` (empty) and time the API's answers from it."""
    from store.db import Store

    store = Store(store_url)
    if store.count():
        raise GaitlineError(f"--store {store_url} already holds sightings: the bench needs an empty store")
    fill_s = fill(store, sightings, identities, cameras)
    person_s = fill_person(store, person_sightings, cameras)
    with tempfile.TemporaryDirectory() as tmp:
        server, token = _served(store, Path(tmp))
        base = f"{server.url}/api/v1"
        rng = np.random.default_rng(1)
        try:
            _timed(f"{base}/identities/p-00000000/sightings?reason=bench", token)  # warm-up
            where = [_timed(f"{base}/identities/p-{rng.integers(identities):08d}/sightings?reason=bench", token)
                     for _ in range(queries)]
            camera = []
            for _ in range(queries):
                t = T0 + float(rng.random()) * (DAY - 600)
                camera.append(_timed(f"{base}/sightings?camera=cam{rng.integers(cameras)}&since={t}"
                                     f"&until={t + 600}&reason=bench", token))
            listing = [_timed(f"{base}/identities?limit=500&reason=bench", token) for _ in range(max(3, queries // 20))]
            person_url = f"{base}/identities/{PERSON}/sightings?reason=bench"
            with urllib.request.urlopen(urllib.request.Request(
                    person_url, headers={"Authorization": f"Bearer {token}"}), timeout=60) as r:
                body = r.read()
            view = json.loads(body)
            with_images = sum(1 for s in view["sightings"] if s["evidence"])
            if with_images != person_sightings:
                raise GaitlineError(f"the person view carried {with_images} evidence images, not {person_sightings}")
            person = [_timed(person_url, token) for _ in range(max(20, queries // 3))]
        finally:
            server.shutdown()
            server.server_close()
            store.close()
    return {"store": store_url.split(":")[0], "sightings": sightings + person_sightings, "identities": identities,
            "cameras": cameras, "fill_s": round(fill_s + person_s, 1), "where": _stats(where),
            "camera_10min": _stats(camera), "identities_list": _stats(listing),
            "person_view_with_evidence": {**_stats(person), "sightings": person_sightings,
                                          "answer_bytes": len(body), "target_p95_ms": 300.0}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_feed(url: str, token: str, arrived: dict[str, float], opened: threading.Event,
               stop: threading.Event) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", "/api/v1/live?reason=bench&camera=bench-cam", headers={"Authorization": f"Bearer {token}"})
    res = conn.getresponse()
    opened.set()
    kind = None
    while not stop.is_set():
        try:
            line = res.fp.readline()
        except TimeoutError:
            continue
        now = time.perf_counter()
        if not line:
            return
        text = line.decode().rstrip("\n")
        if text.startswith("event: "):
            kind = text[7:]
        elif text.startswith("data: ") and kind == "sighting":
            arrived.setdefault(json.loads(text[6:])["sighting_id"], now)


def measure_live(n: int = 100, rate: float = 5.0, workdir: Path | None = None) -> dict[str, Any]:
    """Sightings published on ``sightings.v1`` at ``rate`` per second -> their SSE events: latency figures."""
    from api.server import Api  # noqa: F401 - imported first: a broken API must fail before the broker starts
    from store.db import Store
    from streams.admin import ensure_topics
    from streams.broker import LocalBroker
    from streams.clients import Producer
    from streams.schemas import GaitParams, Sighting
    from streams.settings import BrokerSettings, KafkaSettings
    from streams.topics import SIGHTINGS
    from workers.demo import StageProcs

    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="gaitline-bench-live-")) if own else Path(workdir)  # type: ignore[arg-type]
    work.mkdir(parents=True, exist_ok=True)
    broker = LocalBroker(BrokerSettings(port=_free_port(), controller_port=_free_port(), state_dir=work / "broker"))
    broker.start()
    procs = StageProcs(work)
    server = store = producer = None
    stop = threading.Event()
    try:
        kafka = KafkaSettings(bootstrap=broker.bootstrap, namespace=f"bench-api-{uuid.uuid4().hex[:8]}")
        ensure_topics(kafka)
        store_url = f"sqlite:///{work / 'live.db'}"
        store = Store(store_url)
        procs.start("track", {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": kafka.bootstrap,
                              "GAITLINE_KAFKA_NAMESPACE": kafka.namespace, "GAITLINE_TRACK_STORE_URL": store_url,
                              "GAITLINE_TRACK_METRICS_PORT": "0"})
        server, token = _served(store, work)
        arrived: dict[str, float] = {}
        opened = threading.Event()
        threading.Thread(target=_read_feed, args=(server.url, token, arrived, opened, stop), daemon=True).start()
        if not opened.wait(30):
            raise GaitlineError("the live feed did not open")
        producer = Producer(kafka, "gaitline-bench-api", linger_ms=0, acks=1)
        topic = SIGHTINGS.full_name(kafka.namespace)
        png = gei_png(0)

        def send(sid: str) -> float:
            now = time.time()
            s = Sighting(sighting_id=sid, identity_id="p-bench", camera_id="bench-cam", track_id=1, region="r",
                         t_start=now - 3, t_end=now, x=1.0, y=2.0, ground_plane=True, score=0.9, enrolled=False,
                         model="default", gait=GaitParams(), evidence_png=png)
            t = time.perf_counter()
            producer.send(topic, b"p-bench", s.to_bytes())
            producer.flush(10)
            return t

        deadline = time.monotonic() + 180  # the track stage's consumer group forms: not part of any figure
        while "warmup" not in arrived:
            procs.check()
            if time.monotonic() > deadline:
                raise GaitlineError(f"no sighting reached the live feed within 180 s (logs in {work})")
            send("warmup")
            time.sleep(1.0)
        sent: dict[str, float] = {}
        for i in range(n):
            sent[f"live-{i}"] = send(f"live-{i}")
            time.sleep(max(0.0, 1.0 / rate - 0.001))
        deadline = time.monotonic() + 30
        while len([k for k in sent if k in arrived]) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        ms = [(arrived[k] - t) * 1000 for k, t in sent.items() if k in arrived]
        if not ms:
            raise GaitlineError("no timed sighting reached the live feed")
    finally:
        stop.set()
        if producer is not None:
            producer.close(5)
        if server is not None:
            server.shutdown()
            server.server_close()
        procs.stop()
        broker.stop()
        if store is not None:
            store.close()
    a = np.array(ms)
    return {"n": n, "received": len(ms), "rate_per_s": rate, "p50_ms": round(float(np.median(a)), 1),
            "p95_ms": round(float(np.quantile(a, 0.95)), 1), "max_ms": round(float(a.max()), 1),
            "target_p95_ms": 1000.0,
            "path": "producer -> sightings.v1 -> gaitline worker track (SQLite) -> API live poller -> SSE reader"}


def api(
    json_out: bool = typer.Option(False, "--json", help="last line: one JSON object"),
    sightings: int = typer.Option(1_000_000, min=100, help="sightings in the store"),
    identities: int = typer.Option(50_000, min=1, help="people they belong to"),
    cameras: int = typer.Option(100, min=1, help="cameras they were seen on"),
    queries: int = typer.Option(300, min=10, help="timed requests per kind"),
    person_sightings: int = typer.Option(500, min=1, max=5000, help="sightings of the person whose view "
                                         "(with evidence) is timed"),
    live: bool = typer.Option(True, "--live/--no-live", help="also time sightings.v1 -> SSE through a broker "
                              "and the track stage"),
    live_sightings: int = typer.Option(100, min=5, help="sightings timed through the live feed"),
    store: str | None = typer.Option(None, help="an empty store URL (default: a temporary SQLite file in /tmp)"),
    out: Path | None = OUT_OPTION,
    save: bool = SAVE_OPTION,
) -> None:
    """Benchmark the control-room API: answer times from a store of a city's size, and the live feed's delay."""
    with tempfile.TemporaryDirectory(prefix="gaitline-bench-api-") as tmp:
        res = measure(store or f"sqlite:///{Path(tmp) / 'bench.db'}", sightings, identities, cameras, queries,
                      person_sightings)
    for k in ("where", "camera_10min", "identities_list", "person_view_with_evidence"):
        r = res[k]
        typer.echo(f"{k:>26}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, p99 {r['p99_ms']} ms (n={r['n']})")
    if live:
        res["live_sse"] = measure_live(live_sightings)
        r = res["live_sse"]
        typer.echo(f"{'sightings.v1 -> SSE':>26}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms "
                   f"({r['received']}/{r['n']} received)")
    save_result("api", res, out, save)
    typer.echo(json.dumps(res) if json_out else f"{res['sightings']} sightings, filled in {res['fill_s']} s")
