"""JWTs of an OpenID Connect identity provider, verified against its key set (a JWKS file the test writes,
with its own RSA and EC keys): valid ones open the API with the claimed role, others are refused."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.oidc import OidcVerifier, role_of
from api.settings import ApiSettings
from api.state import oidc_from_settings
from tests.factories import sighting

from .api_served import T0, get_json, served

ISSUER, AUDIENCE = "https://idp.example.test/realms/city", "gaitline"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Any, Any, Path]:
    """An RSA key (kid ``r1``) and an EC P-256 key (kid ``e1``), their public halves in a JWKS file."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = []
    for kid, alg, k in (("r1", jwt.algorithms.RSAAlgorithm, rsa_key), ("e1", jwt.algorithms.ECAlgorithm, ec_key)):
        jwk = json.loads(alg.to_jwk(k.public_key()))
        jwks.append({**jwk, "kid": kid, "use": "sig"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": jwks}))
    return rsa_key, ec_key, path


def _token(key: Any, kid: str = "r1", alg: str = "RS256", **claims: Any) -> str:
    now = time.time()
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-123", "preferred_username": "olga", "iat": now,
            "exp": now + 300, "roles": ["operator"], **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=alg, headers={"kid": kid})


def test_roles_from_the_claim() -> None:
    assert role_of("operator") == "operator" and role_of(["auditor", "x"]) == "auditor"
    assert role_of(["operator", "auditor"]) == "admin" and role_of(["admin"]) == "admin"
    assert role_of(["viewer"]) == "none" and role_of(None) == "none" and role_of(7) == "none"


def test_the_api_accepts_the_providers_jwts_and_refuses_the_rest(tmp_path: Path, keys) -> None:
    rsa_key, ec_key, jwks = keys
    oidc = OidcVerifier(ISSUER, AUDIENCE, str(jwks))
    with served(tmp_path, [sighting(identity_id="p-a", t_start=T0)], oidc=oidc) as s:
        url = f"{s.base}/api/v1/identities?reason=case%2011"
        code, body = get_json(url, _token(rsa_key))
        assert code == 200 and body["total"] == 1
        assert s.store.audit_log()[0].actor == "olga"  # the audit names the provider's user
        assert get_json(f"{s.base}/api/v1/me", _token(ec_key, kid="e1", alg="ES256", roles=["auditor"]))[1] == {
            "user": "olga", "role": "auditor", "permissions": ["audit"]}
        code, body = get_json(url, _token(rsa_key, roles=["viewer"]))  # known, but no gaitline role
        assert code == 403
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        refused = {
            "expired": _token(rsa_key, exp=time.time() - 120),
            "forged": _token(other),  # right kid, wrong key
            "wrong audience": _token(rsa_key, aud="another-app"),
            "wrong issuer": _token(rsa_key, iss="https://evil.example.test"),
            "no expiry": _token(rsa_key, exp=None),
            "unknown kid": _token(rsa_key, kid="r9"),
            "shared secret": jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": time.time() + 60,
                                         "roles": ["admin"]}, "a-shared-secret-anyone-could-hold-" * 2,
                                        algorithm="HS256"),
            "garbage": "a.b.c",
        }
        for what, tok in refused.items():
            code, body = get_json(url, tok)
            assert code == 401 and "error" in body, what
        assert "expired" in get_json(url, refused["expired"])[1]["error"]
        assert s.metric("gaitline_api_denied_total", reason="invalid_jwt") >= 6
        assert s.metric("gaitline_api_denied_total", reason="role") == 1
        assert get_json(url, s.tokens["operator"])[0] == 200  # the token file still works beside OIDC
        assert [e.actor for e in s.store.audit_log()] == ["operator-user", "olga"]  # refused: not audited


def test_a_rotated_key_file_is_read_again(tmp_path: Path, keys) -> None:
    rsa_key, _, jwks = keys
    oidc = OidcVerifier(ISSUER, AUDIENCE, str(jwks), algorithms=("RS256",))
    assert oidc.verify(_token(rsa_key))[0].role == "operator"
    new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(new.public_key())), "kid": "r2"}
    jwks.write_text(json.dumps({"keys": [jwk]}))
    assert oidc.verify(_token(new, kid="r2"))[0].user == "olga"
    assert oidc.verify(_token(rsa_key)) == (None, "invalid_jwt")  # the old key is gone from the set


def test_the_key_set_is_fetched_from_the_providers_url(keys) -> None:
    import http.server
    import threading

    rsa_key, _, jwks = keys
    body = jwks.read_bytes()

    class Jwks(http.server.BaseHTTPRequestHandler):
        hits = 0

        def do_GET(self) -> None:  # noqa: N802
            type(self).hits += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        oidc = OidcVerifier(ISSUER, AUDIENCE, f"http://127.0.0.1:{srv.server_address[1]}/certs")
        for _ in range(3):
            assert oidc.verify(_token(rsa_key))[0].user == "olga"
        assert oidc.verify(_token(rsa_key, kid="nope"))[1] == "invalid_jwt"
        assert 1 <= Jwks.hits <= 3  # cached: not one fetch per token
    finally:
        srv.shutdown()
        srv.server_close()


def test_settings_build_the_verifier_or_say_what_is_missing(tmp_path: Path, keys, monkeypatch) -> None:
    from api.exceptions import AuthError

    assert oidc_from_settings(ApiSettings()) is None
    with pytest.raises(AuthError, match="GAITLINE_API_OIDC_AUDIENCE"):
        oidc_from_settings(ApiSettings(oidc_issuer=ISSUER, oidc_jwks=str(keys[2])))
    with pytest.raises(AuthError, match="JWKS"):
        oidc_from_settings(ApiSettings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks=str(tmp_path / "no")))
    monkeypatch.setenv("GAITLINE_API_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("GAITLINE_API_OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("GAITLINE_API_OIDC_JWKS", str(keys[2]))
    monkeypatch.setenv("GAITLINE_API_OIDC_ROLE_CLAIM", "realm_access.roles")
    v = oidc_from_settings(ApiSettings())
    assert v is not None
    who, _ = v.verify(_token(keys[0], roles=None, realm_access={"roles": ["admin"]}))
    assert who is not None and who.role == "admin"
