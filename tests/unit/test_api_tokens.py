"""Tokens that expire and are revoked without a restart: the file, the commands, a running server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.auth import TokenBook, issue_token, list_tokens, parse_expiry, revoke_token
from api.exceptions import AuthError
from gaitline.cli.main import app
from tests.factories import sighting

from .api_served import T0, get_json, served


def test_expiry_accepts_durations_dates_and_never() -> None:
    now = 1_000_000.0
    assert parse_expiry("8h", now) == now + 8 * 3600
    assert parse_expiry("30d", now) == now + 30 * 86_400
    assert parse_expiry("90m", now) == now + 5400 and parse_expiry("2w", now) == now + 14 * 86_400
    assert parse_expiry("never", now) is None
    assert parse_expiry("2099-12-31") == datetime(2099, 12, 31, tzinfo=UTC).timestamp()
    assert parse_expiry("2099-12-31T18:00+02:00") == datetime(2099, 12, 31, 16, tzinfo=UTC).timestamp()
    for bad in ("soon", "8x", "0h", "-3d", "2001-01-01"):
        with pytest.raises(AuthError, match="expires"):
            parse_expiry(bad)


def test_a_token_expires_and_a_revoked_one_is_refused(tmp_path: Path) -> None:
    book = tmp_path / "t.json"
    short = issue_token(book, "ann", "operator", expires=time.time() + 3600)
    tokens = TokenBook.load(book)
    assert tokens.check(short) == (tokens.authenticate(short), "") and tokens.authenticate(short).user == "ann"
    assert tokens.check(short, now=time.time() + 3601) == (None, "expired_token")
    entry = list_tokens(book)[0]
    assert entry.token_id == entry.sha256[:12] and entry.created and entry.expires and entry.revoked is None
    other = issue_token(book, "bob", "auditor")
    assert tokens.authenticate(other).user == "bob"  # the book read the file again: issued after it was loaded
    revoke_token(book, entry.token_id)
    assert tokens.check(short) == (None, "revoked_token")
    assert tokens.authenticate(other).role == "auditor"
    with pytest.raises(AuthError, match="no token with id"):
        revoke_token(book, "abcdef123")
    with pytest.raises(AuthError, match="not a token id"):
        revoke_token(book, "xyz")


def test_the_old_file_format_still_loads_and_a_broken_rewrite_keeps_the_last_good_book(tmp_path: Path) -> None:
    from api.auth import digest

    book = tmp_path / "t.json"
    book.write_text(json.dumps({"tokens": [{"sha256": digest("old-token"), "user": "carol", "role": "admin"}]}))
    tokens = TokenBook.load(book)
    assert tokens.authenticate("old-token").role == "admin"
    book.write_text("{ half written")
    assert tokens.authenticate("old-token").user == "carol"  # logged, not thrown away
    book.write_text(json.dumps({"tokens": [{"sha256": "x", "user": "u", "role": "operator", "colour": "red"}]}))
    with pytest.raises(AuthError, match="must have sha256"):
        TokenBook.load(book)


def test_the_server_refuses_a_token_revoked_while_it_runs(tmp_path: Path) -> None:
    with served(tmp_path, [sighting(identity_id="p-a", t_start=T0)]) as s:
        url = f"{s.base}/api/v1/identities?reason=shift%20check"
        assert get_json(url, s.tokens["operator"])[0] == 200
        expired = issue_token(s.book, "eve", "operator", expires=time.time() - 1)  # issued, already past
        code, body = get_json(url, expired)
        assert code == 401 and "expired" in body["error"]
        tid = next(e.token_id for e in list_tokens(s.book) if e.user == "operator-user")
        revoke_token(s.book, tid)
        code, body = get_json(url, s.tokens["operator"])
        assert code == 401 and "revoked" in body["error"]
        assert get_json(url, s.tokens["admin"])[0] == 200  # the others still work
        assert s.metric("gaitline_api_denied_total", reason="revoked_token") == 1
        assert s.metric("gaitline_api_denied_total", reason="expired_token") == 1
        assert {e.actor for e in s.store.audit_log()} == {"operator-user", "admin-user"}  # refused: nothing audited


def test_token_commands_issue_list_and_revoke(tmp_path: Path) -> None:
    book = str(tmp_path / "tokens.json")
    cli = CliRunner()
    res = cli.invoke(app, ["api", "token", "--user", "dana", "--role", "operator", "--expires", "8h",
                           "--tokens", book])
    assert res.exit_code == 0, res.output
    token = res.output.strip()
    assert TokenBook.load(Path(book)).authenticate(token).user == "dana"
    res = cli.invoke(app, ["api", "tokens", "--tokens", book, "--json"])
    row = json.loads(res.output.strip().splitlines()[0])
    assert (row["user"], row["role"], row["state"]) == ("dana", "operator", "active")
    assert row["expires"] == pytest.approx(time.time() + 8 * 3600, abs=60) and token not in res.output
    res = cli.invoke(app, ["api", "tokens", "--tokens", book])
    assert res.exit_code == 0 and row["id"] in res.output and "active" in res.output
    res = cli.invoke(app, ["api", "revoke", row["id"], "--tokens", book])
    assert res.exit_code == 0 and f"revoked {row['id']}" in res.output
    assert TokenBook.load(Path(book)).authenticate(token) is None
    assert "revoked" in cli.invoke(app, ["api", "tokens", "--tokens", book]).output
    for args, msg in ((["api", "revoke", "0000000", "--tokens", book], "no token with id"),
                      (["api", "token", "--user", "x", "--role", "operator", "--expires", "someday", "--tokens", book],
                       "--expires"),
                      (["api", "tokens", "--tokens", str(tmp_path / "none.json")], "cannot read token file")):
        res = cli.invoke(app, args)
        assert res.exit_code == 2 and msg in res.output and "Traceback" not in res.output, res.output
