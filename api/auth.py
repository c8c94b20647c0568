"""Who may ask the control-room API what: bearer tokens, each bound to a user and a role.

The token file holds only SHA-256 digests of the tokens (a stolen file opens nothing), with the
user every audit entry names and the role that decides what the token may do:

* ``operator``: search (list identities, where an identity was seen, who a camera saw when),
* ``auditor``: read the audit log, and nothing else (the person who checks the searches
  does not search),
* ``admin``: both.

``gaitline api token --user U --role R`` prints a new token once and appends its digest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from api.exceptions import AuthError

ROLES: dict[str, frozenset[str]] = {
    "operator": frozenset({"search"}),
    "auditor": frozenset({"audit"}),
    "admin": frozenset({"search", "audit"}),
}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user: str
    role: str

    def may(self, permission: str) -> bool:
        return permission in ROLES[self.role]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenBook:
    """The tokens a server accepts, read from a JSON file ``{"tokens": [{sha256, user, role}]}``."""

    def __init__(self, entries: list[Principal], digests: list[str]) -> None:
        self._by_digest = dict(zip(digests, entries, strict=True))

    @classmethod
    def load(cls, path: Path) -> TokenBook:
        try:
            data = json.loads(Path(path).read_text())
        except OSError as exc:
            raise AuthError(f"cannot read token file {path}: {exc.strerror} "
                            "(create one with `gaitline api token --user U --role R --tokens FILE`)") from exc
        except json.JSONDecodeError as exc:
            raise AuthError(f"{path}: not JSON: {exc.msg} (line {exc.lineno})") from exc
        entries, digests = [], []
        for i, e in enumerate(data.get("tokens", []) if isinstance(data, dict) else []):
            if not isinstance(e, dict) or set(e) != {"sha256", "user", "role"}:
                raise AuthError(f"{path}: token {i} must have exactly sha256, user and role")
            if e["role"] not in ROLES:
                raise AuthError(f"{path}: token {i}: unknown role {e['role']!r} (known: {', '.join(ROLES)})")
            entries.append(Principal(str(e["user"]), str(e["role"])))
            digests.append(str(e["sha256"]))
        if not entries:
            raise AuthError(f"{path}: no tokens: nobody could use the API")
        return cls(entries, digests)

    def authenticate(self, token: str | None) -> Principal | None:
        """The principal holding ``token``, or None."""
        if not token:
            return None
        want = digest(token)
        for d, who in self._by_digest.items():
            if hmac.compare_digest(d, want):  # constant time: the answer leaks no prefix
                return who
        return None


def issue_token(path: Path, user: str, role: str) -> str:
    """Create a token for ``user`` with ``role``, store its digest in ``path`` and return it."""
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    if not user.strip():
        raise AuthError("--user must not be empty: audit entries name it")
    path = Path(path)
    data: dict[str, list[dict[str, str]]] = {"tokens": []}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise AuthError(f"cannot read token file {path}: {exc}") from exc
    token = secrets.token_urlsafe(32)
    data.setdefault("tokens", []).append({"sha256": digest(token), "user": user.strip(), "role": role})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:  # mkstemp's 0600 stays: only the server's user reads the digests
        json.dump(data, f, indent=1)
    os.replace(tmp, path)
    return token
