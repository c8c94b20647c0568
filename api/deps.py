"""What every route depends on: the API's state, the caller (bearer token, role) and the reason.

Order matters and FastAPI keeps it: a route's dependencies run before its query parameters are
validated, so a caller without a good token hears 401 (and one with the wrong role 403) before
anything about the request itself, and nothing is audited for a refused caller.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal
from api.exceptions import ApiError
from api.models import REASON_PATTERN
from api.oidc import looks_like_jwt
from api.state import Api

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
CAMERA_PATTERN = r"^[A-Za-z0-9_.:-]{1,100}(,[A-Za-z0-9_.:-]{1,100})*$"
_ID = re.compile(ID_PATTERN)
MAX_ROWS = 5000  # one answer; a wider search must narrow its time range or page

_bearer = HTTPBearer(auto_error=False, description="a token from `gaitline api token`, or the identity "
                                                   "provider's JWT where OIDC is configured")


def get_api(request: Request) -> Api:
    return request.app.state.api  # type: ignore[no-any-return]


ApiDep = Annotated[Api, Depends(get_api)]


def caller(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """The authenticated caller; 401 for a missing, unknown, expired, revoked or forged token."""
    api = get_api(request)
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        api.metrics.denied.labels("no_token").inc()
        raise ApiError(401, "send 'Authorization: Bearer <token>' (ask an admin for one)",
                       {"WWW-Authenticate": "Bearer"})
    token = creds.credentials.strip()
    who, why = verify_token(api, token)
    if who is None:
        api.metrics.denied.labels(why).inc()
        raise ApiError(401, DENIED.get(why, DENIED["unknown_token"]),
                       {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    request.state.token = token  # a feed that goes on checks it again (routes_live)
    return who


DENIED = {"unknown_token": "unknown or revoked token",
          "expired_token": "the token has expired (ask an admin for a new one)",
          "revoked_token": "unknown or revoked token",
          "invalid_jwt": "the identity provider's token is not valid here (signature, issuer, audience or user claim)"}


def verify_token(api: Api, token: str) -> tuple[Principal | None, str]:
    """``(principal, "")`` for a usable bearer token (the token file's, or the identity provider's
    JWT where one is configured), else ``(None, why)`` with why a key of :data:`DENIED`."""
    if api.oidc is not None and looks_like_jwt(token):
        return api.oidc.verify(token)
    if not looks_like_jwt(token):
        return api.tokens.check(token)
    return None, "unknown_token"


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def known_parameters_only(request: Request) -> None:
    """400 for a query parameter the route does not take (a typo such as ``reasn=`` must not pass unnoticed)
    or one given twice."""
    route = request.scope.get("route")
    if route is None or not hasattr(route, "dependant"):
        return
    known = _QUERY_NAMES.get(id(route))
    if known is None:
        known = _QUERY_NAMES[id(route)] = frozenset(_query_names(route.dependant))
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ApiError(400, f"unknown parameter {unknown[0][:40]!r} (this route takes "
                            f"{', '.join(sorted(known)) or 'none'})")
    twice = sorted(k for k in known if len(request.query_params.getlist(k)) > 1)
    if twice:  # every parameter is one value: which of two the route used would be a guess
        raise ApiError(400, f"parameter {twice[0]!r} is given more than once")


def require(permission: str | tuple[str, ...] | None) -> Callable[..., Principal]:
    """A dependency: the caller, who must hold ``permission`` (or one of several; None: any role), else 403;
    then no query parameter the route does not take (400)."""
    wanted = () if permission is None else (permission,) if isinstance(permission, str) else permission

    def dep(request: Request, who: Annotated[Principal, Depends(caller)]) -> Principal:
        if wanted and not any(who.may(p) for p in wanted):
            get_api(request).metrics.denied.labels("role").inc()
            raise ApiError(403, f"role {who.role!r} may not {' or '.join(wanted)}")
        known_parameters_only(request)
        return who

    return dep


Searcher = Annotated[Principal, Depends(require("search"))]
Auditor = Annotated[Principal, Depends(require("audit"))]
Anyone = Annotated[Principal, Depends(require(None))]

Reason = Annotated[str, Query(min_length=3, max_length=500, pattern=REASON_PATTERN,
                              description="why you ask: at least 3 characters, written to the audit log with "
                                          "your name")]
IdentityId = Annotated[str, Path(pattern=ID_PATTERN, description="an identity id (1-64 letters, digits and . _ : -)")]
Since = Annotated[float | None, Query(description="epoch seconds: only sightings that ended at or after this")]
Until = Annotated[float | None, Query(description="epoch seconds: only sightings that started at or before this")]
Limit = Annotated[int, Query(ge=1, le=MAX_ROWS, description="rows in this page")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="rows skipped before this page")]


def time_range(since: float | None, until: float | None) -> tuple[float | None, float | None]:
    """The checked range: finite numbers, ``until`` not before ``since`` (400 otherwise)."""
    for name, v in (("since", since), ("until", until)):
        if v is not None and not math.isfinite(v):
            raise ApiError(400, f"{name} must be a finite number (epoch seconds)")
    if since is not None and until is not None and until < since:
        raise ApiError(400, "until is before since")
    return since, until


def clean_reason(reason: str) -> str:
    """The reason as it is audited (spaces around it dropped)."""
    return reason.strip()[:500]
