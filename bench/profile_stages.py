"""Where a consumer stage's CPU goes per window: ``python -m bench.profile_stages --rate R``.

Runs the pipeline of ``gaitline bench e2e`` (:mod:`bench.pipeline`) at one steady rate and,
while it runs, samples every thread of the embed, index and track processes with py-spy
(``pip install py-spy``; it reads the processes' memory, so it needs ptrace rights: root, or
``kernel.yama.ptrace_scope`` 0). Each sampled stack is put in the first category whose marker
it holds (:data:`CATEGORIES`: the model, decoding, the handler's own work, encoding, sending,
committing, fetching, faust's stream machinery, the event loop, ...). Only samples of a thread
holding the GIL are kept (``--gil``: without it py-spy counts a thread parked in ``epoll`` as
busy), so a category's samples over the sampling rate are the Python work it costs; the rest of
the process's CPU seconds per window (``/proc/<pid>/stat``) ran outside the GIL: torch's kernels,
compression, system calls. On a host whose cores are oversubscribed, a thread can hold the GIL
while the OS has it waiting for a core, which inflates the Python share. The result, with the host, goes to
``bench/results/profile_stages.json``; docs/benchmarks.md reads it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import host
from bench.pipeline import STAGES, Pipeline, default_workdir, source_windows
from bench.results import save_result

CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # (category, markers: a frame's "function (file:line)" text containing one of them)
    ("model (torch)", ("torch_embedder.py", "gait/model/", "torch/")),
    ("decode (schemas.from_bytes)", ("from_bytes (streams/schemas.py", "decode_masks", "decode_vector")),
    ("encode (to_bytes)", ("to_bytes (streams/schemas.py",)),
    ("store write (SQLAlchemy)", ("store/db.py", "sqlalchemy/")),
    ("gallery follower (kafka-python)", ("_follow (index/stage.py", "index/replay.py")),
    ("handler (stage logic)", ("WindowEmbedder.__call__", "IdentityMatcher.__call__", "SightingWriter.__call__",
                               "BatchRunner.handle")),
    ("send (faust/aiokafka producer)", ("BatchRunner.deliver", "aiokafka/producer/", "faust/transport/producer",
                                        "Producer.send", "Topic.send", "_send (", "publish_message",
                                        "StageApp.send")),
    ("commit", ("commit", "Consumer._commit")),
    ("fetch (aiokafka consumer)", ("aiokafka/consumer/", "aiokafka/record/", "_drain_messages", "getmany",
                                   "Fetcher", "_fetch")),
    ("faust streams/events/acks", ("faust/",)),
    ("metrics and timers", ("prometheus_client/", "_consumer_lag")),
    ("kafka client I/O (aiokafka conn)", ("aiokafka/",)),
    ("stage loop (streams/stage_app.py)", ("stage_app.py",)),
    ("event loop (asyncio)", ("asyncio/", "selectors.py", "mode/", "uvloop")),
)


def classify(stack: str) -> str:
    """The category of one sampled stack (frames joined by ``;``, root first)."""
    for name, markers in CATEGORIES:
        if any(m in stack for m in markers):
            return name
    return "other"


def read_raw(path: Path) -> Counter[str]:
    """Samples per category from a py-spy ``--format raw`` file (one ``stack count`` per line)."""
    counts: Counter[str] = Counter()
    if not path.is_file():
        return counts
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            counts[classify(stack)] += int(n)
    return counts


def profile(rate: float, seconds: float, py_spy: str, sample_hz: int = 97) -> dict[str, Any]:
    """Run the pipeline at ``rate`` windows/s for ``seconds`` with py-spy on every stage; the breakdown."""
    windows = source_windows()
    pipe = Pipeline(default_workdir())
    try:
        pipe.start(windows)
        pipe.step(rate, 3.0)  # warm-up
        spies: dict[str, subprocess.Popen[bytes]] = {}
        for stage in STAGES:
            pid = pipe.pids()[stage][0]
            spies[stage] = subprocess.Popen(
                [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds) + 2), "--rate", str(sample_hz),
                 "--format", "raw", "--nonblocking", "--gil", "-o", str(pipe.workdir / f"{stage}.pyspy.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # py-spy attaches
        res = pipe.step(rate, seconds)
        for spy in spies.values():
            spy.wait(60)
    finally:
        pipe.stop()
    summary = res.summary()
    out: dict[str, Any] = {"rate": rate, "seconds": seconds, "step": summary, "stages": {}}
    n_windows = max(summary["windows"], 1)
    for stage in STAGES:
        counts = read_raw(pipe.workdir / f"{stage}.pyspy.txt")
        cpu_ms = summary["cpu_s_per_window"][stage] * 1000
        # a sample is 1/sample_hz s of a thread holding the GIL: Python's own work, by category
        gil_ms = {k: 1000 * v / sample_hz / n_windows for k, v in counts.most_common()}
        out["stages"][stage] = {
            "cpu_ms_per_window": round(cpu_ms, 3),
            "gil_held_ms_per_window": round(sum(gil_ms.values()), 3),
            # what ran without the GIL: torch's kernels, compression, system calls (sockets, fsync)
            "outside_gil_ms_per_window": round(max(0.0, cpu_ms - sum(gil_ms.values())), 3),
            "samples": sum(counts.values()),
            "ms_per_window": {k: round(v, 3) for k, v in gil_ms.items()},
        }
    out["logs"] = str(pipe.workdir)
    return out


_OMP = """
import json, time, numpy as np, torch
torch.set_num_threads(2)
from gait.model.registry import get_embedder
emb = get_embedder("default", device="cpu")
x = (np.random.default_rng(0).random((8, 30, 64, 44)) > 0.5).astype(np.float32)
out = {}
for b in (1, 2, 8):
    emb.embed(x[:b])
    c0, w0, n = time.process_time(), time.perf_counter(), 0
    while time.perf_counter() - w0 < 3.0:
        emb.embed(x[:b])
        n += b
    out[str(b)] = {"cpu_ms_per_window": round((time.process_time() - c0) / n * 1000, 2),
                   "wall_ms_per_window": round((time.perf_counter() - w0) / n * 1000, 2)}
print(json.dumps(out))
"""


def openmp_wait_policies(neighbours: int = 0) -> dict[str, Any]:
    """The embed model on 2 threads at the agents' small batches, with OpenMP's default wait policy (its
    threads spin between kernels) and with ``PASSIVE`` (they sleep), each in a process of its own, while
    ``neighbours`` busy processes share the cores (what the other stages and pods of a small host are)."""
    import os

    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(neighbours)]
    out: dict[str, Any] = {}
    try:
        for policy in ("default", "PASSIVE"):
            env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
            if policy != "default":
                env["OMP_WAIT_POLICY"] = policy
            proc = subprocess.run([sys.executable, "-c", _OMP], capture_output=True, text=True, env=env,
                                  timeout=300, check=False)
            out[policy] = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
    finally:
        for p in busy:
            p.kill()
            p.wait()
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.profile_stages [--rate R] [--seconds S] [--no-save]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=10.0, help="windows/s offered (below the knee)")
    ap.add_argument("--seconds", type=float, default=30.0, help="how long to sample")
    ap.add_argument("--out", type=Path, default=None, help="result file (default bench/results/profile_stages.json)")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--openmp-only", action="store_true", help="only the OpenMP wait-policy timing")
    args = ap.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).is_file():
        print("py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return 2
    host.mark_start()
    result = profile(args.rate, args.seconds, py_spy) if not args.openmp_only else {}
    # per batch size: CPU and wall ms per window, alone and with two busy neighbours on the cores
    result["embed_openmp_wait_policy"] = {"alone": openmp_wait_policies(0),
                                          "two_busy_neighbours": openmp_wait_policies(2)}
    save_result("profile_stages", result, args.out, not args.no_save)
    for stage, d in result.get("stages", {}).items():
        print(f"{stage}: {d['cpu_ms_per_window']} ms CPU per window, {d['outside_gil_ms_per_window']} ms of it "
              "outside the GIL")
        for k, v in d["ms_per_window"].items():
            print(f"  {v:8.3f}  {k}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
