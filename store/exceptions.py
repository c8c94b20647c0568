"""Errors of the ``store`` room; every one derives from :class:`gaitline.errors.GaitlineError`."""

from __future__ import annotations

from gaitline.errors import GaitlineError


class StoreError(GaitlineError):
    """The store cannot be opened or written."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or is not answering: retry later, the records are fine."""


class StoreRefused(StoreError):
    """The store refused a row (a value out of range, a constraint): the record itself is at fault."""
