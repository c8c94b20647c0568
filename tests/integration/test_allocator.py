"""The process keeps freed tensor memory (gait/model/allocator.py): counted in page faults, not time,
in fresh processes; and the CLI refuses a bad setting in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

# allocate, touch and free 64 MB, 16 times over; print the minor page faults of the last four
_PROBE = """
import resource, sys
from gait.model.allocator import in_effect, tune_allocator
print(tune_allocator(sys.argv[1]) and in_effect() == "keep")
import torch
faults = []
for _ in range(16):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    x = torch.empty(16 << 20)
    x.fill_(1.0)
    del x
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sum(faults[-4:]))
"""


def _faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, timeout=120,
                         check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_freed_memory_is_reused_instead_of_faulted_in_again() -> None:
    pages = (64 << 20) // 4096
    applied, kept = _faults("keep")
    untouched, system = _faults("system")
    assert applied == "True" and untouched == "False"
    # glibc's own rule maps each 64 MB block afresh: every page faults again, each time
    assert system > 3 * pages, system
    # kept: once the heap has grown to hold the pattern (a few rounds), no page faults again
    assert kept < pages // 10, kept


_RELEASE = """
from gait.model.allocator import release_memory, tune_allocator
tune_allocator("keep")
import torch
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
x = torch.empty(16 << 20)
x.fill_(1.0)
del x
kept = rss()
print(release_memory(), kept - rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_release_hands_kept_memory_back() -> None:
    out = subprocess.run([sys.executable, "-c", _RELEASE], capture_output=True, text=True, timeout=120,
                         check=True).stdout.split()
    assert out[0] == "True" and int(out[1]) > 48 << 20, out  # of the 64 MB freed and kept


def test_the_cli_refuses_a_bad_setting_in_one_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "gaitline", "sim", "--help"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "GAITLINE_ALLOCATOR": "fast"})
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "GAITLINE_ALLOCATOR" in lines[0], proc.stderr
