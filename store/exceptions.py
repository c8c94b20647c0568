"""Errors of the ``store`` room; every one derives from :class:`gaitline.errors.GaitlineError`."""

from __future__ import annotations

from gaitline.errors import GaitlineError


class StoreError(GaitlineError):
    """The store cannot be opened or written."""
