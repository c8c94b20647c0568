"""The host block of a bench result: the CPU and its flags, cores, load, torch, and no hostname."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from bench import host

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Test CPU @ 2.00GHz
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_bf16 amx_tile amx_bf16 avx512_vnni

processor\t: 1
model name\t: Intel(R) Xeon(R) Test CPU @ 2.00GHz
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_bf16 amx_tile amx_bf16 avx512_vnni
"""


def test_cpu_reads_the_model_and_only_the_flags_that_matter(tmp_path: Path) -> None:
    (tmp_path / "cpuinfo").write_text(CPUINFO)
    model, flags = host.cpu(tmp_path / "cpuinfo")
    assert model == "Intel(R) Xeon(R) Test CPU @ 2.00GHz"
    assert flags == ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile",
                     "amx_bf16"]  # in RELEVANT_FLAGS' order; fpu is not one of them
    assert host.cpu(tmp_path / "missing")[1] == []  # no /proc (not Linux): no flags, no error


def test_host_block_has_cpu_model_flags_cores_and_no_hostname() -> None:
    mark = host.mark_start()
    block = host.describe()
    for key in ("cpu_model", "cpu_flags", "logical_cores", "usable_cores", "load_avg_1m_at_start", "started_utc",
                "finished_utc", "python", "platform", "torch", "git_commit", "git_dirty"):
        assert key in block, key
    assert isinstance(block["cpu_flags"], list) and set(block["cpu_flags"]) <= set(host.RELEVANT_FLAGS)
    if Path("/proc/cpuinfo").is_file():
        assert block["cpu_model"]
    assert block["started_utc"] == mark["started_utc"]
    assert 1 <= block["usable_cores"] <= block["logical_cores"]
    assert host.describe()["started_utc"] is None  # the mark was used by the run it belonged to
    name = socket.gethostname()
    assert not {"hostname", "node"} & set(block)
    assert len(name) < 4 or name not in json.dumps(block)


def test_git_state_tolerates_a_folder_outside_any_checkout(tmp_path: Path) -> None:
    assert host.git_state(tmp_path) == (None, None)
