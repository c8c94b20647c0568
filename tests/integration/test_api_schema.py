"""Schemathesis over the API's own OpenAPI document, against a real uvicorn server on a SQLite store with
sightings, evidence and a watchlist, with a real admin token: every operation, generated valid and
invalid requests, bounded (a few dozen examples each). No answer may be a 5xx or break its schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from prometheus_client import CollectorRegistry
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from api.auth import TokenBook, issue_token
from api.metrics import ApiMetrics
from api.probe import ProbeSettings
from api.server import Api, make_server
from configs.schema import load_network
from store.db import Store
from tests.factories import sighting
from tests.unit.api_served import T0, gei_png

pytestmark = pytest.mark.integration


@contextmanager
def _empty_gallery() -> Iterator[None]:
    yield None  # nobody enrolled: a clip search answers 404 after the clip checks, without the slow model


@pytest.fixture(scope="module")
def served_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[schemathesis.BaseSchema, str]]:
    tmp = tmp_path_factory.mktemp("schema")
    store = Store(f"sqlite:///{tmp / 'store.db'}")
    store.add_sightings([sighting(sighting_id=f"vtest/{i}/0", identity_id=f"p-{i % 3}", camera_id="vtest",
                                  track_id=i, t_start=T0 + 10 * i, x=float(i), y=1.0, score=0.8,
                                  evidence_png=gei_png(i)) for i in range(12)])
    store.watch("p-1", "seed", "schema run")
    book = tmp / "tokens.json"
    token = issue_token(book, "schemathesis", "admin")
    api = Api(store, TokenBook.load(book), ApiMetrics(CollectorRegistry()), gallery=_empty_gallery,
              probe=ProbeSettings(max_bytes=2**20), network=load_network("vtest"))
    server = make_server(api, "127.0.0.1", 0).start()
    try:
        yield schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json"), token
    finally:
        server.shutdown()
        server.server_close()
        store.close()


def test_no_operation_fails_or_breaks_its_schema(served_schema: tuple[schemathesis.BaseSchema, str]) -> None:
    # schemathesis' pytest plugin does not run under pytest 9 (it sets Function._nodeid): its Python API
    # does the same, operation by operation, valid and invalid requests
    schema, token = served_schema
    auth = {"Authorization": f"Bearer {token}"}
    failures, ran = [], []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path == "/api/v1/live":  # never ends by itself: its events are checked in tests/unit/test_api_live.py
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            statuses: list[int] = []

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                      database=None, phases=[Phase.explicit, Phase.generate, Phase.shrink])
            def run(case: schemathesis.Case) -> None:
                res = case.call(headers=auth)
                statuses.append(res.status_code)
                excluded = []
                # a range that ends before it starts is valid for the schema and refused (400) by the API
                if res.status_code == 400 and "until is before since" in res.text:
                    excluded.append(positive_data_acceptance)
                # a case whose only invalid part was a missing Authorization header is valid with ours; and
                # a query value of None or [] is dropped by the HTTP client: that mutation never reaches the API
                negative = {loc.value for loc, info in case.meta.components.items() if info.mode.is_negative}
                lost = [k for k, v in (case.query or {}).items() if v is None or v == []]
                if negative == {"header"} or (lost and negative <= {"header", "query"}):
                    excluded.append(negative_data_rejection)
                case.validate_response(res, headers=auth, excluded_checks=excluded or None)

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # each failing operation, all reported at the end
                failures.append(f"{op.method.upper()} {op.path} ({mode.value}): {exc}")
            ran.append((op.method.upper(), op.path, mode.value, sorted(set(statuses))))
    assert not failures, "\n\n".join(failures)
    assert len(ran) == 2 * 13, ran  # every operation but the live feed, both modes
    assert any(200 in st or 201 in st for *_, st in ran)  # the valid requests did reach data
