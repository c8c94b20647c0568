"""Where a benchmark keeps its result: ``bench/results/<name>.json``, with the host and the command.

Every bench calls :func:`save_result` with its result just before it prints the JSON line;
the file it writes replaces the previous one (git keeps the history)::

    {"bench": "frames", "command": "python -m gaitline bench frames --json",
     "host": {... bench.host.describe() ...}, "result": {... the printed JSON object ...}}

``--out PATH`` writes there instead and ``--no-save`` writes nothing (tests, exploration):
:data:`OUT_OPTION` and :data:`SAVE_OPTION` are those two options, declared once for every
``gaitline bench`` command. The module needs typer and the standard library only, so the GPU
scripts use it on a bare machine.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from bench import host

RESULTS_DIR = Path(__file__).resolve().parent / "results"

OUT_OPTION: Any = typer.Option(None, "--out", dir_okay=False,
                               help="write the result file here instead of bench/results/<name>.json")
SAVE_OPTION: Any = typer.Option(True, "--save/--no-save",
                                help="keep the result file; --no-save writes nothing, not even --out")


def result_path(name: str, out: Path | None = None) -> Path:
    """``out`` if given, else ``bench/results/<name>.json`` next to this package."""
    return out if out is not None else RESULTS_DIR / f"{name}.json"


def command_line() -> str:
    """The command this process runs, as typed: ``python -m gaitline bench …`` or ``gaitline bench …``."""
    argv, orig = list(sys.argv), list(getattr(sys, "orig_argv", []))
    interpreter_part = orig[: max(len(orig) - len(argv) + 1, 0)]
    if "-m" in interpreter_part or "-c" in interpreter_part:  # python -m pkg: argv[0] is pkg/__main__.py
        return shlex.join(orig)
    return shlex.join(argv)


def save_result(name: str, result: dict[str, Any], out: Path | None = None, save: bool = True,
                torch_module: Any = None, started: dict[str, Any] | None = None) -> Path | None:
    """Write ``result`` with the host block and the command line, replacing the previous file.

    Args:
        name: the bench (``frames``, ``embed``, … ``gpu``, ``gpu_embed``): the file's name.
        result: the bench's JSON object, as it prints it.
        out: write here instead of ``bench/results/<name>.json``.
        save: False writes nothing (``--no-save``).
        torch_module: torch, for the host block, when the bench imported it.
        started: the run's :func:`bench.host.mark_start`, for a script that saves after each
            stage (default: the mark ``gaitline bench`` made before the command).
    Returns:
        The path written, or None when ``save`` is False. A line on stderr names it, so the
        last line on stdout stays the bench's JSON object.
    """
    if not save:
        return None
    path = result_path(name, out)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"bench": name, "command": command_line(), "host": host.describe(torch_module, started), "result": result}
    # write beside it, then rename: a bench killed mid-write leaves the previous file whole
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would stay with the file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"result saved to {path}", file=sys.stderr, flush=True)
    return path
