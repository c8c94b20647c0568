"""``python -m gaitline bench embed --json`` as a process: the allocator it reports is the one the
process started with (``GAITLINE_ALLOCATOR`` is read before the first tensor)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ARGS = ["--json", "--no-table", "--profile", "tiny", "--batch", "2", "--seconds", "0.05", "--threads", "1",
        "--no-save"]


def _run(allocator: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "gaitline", "bench", "embed", *ARGS], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "GAITLINE_ALLOCATOR": allocator})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_bench_embed_json_line_names_the_allocator() -> None:
    out = _run("keep")
    assert out["device"] == "cpu"
    assert out["profile"] == "tiny" and out["batch"] == 2 and out["frames"] == 30 and out["windows_per_s"] > 0
    assert out["allocator"] == ("keep" if sys.platform.startswith("linux") else "system")
    # the same figure measured with glibc's own allocator says so
    assert _run("system")["allocator"] == "system"
