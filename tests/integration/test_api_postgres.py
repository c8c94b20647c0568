"""The control-room API on the real PostgreSQL server: identity search with pages, the person view with
evidence, export, the watchlist and its live alert, each audited. The test works in a schema of its
own (search_path), so it neither sees nor resets what other tests keep in the database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from api.settings import ApiSettings
from store.db import driver_url
from tests.factories import sighting
from tests.unit.api_served import T0, call, gei_png, get_json, served
from tests.unit.test_api_live import Feed

from .conftest import _USED

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = os.environ.get("GAITLINE_TEST_PG_URL")
    if not url:
        pytest.fail("GAITLINE_TEST_PG_URL is not set: run the integration suite through `make test`")
    schema = f"api_{uuid.uuid4().hex[:10]}"
    admin = create_engine(driver_url(url))
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
        version = c.execute(text("select version()")).scalar()
    if not any("PostgreSQL" in u for u in _USED):
        _USED.append(f"real {str(version).split(',')[0]} at {url.split('@')[-1]}")
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_the_api_on_postgresql(tmp_path: Path, pg_url: str, monkeypatch) -> None:
    import tests.unit.api_served as helper
    from store.db import Store

    monkeypatch.setattr(helper, "Store", lambda _url: Store(pg_url))  # the helper's store, on PostgreSQL
    rows = [sighting(sighting_id=f"cam{i % 2}/{i}/0", identity_id=f"p-{i % 3}", camera_id=f"cam{i % 2}",
                     track_id=i, t_start=T0 + 10 * i, x=float(i), evidence_png=gei_png(i)) for i in range(9)]
    with served(tmp_path, rows, settings=ApiSettings(live_poll_s=0.05, live_keepalive_s=0.5)) as s:
        assert s.store.engine.dialect.name == "postgresql"
        op = s.tokens["operator"]
        code, body = get_json(f"{s.base}/api/v1/identities?reason=case%2042&limit=2", op)
        assert code == 200 and body["total"] == 3 and [i["identity_id"] for i in body["identities"]] == ["p-2", "p-1"]
        code, body = get_json(f"{s.base}/api/v1/identities?reason=case%2042&prefix=p-0&camera=cam1", op)
        assert [i["identity_id"] for i in body["identities"]] == ["p-0"] and body["identities"][0]["cameras"] == [
            "cam0", "cam1"]
        code, body = get_json(f"{s.base}/api/v1/identities/p-1/sightings?reason=case%2042", op)
        assert code == 200 and [x["sighting_id"] for x in body["sightings"]] == ["cam1/1/0", "cam0/4/0", "cam1/7/0"]
        assert all(x["evidence"].startswith("data:image/png;base64,") for x in body["sightings"])
        code, _, csv_body = call(f"{s.base}/api/v1/identities/p-1/export?reason=case%2042&format=csv", op)
        assert code == 200 and csv_body.decode().count("\n") == 4
        code, _ = get_json(f"{s.base}/api/v1/watchlist", op, "POST", {"identity_id": "p-1", "reason": "case 42"})
        assert code == 201
        feed = Feed(s.base, op, "reason=case%2042")
        feed.comment()
        s.store.add_sightings([sighting(sighting_id="cam0/99/0", identity_id="p-1", camera_id="cam0", track_id=99,
                                        t_start=T0 + 500, evidence_png=gei_png(99))])
        kind, alert = feed.next(("watchlist",))
        assert (alert["sighting_id"], alert["watch_reason"], alert["watched_by"]) == ("cam0/99/0", "case 42",
                                                                                    "operator-user")
        feed.close()
        assert s.metric("gaitline_api_watchlist_hits_total") == 1
        actions = [e.action for e in s.store.audit_log()]
        assert actions[:3] == ["api.live", "watch", "export"] and "api.where" in actions
