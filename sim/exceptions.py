"""Errors of the simulator; every one derives from :class:`gaitline.errors.GaitlineError`."""

from __future__ import annotations

from gaitline.errors import GaitlineError


class SimError(GaitlineError):
    """A simulator parameter or output location is impossible (CLI: one line, exit code 2)."""
