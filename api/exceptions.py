"""Errors of the ``api`` room; every one derives from :class:`gaitline.errors.GaitlineError`."""

from __future__ import annotations

from gaitline.errors import GaitlineError


class AuthError(GaitlineError):
    """The token file or a token request is invalid."""


class ProbeError(GaitlineError):
    """The clip cannot be searched (unreadable, no walker, or no comparable gallery)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ApiError(GaitlineError):
    """A request the API refuses: answered as ``{"error": message}`` with ``status`` (a 4xx, or 503)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = int(status)
        self.headers = headers or {}
