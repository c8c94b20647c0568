"""The allocator setting (gait/model/allocator.py): an unknown mode is a named error.

What the setting does to a process (page faults, memory handed back) and the CLI's one-line
refusal: tests/integration/test_allocator.py, in real processes.
"""

from __future__ import annotations

import pytest

from gait.model.allocator import tune_allocator
from gaitline.errors import GaitlineError


def test_an_unknown_mode_is_a_named_error() -> None:
    with pytest.raises(GaitlineError, match="GAITLINE_ALLOCATOR='fast': use keep or system"):
        tune_allocator("fast")
