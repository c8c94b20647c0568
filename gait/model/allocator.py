"""Keep freed tensor memory in the process instead of handing it back to the kernel.

glibc's malloc serves every block above its mmap threshold (at most 32 MB under its dynamic
rule) with a fresh ``mmap``, which the kernel zero-fills page by page on first touch, and
returns it with ``munmap`` on free; it also trims the top of the heap back to the kernel. The
activations of one batch of windows are hundreds of MB, so every forward pass faulted them in
again, and the kernel's page faulting showed up as system time next to the convolutions. With
both thresholds raised, large tensors come from the heap and stay there for the next batch: the
default model embeds and trains markedly faster on CPU, and the process's peak memory grows,
since freed memory is kept for reuse rather than returned (``bench/allocator_ab.sh`` runs
``gaitline bench embed`` both ways, side by side; each result in ``bench/results/embed.json``
records its ``allocator``). A repeated
pattern of allocations grows the heap for a few rounds (a freed block can be a little too small
for the next aligned one) and then settles: ``tests/unit/test_allocator.py`` counts the faults.

``gaitline`` applies it at start (:func:`gaitline.cli.main.main`); ``GAITLINE_ALLOCATOR=system``
keeps glibc's own behaviour (for a memory-tight pod that prefers returning memory to speed).
Elsewhere than glibc (musl, macOS) nothing changes.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

from gaitline.errors import GaitlineError

log = logging.getLogger(__name__)

ENV = "GAITLINE_ALLOCATOR"
MODES = ("keep", "system")
# mallopt(3) parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# mallopt takes an int: the largest threshold it can express, far above any one tensor here
_THRESHOLD = 2**31 - 1
_in_effect = "system"


def _glibc() -> ctypes.CDLL | None:
    """The C library where it is glibc (whose malloc these knobs belong to), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # musl names its libc otherwise
        return None


def tune_allocator(mode: str | None = None) -> bool:
    """Apply ``mode`` (default: ``$GAITLINE_ALLOCATOR``, else ``keep``); True when glibc took it.

    Raises:
        GaitlineError: ``mode`` is neither ``keep`` nor ``system``.
    """
    global _in_effect
    mode = mode if mode is not None else os.environ.get(ENV, "keep")
    if mode not in MODES:
        raise GaitlineError(f"{ENV}={mode!r}: use {' or '.join(MODES)}")
    libc = _glibc() if mode == "keep" else None
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    ok = mallopt(M_MMAP_THRESHOLD, _THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, _THRESHOLD) == 1
    if not ok:
        log.warning("glibc refused the malloc thresholds: large tensors stay on mmap (slower on CPU)")
        return False
    _in_effect = "keep"
    return True


def release_memory() -> bool:
    """Hand the freed memory kept in the heap back to the kernel (``malloc_trim``), for a process
    that moves from embedding to a different, large job (``gaitline fit-lda``: its LDA); True
    when glibc released something."""
    trim = getattr(_glibc(), "malloc_trim", None)
    return bool(trim(0)) if trim is not None else False


def in_effect() -> str:
    """``keep`` once :func:`tune_allocator` took effect in this process, else ``system``."""
    return _in_effect
