"""``gaitline bench embed --json``: the last line is the figure's JSON object, as the issue names it."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_bench_embed_json_line() -> None:
    env = {**os.environ, "GAITLINE_ALLOCATOR": "keep"}
    proc = subprocess.run([sys.executable, "-m", "gaitline", "bench", "embed", "--json", "--no-table",
                           "--profile", "tiny", "--batch", "2", "--seconds", "0.05", "--threads", "1"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["device"] == "cpu" and out["profile"] == "tiny" and out["batch"] == 2 and out["frames"] == 30
    assert out["windows_per_s"] > 0 and abs(out["ms_per_window"] * out["windows_per_s"] - 1000) < 50
    want = "keep" if sys.platform.startswith("linux") else "system"
    assert out["allocator"] == want
    # the same figure measured with glibc's own allocator says so
    proc = subprocess.run([sys.executable, "-m", "gaitline", "bench", "embed", "--json", "--no-table",
                           "--profile", "tiny", "--batch", "2", "--seconds", "0.05", "--threads", "1"],
                          capture_output=True, text=True, timeout=300, env={**env, "GAITLINE_ALLOCATOR": "system"})
    assert json.loads(proc.stdout.strip().splitlines()[-1])["allocator"] == "system"
