"""Optional: accept an OpenID Connect identity provider's JWTs as bearer tokens.

A site with an identity provider (Keycloak, Entra ID, Okta, ...) configures its issuer, the
audience its tokens carry for gaitline, where its signing keys are (a JWKS file, or the
provider's JWKS URL) and which claim holds the gaitline role; then a JWT signed by one of
those keys, unexpired, for that issuer and audience, is a caller named by its user claim. The
role claim may be a string or a list; the widest gaitline role named wins (``admin``, or both
``operator`` and ``auditor``, is admin). A valid token naming no gaitline role is a known
caller who may do nothing (403, not 401). Only asymmetric algorithms are accepted (RS256,
ES256): a shared-secret HS256 token would let anyone holding the secret mint roles.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import jwt

from api.auth import NO_ROLE, ROLES, Principal

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256")


class OidcVerifier:
    """Verifies JWTs against one issuer's keys.

    Args:
        issuer: the ``iss`` every token must carry (the provider's issuer URL).
        audience: the ``aud`` every token must carry (the client id the provider gives gaitline).
        jwks: a path to a JWKS JSON file (read again when it changes), or an ``https://`` URL
            (fetched, cached, fetched again for an unknown key id).
        role_claim: the claim holding the role(s): ``"roles"``, or a dotted path such as
            ``"realm_access.roles"``.
        user_claim: the claim naming the user in the audit log (``sub`` when it is missing).
        algorithms: accepted signature algorithms, a subset of :data:`ALGORITHMS`.
        leeway_s: clock skew allowed on ``exp``/``nbf``/``iat``.
    """

    def __init__(self, issuer: str, audience: str, jwks: str, role_claim: str = "roles",
                 user_claim: str = "preferred_username", algorithms: tuple[str, ...] = ALGORITHMS,
                 leeway_s: float = 30.0) -> None:
        bad = set(algorithms) - set(ALGORITHMS)
        if bad or not algorithms:
            raise ValueError(f"OIDC algorithms must be among {', '.join(ALGORITHMS)}, got {sorted(bad) or 'none'}")
        self.issuer, self.audience = issuer, audience
        self.role_claim, self.user_claim = role_claim, user_claim
        self.algorithms = list(algorithms)
        self.leeway_s = leeway_s
        self._url = jwks if jwks.startswith(("https://", "http://")) else None
        self._path = None if self._url else Path(jwks)
        self._client = jwt.PyJWKClient(self._url, cache_keys=True, lifespan=300) if self._url else None
        self._keys: dict[str, Any] = {}
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        if self._path is not None:
            self._load_file()  # at start: a missing or broken key file is a configuration error, said once

    def _load_file(self) -> None:
        if self._path is None:
            return
        st = os.stat(self._path)
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            keyset = jwt.PyJWKSet.from_json(self._path.read_text())
            self._keys = {k.key_id or "": k for k in keyset.keys}
            self._stamp = stamp

    def _key(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid") or ""
        if self._client is not None:
            return self._client.get_signing_key(kid) if kid else self._client.get_signing_keys()[0]
        try:
            self._load_file()
        except (OSError, jwt.PyJWTError, json.JSONDecodeError) as exc:
            log.error("the OIDC key file %s cannot be read (%s): using the keys read before", self._path, exc)
        if kid in self._keys:
            return self._keys[kid]
        if not kid and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        raise jwt.InvalidKeyError(f"no key {kid!r} in the identity provider's key set")

    def verify(self, token: str) -> tuple[Principal | None, str]:
        """``(principal, "")`` for a valid token, else ``(None, why)`` (``expired_token`` or ``invalid_jwt``)."""
        try:
            key = self._key(token)
            claims = jwt.decode(token, key=key, algorithms=self.algorithms, audience=self.audience,
                                issuer=self.issuer, leeway=self.leeway_s,
                                options={"require": ["exp", "iss", "aud"]})
        except jwt.ExpiredSignatureError:
            return None, "expired_token"
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            log.info("JWT refused: %s", exc)
            return None, "invalid_jwt"
        user = str(claims.get(self.user_claim) or claims.get("sub") or "").strip()
        if not user:
            return None, "invalid_jwt"
        return Principal(user[:100], role_of(_claim(claims, self.role_claim))), ""


def _claim(claims: dict[str, Any], path: str) -> Any:
    cur: Any = claims
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def role_of(value: Any) -> str:
    """The gaitline role a claim's value grants (:data:`api.auth.NO_ROLE` when it names none)."""
    names = {value} if isinstance(value, str) else {v for v in value if isinstance(v, str)} \
        if isinstance(value, list) else set()
    known = names & set(ROLES)
    if "admin" in known or {"operator", "auditor"} <= known:
        return "admin"
    return next(iter(known)) if known else NO_ROLE


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts: our own tokens (URL-safe base64 of 32 bytes) have no dot."""
    return token.count(".") == 2
