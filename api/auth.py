"""Who may ask the control-room API what: bearer tokens, each bound to a user and a role.

The token file holds only SHA-256 digests of the tokens (a stolen file opens nothing), with the
user every audit entry names and the role that decides what the token may do:

* ``operator``: search (list identities, where an identity was seen, who a camera saw when),
* ``auditor``: read the audit log, and nothing else (the person who checks the searches
  does not search),
* ``admin``: both.

``gaitline api token --user U --role R --expires 8h`` prints a new token once and appends its
digest with when it was made and when it expires; ``gaitline api revoke ID`` marks it revoked.
A running server notices a changed file at the next request (a ``stat`` per request: cheap,
and a revoked token stops working at once, with no restart). A site with an OpenID Connect
identity provider may accept its JWTs as well (:mod:`api.oidc`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.exceptions import AuthError

log = logging.getLogger(__name__)

ROLES: dict[str, frozenset[str]] = {
    "operator": frozenset({"search"}),
    "auditor": frozenset({"audit"}),
    "admin": frozenset({"search", "audit"}),
}
NO_ROLE = "none"  # an identity provider's user whose token names no gaitline role: known, allowed nothing
_KEYS = {"sha256", "user", "role"}
_OPTIONAL = {"created", "expires", "revoked"}
ID_CHARS = 12  # a token id is this many hex digits of its digest: enough to name it, useless to forge it


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user: str
    role: str

    def may(self, permission: str) -> bool:
        return permission in ROLES.get(self.role, frozenset())

    @property
    def permissions(self) -> list[str]:
        return sorted(ROLES.get(self.role, frozenset()))


@dataclass(frozen=True)
class TokenEntry:
    """One token as the file keeps it (never the token itself)."""

    sha256: str
    user: str
    role: str
    created: float | None = None
    expires: float | None = None
    revoked: float | None = None

    @property
    def token_id(self) -> str:
        return self.sha256[:ID_CHARS]

    def state(self, now: float) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and now >= self.expires:
            return "expired"
        return "active"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_expiry(text: str, now: float | None = None) -> float | None:
    """When a token given ``--expires TEXT`` stops working (epoch seconds), or None for ``never``.

    ``TEXT`` is a duration (``90m``, ``8h``, ``30d``, ``2w``) from now, or an ISO date or date-time
    (``2026-12-31``, ``2026-12-31T18:00``; UTC unless it names its offset).
    """
    now = time.time() if now is None else now
    s = text.strip()
    if s.lower() == "never":
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([mhdw])", s.lower())
    if m:
        seconds = float(m.group(1)) * {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}[m.group(2)]
        if seconds <= 0:
            raise AuthError(f"--expires {text!r}: the duration must be more than zero")
        return now + seconds
    try:
        at = datetime.fromisoformat(s)
    except ValueError:
        raise AuthError(f"--expires {text!r}: give a duration (90m, 8h, 30d, 2w), an ISO date "
                        "(2026-12-31 or 2026-12-31T18:00) or 'never'") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    when = at.timestamp()
    if when <= now:
        raise AuthError(f"--expires {text!r} is in the past")
    return when


def _read(path: Path) -> list[TokenEntry]:
    """The entries of a token file; :class:`AuthError` naming the file and the entry otherwise."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise AuthError(f"cannot read token file {path}: {exc.strerror} "
                        "(create one with `gaitline api token --user U --role R --tokens FILE`)") from exc
    except json.JSONDecodeError as exc:
        raise AuthError(f"{path}: not JSON: {exc.msg} (line {exc.lineno})") from exc
    out = []
    for i, e in enumerate(data.get("tokens", []) if isinstance(data, dict) else []):
        if not isinstance(e, dict) or not set(e) >= _KEYS or set(e) - _KEYS - _OPTIONAL:
            raise AuthError(f"{path}: token {i} must have sha256, user and role (and optionally created, "
                            "expires, revoked)")
        if e["role"] not in ROLES:
            raise AuthError(f"{path}: token {i}: unknown role {e['role']!r} (known: {', '.join(ROLES)})")
        try:
            times = {k: None if e.get(k) is None else float(e[k]) for k in _OPTIONAL}
        except (TypeError, ValueError):
            raise AuthError(f"{path}: token {i}: created, expires and revoked are epoch seconds or null") from None
        out.append(TokenEntry(str(e["sha256"]), str(e["user"]), str(e["role"]), **times))
    return out


class TokenBook:
    """The tokens a server accepts, read from a JSON file ``{"tokens": [{sha256, user, role, ...}]}``.

    A book loaded from a file follows it: :meth:`authenticate` compares the file's size, mtime and
    inode with what it read and reads it again when they changed (tokens issued or revoked while
    the server runs count from the next request). A file that turns unreadable or invalid keeps
    the last good book in force and is logged: a half-edited file must not open or close the door.
    """

    def __init__(self, entries: list[TokenEntry], path: Path | None = None) -> None:
        self._by_digest = {e.sha256: e for e in entries}
        self._path = path
        self._stamp = _stamp(path) if path is not None else None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> TokenBook:
        """Read ``path``; :class:`AuthError` when it is missing, invalid or holds no tokens."""
        stamp = _stamp(Path(path))
        entries = _read(Path(path))
        if not entries:
            raise AuthError(f"{path}: no tokens: nobody could use the API")
        book = cls(entries, Path(path))
        book._stamp = stamp  # the file as it was before reading: a write meanwhile is read next time
        return book

    @property
    def entries(self) -> list[TokenEntry]:
        return list(self._by_digest.values())

    def refresh(self) -> None:
        """Read the file again if it changed since it was read."""
        if self._path is None:
            return
        stamp = _stamp(self._path)
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                entries = _read(self._path)
            except AuthError as exc:
                log.error("token file changed but cannot be used, keeping the tokens read before: %s", exc)
                self._stamp = stamp
                return
            self._by_digest = {e.sha256: e for e in entries}
            self._stamp = stamp
            log.info("token file %s read again: %d token(s)", self._path, len(entries))

    def check(self, token: str | None, now: float | None = None) -> tuple[Principal | None, str]:
        """``(principal, "")`` for a usable token, else ``(None, why)`` with why one of ``no_token``,
        ``unknown_token``, ``expired_token``, ``revoked_token``."""
        if not token:
            return None, "no_token"
        self.refresh()
        want = digest(token)
        found = None
        for d, entry in self._by_digest.items():
            if hmac.compare_digest(d, want):  # constant time: the answer leaks no prefix
                found = entry
        if found is None:
            return None, "unknown_token"
        state = found.state(time.time() if now is None else now)
        if state != "active":
            return None, f"{state}_token"
        return Principal(found.user, found.role), ""

    def authenticate(self, token: str | None) -> Principal | None:
        """The principal holding ``token`` (unexpired, not revoked), or None."""
        return self.check(token)[0]


def _stamp(path: Path | None) -> tuple[int, int, int] | None:
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[list[dict[str, Any]]]:
    """The token list of ``path`` to change in place, written back atomically (mode 0600) under a lock
    (two admins issuing tokens at once both keep theirs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data: dict[str, list[dict[str, Any]]] = {"tokens": []}
        if path.exists():
            try:
                data = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise AuthError(f"cannot read token file {path}: {exc}") from exc
            if not isinstance(data, dict) or not isinstance(data.get("tokens", []), list):
                raise AuthError(f"{path}: not a token file (expected {{\"tokens\": [...]}})")
        tokens = data.setdefault("tokens", [])
        yield tokens
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as f:  # mkstemp's 0600 stays: only the server's user reads the digests
            json.dump(data, f, indent=1)
        os.replace(tmp, path)


def issue_token(path: Path, user: str, role: str, expires: float | None = None) -> str:
    """Create a token for ``user`` with ``role``, store its digest in ``path`` and return it.

    Args:
        path: the token file (created if missing).
        user: who the audit log names for the token's searches.
        role: ``operator``, ``auditor`` or ``admin``.
        expires: epoch seconds after which the token is refused (None: never).
    """
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    if not user.strip():
        raise AuthError("--user must not be empty: audit entries name it")
    token = secrets.token_urlsafe(32)
    with _locked(Path(path)) as tokens:
        tokens.append({"sha256": digest(token), "user": user.strip(), "role": role, "created": round(time.time(), 3),
                       "expires": None if expires is None else round(expires, 3), "revoked": None})
    return token


def revoke_token(path: Path, token_id: str) -> TokenEntry:
    """Mark the token whose id (a prefix of its digest, at least 6 hex digits) is ``token_id`` as revoked."""
    tid = token_id.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{6,64}", tid):
        raise AuthError(f"{token_id!r} is not a token id: 6 to 64 hex digits, as `gaitline api tokens` lists them")
    if not Path(path).exists():
        raise AuthError(f"cannot read token file {path}: no such file")
    with _locked(Path(path)) as tokens:
        hits = [t for t in tokens if isinstance(t, dict) and str(t.get("sha256", "")).startswith(tid)]
        if not hits:
            raise AuthError(f"no token with id {tid} in {path} (list them with `gaitline api tokens`)")
        if len(hits) > 1:
            raise AuthError(f"{len(hits)} tokens have ids starting {tid}: give more digits")
        hit = hits[0]
        if hit.get("revoked") is None:
            hit["revoked"] = round(time.time(), 3)
    return TokenEntry(str(hit["sha256"]), str(hit["user"]), str(hit["role"]), hit.get("created"),
                      hit.get("expires"), hit.get("revoked"))


def list_tokens(path: Path) -> list[TokenEntry]:
    """The tokens of ``path`` (their ids, users, roles and times; never a token)."""
    return _read(Path(path))
