"""Shared fixtures: paths to real inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


@pytest.fixture(scope="session")
def vtest_video() -> Path:
    """The real pedestrian video from Debian's opencv-doc (installed by `make test`)."""
    if not VTEST.exists():
        pytest.fail(f"{VTEST} is missing: install Debian's opencv-doc (make test does)")
    return VTEST
