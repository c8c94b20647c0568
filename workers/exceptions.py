"""Errors of the ``workers`` room; every one derives from :class:`gaitline.errors.GaitlineError`."""

from __future__ import annotations

from gaitline.errors import GaitlineError


class FramesError(GaitlineError):
    """A camera of the frames stage failed."""


class SourceError(GaitlineError):
    """A camera source cannot be opened or read."""


class UnsupportedSourceError(SourceError):
    """The source URL's scheme or file type is not one gaitline can read."""


class FrameSizeError(SourceError):
    """A source delivers frames of zero or absurd size."""


class AnalyzeError(GaitlineError):
    """The recording, gallery or options of ``gaitline analyze`` are unusable."""
