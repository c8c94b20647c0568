"""The host a benchmark ran on: what its figures depend on, and nothing that names the machine.

Hosts here differ about 2x in CPU speed, and torch picks its kernels by instruction set (bf16
on AMX / AVX-512 BF16, fp32 on AVX2), so a figure without its CPU is no figure. The block
records the CPU model and the instruction-set flags that matter, the cores there are and the
cores this process may use, the 1-minute load average when the bench started (a run that
shared its cores shows it), torch's version and threads, the GPUs when torch already uses
CUDA, the Python and platform, a UTC timestamp and the git commit. It never records the
hostname. Standard library only: the GPU scripts import it on a machine without the
streaming stack.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# instruction-set extensions that change which kernels numpy / OpenCV / FAISS / torch run
RELEVANT_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
                  "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8",
                  "asimd", "sve", "sve2")  # the last three: arm64's counterparts
CPUINFO = Path("/proc/cpuinfo")

_start: dict[str, Any] | None = None


def mark_start() -> dict[str, Any]:
    """Note the time and the 1-minute load average now, before the bench loads the cores.

    ``gaitline bench`` calls this before each command; :func:`describe` uses the mark (once)
    so that the block says how busy the host was when the measurement began. Returns the mark,
    for a script that saves several times in one run to pass to :func:`describe` itself.
    """
    global _start
    _start = {"started_utc": _utc_now(), "load_avg_1m_at_start": _load_1m()}
    return _start


def describe(torch_module: Any = None, started: dict[str, Any] | None = None) -> dict[str, Any]:
    """The host block for a result file.

    Args:
        torch_module: torch, when the caller has it; otherwise torch is described only if this
            process has already imported it (importing it here would cost seconds), and by
            its installed version alone if not.
        started: a mark from :func:`mark_start`; default: the last one, if not used yet.
    Returns:
        ``cpu_model``, ``cpu_flags`` (those of :data:`RELEVANT_FLAGS` present),
        ``logical_cores``, ``usable_cores``, ``load_avg_1m_at_start``, ``started_utc``,
        ``finished_utc``, ``python``, ``platform``, ``torch`` (``version``, ``threads``,
        ``gpus``), ``git_commit`` and ``git_dirty`` (None where git is not available).
    """
    global _start
    start = started
    if start is None:
        start, _start = _start, None  # a mark belongs to one run
    if start is None:  # called without mark_start(): the load now is the best there is
        start = {"started_utc": None, "load_avg_1m_at_start": _load_1m()}
    model, flags = cpu()
    commit, dirty = git_state()
    return {
        "cpu_model": model,
        "cpu_flags": flags,
        "logical_cores": os.cpu_count(),
        "usable_cores": _usable_cores(),
        **start,
        "finished_utc": _utc_now(),
        "python": platform.python_version(),
        "platform": platform.platform(),  # OS, kernel, architecture, libc: no node name
        "torch": _torch(torch_module),
        "git_commit": commit,
        "git_dirty": dirty,
    }


def cpu(cpuinfo: Path = CPUINFO) -> tuple[str | None, list[str]]:
    """The CPU model and its relevant flags, from ``cpuinfo`` (Linux) or :mod:`platform`.

    Args:
        cpuinfo: the file to read (``/proc/cpuinfo``; a test passes its own).
    Returns:
        The first processor's model name (None if unknown) and the flags of
        :data:`RELEVANT_FLAGS` it has, in that order.
    """
    model: str | None = None
    present: set[str] = set()
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and model is None:
            model = value.strip() or None
        elif key in ("flags", "features") and not present:  # x86 says flags, arm64 features
            present = set(value.split())
    if model is None:
        model = platform.processor() or None
    return model, [f for f in RELEVANT_FLAGS if f in present]


def git_state(repo: Path | None = None) -> tuple[str | None, bool | None]:
    """``git rev-parse --short HEAD`` of the checkout holding ``repo`` (default: this package),
    and whether tracked files differ from it; (None, None) without git or outside a checkout."""
    where = repo or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=where, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                                capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())


def _torch(torch_module: Any) -> dict[str, Any] | None:
    torch = torch_module or sys.modules.get("torch")
    if torch is None:
        from importlib import metadata

        try:
            return {"version": metadata.version("torch"), "imported": False, "threads": None, "gpus": None}
        except metadata.PackageNotFoundError:
            return None
    gpus: list[str] = []
    try:
        if torch.cuda.is_available():
            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 -- a broken driver must not cost the bench its result
        gpus = []
    return {"version": str(torch.__version__), "imported": True, "threads": int(torch.get_num_threads()),
            "gpus": gpus}


def _usable_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count()


def _load_1m() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
