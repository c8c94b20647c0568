"""Errors of the ``gait`` room; every one derives from :class:`gaitline.errors.GaitlineError`."""

from __future__ import annotations

from gaitline.errors import GaitlineError


class DatasetError(GaitlineError):
    """A dataset folder or sequence file cannot be read or has the wrong layout."""


class ProjectionError(GaitlineError):
    """The projection cannot be fitted from what was given."""


class CheckpointError(GaitlineError):
    """A checkpoint file cannot be read or is not a gait checkpoint."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint's tensors do not fit the model built from the config."""


class UnknownEmbedderError(GaitlineError):
    """No embedder is registered under the requested name."""


class MissingCheckpointError(GaitlineError):
    """A named model has no checkpoint file on this installation."""


class TrainError(GaitlineError):
    """The training request cannot be carried out (bad dataset, profile or options)."""
