"""Where the default embedder's GPU time goes, and what makes it faster: one call, side by side.

The committed default reads the window and its mirror image (twice the backbone work of a
plain window) and the frames' max, mean and standard deviation. This script times, on one GPU
and in one process, each candidate against the current path, so a short lease answers which
to keep:

* ``model``: the forward pass alone on a batch already on the GPU (CUDA events, median of
  ``--reps``): autocast with the mirror image in a second call (the CPU's choice), in one batch
  with the window, fp16 weights instead of autocast, ``torch.compile``, and the network without
  its projection (one image: the path before the projection read the mirror image; its speed
  is the row ``autocast, no projection (one image)`` in ``bench/results/gpu_embed.json``).
* ``host``: what a call of ``TorchEmbedder.embed`` adds around it (the uint8 batch to pinned
  memory and across; the result back).
* ``agent``: the first call of each batch size an agent may send (a recompile would show as
  seconds), and the compiled embeddings against the eager ones.
* ``embed``: :func:`bench.embed.measure` (the ``gaitline bench embed`` path) compiled and eager,
  at several batch sizes, and the other profiles for the speed table.

It also checks that every variant gives the same embeddings as the current path (max abs
difference of unit vectors), since a faster wrong answer is no answer.

After each stage the results so far, with the host (CPU, GPU, torch) and the command, replace
``bench/results/gpu_embed.json`` (``--result PATH`` writes there instead, ``--no-save``
nowhere); ``--out DIR`` keeps each stage's own file as before.

Usage (on the GPU machine, from the repository root; no streaming stack needed)::

    PYTHONPATH=. python3 -m bench.gpu_embed --out DIR
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.host import mark_start
from bench.results import save_result

DEVICE = "cuda"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cuda_ms(fn: Callable[[], Any], reps: int, warmup: int = 3) -> float:
    """Median milliseconds of ``fn`` on the GPU, timed with CUDA events."""
    import torch

    for _ in range(warmup):
        fn()
    if DEVICE == "cpu":  # a dry run of the script here, not a figure
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            ts.append(1000 * (time.perf_counter() - t0))
        return statistics.median(ts)
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def stage_model(out: Path, batch: int, reps: int, compile_: bool) -> list[dict[str, Any]]:
    import torch

    from gait.model.torch_embedder import CHECKPOINT_DIR, load_embedder

    emb = load_embedder(CHECKPOINT_DIR / "default.pt", "default", device=DEVICE, max_batch=batch)
    base = emb.model
    rng = np.random.default_rng(0)
    x = torch.from_numpy((rng.random((batch, 30, 64, 44)) > 0.5).astype(np.float32)).to(DEVICE)
    xh = x.half()

    def run_autocast(model: Any, inp: torch.Tensor) -> torch.Tensor:
        low = torch.float16 if DEVICE == "cuda" else torch.bfloat16
        with torch.inference_mode(), torch.autocast(DEVICE, dtype=low):
            return torch.nn.functional.normalize(model(inp).embedding.float(), dim=1)

    def run_plain(model: Any, inp: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.nn.functional.normalize(model(inp).embedding.float(), dim=1)

    ref = run_autocast(base, x)
    two, one = copy.deepcopy(base), copy.deepcopy(base)
    two.mirror_batched, one.mirror_batched = False, True
    half = copy.deepcopy(one).half()
    if half.projection is not None:
        half.projection.float()  # the projection's subtraction needs fp32 (gait.model.network.Projection)
    plain = copy.deepcopy(base)
    plain.cfg = dataclasses.replace(plain.cfg, embed_from="bnneck")  # no projection: one image, frames' max
    variants: list[tuple[str, Callable[[], torch.Tensor], bool]] = [
        ("autocast, mirror in a 2nd call", lambda: run_autocast(two, x), True),
        ("autocast, mirror in one batch", lambda: run_autocast(one, x), True),
        ("fp16 weights, mirror in one batch", lambda: run_plain(half, xh), True),
        ("autocast, no projection (one image)", lambda: run_autocast(plain, x), False),
    ]
    if compile_:
        t0 = time.perf_counter()
        try:
            compiled = torch.compile(lambda inp: half(inp).embedding, dynamic=False)

            def run_compiled() -> torch.Tensor:
                with torch.inference_mode():
                    return torch.nn.functional.normalize(compiled(xh).float(), dim=1)

            run_compiled()
            log(f"torch.compile took {time.perf_counter() - t0:.0f} s")
            variants.append(("fp16 weights, one batch, torch.compile", run_compiled, True))
        except Exception as exc:  # noqa: BLE001 -- the other rows stand without it
            log(f"torch.compile failed: {exc!r}"[:400])
    rows: list[dict[str, Any]] = []
    for name, fn, comparable in variants:
        try:
            got = fn()
            diff = float((got - ref).abs().max()) if comparable else None
            ms = cuda_ms(fn, reps)
            row = {"variant": name, "batch": batch, "ms": round(ms, 2), "windows_per_s": round(batch / ms * 1000),
                   "max_abs_diff": diff}
        except Exception as exc:  # noqa: BLE001
            row = {"variant": name, "batch": batch, "error": repr(exc)[:300]}
            torch.cuda.empty_cache()
        rows.append(row)
        log(f"model {row}")
        (out / "model.json").write_text(json.dumps(rows, indent=1))
    return rows


def stage_host(out: Path, batch: int, reps: int) -> dict[str, Any]:
    """Milliseconds of the host work around the forward pass of one batch."""
    import torch

    windows = (np.random.default_rng(1).random((batch, 30, 64, 44)) > 0.5).astype(np.uint8)

    def timed(fn: Callable[[], Any]) -> float:
        fn()
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            if DEVICE == "cuda":
                torch.cuda.synchronize()
            ts.append(1000 * (time.perf_counter() - t0))
        return round(statistics.median(ts), 2)

    res = {
        "batch": batch,
        "numpy_max_ms": timed(lambda: windows.max()),
        "pin_ms": timed(lambda: torch.from_numpy(windows).pin_memory()),
        "pin_and_copy_ms": timed(lambda: torch.from_numpy(windows).pin_memory().cuda(non_blocking=True)),
        "pageable_copy_ms": timed(lambda: torch.from_numpy(windows).cuda()),
    }
    log(f"host {res}")
    (out / "host.json").write_text(json.dumps(res, indent=1))
    return res


def stage_embed(out: Path, seconds: float, profiles: list[str]) -> list[dict[str, Any]]:
    """The ``gaitline bench embed`` path (:func:`bench.embed.measure`), compiled and eager side by side."""
    from bench import embed as bench_embed

    rows: list[dict[str, Any]] = []

    def add(profile: str, batch: int, compile_: bool, precision: str = "auto") -> None:
        try:
            r = bench_embed.measure(profile, DEVICE, batch, seconds=seconds, precision=precision, compile=compile_)
        except Exception as exc:  # noqa: BLE001
            r = {"profile": profile, "batch": batch, "compiled": compile_, "error": repr(exc)[:300]}
        rows.append(r)
        log(f"embed {r}")
        (out / "embed.json").write_text(json.dumps(rows, indent=1))

    if "default" in profiles:
        for b in (512, 2048, 4096):
            for c in (True, False):
                add("default", b, c)
        add("default", 2048, True, "fp32")
    for name in (p for p in ("tiny", "medium", "large") if p in profiles):
        for c in (True, False):
            add(name, 512 if name == "large" else 2048, c)
    return rows


def stage_agent(out: Path) -> dict[str, Any]:
    """What an agent sees: the first call of each batch size (a recompile would cost seconds), and
    the compiled embeddings against the eager ones on the same uint8 0/255 windows."""
    import torch

    from gait.model.torch_embedder import CHECKPOINT_DIR, load_embedder

    rng = np.random.default_rng(2)
    windows = ((rng.random((2048, 30, 64, 44)) > 0.5) * 255).astype(np.uint8)
    emb = load_embedder(CHECKPOINT_DIR / "default.pt", "default", device=DEVICE, max_batch=4096)
    warm_s = emb.warm_up()  # what the agent does before it joins its group
    log(f"agent warm-up {warm_s:.1f} s")
    firsts = []
    for n in (64, 1, 3, 777, 2048, 1500, 64):
        t0 = time.perf_counter()
        emb.embed(windows[:n])
        firsts.append({"windows": n, "s": round(time.perf_counter() - t0, 3)})
        log(f"agent first call {firsts[-1]}")
    got = emb.embed(windows)
    res: dict[str, Any] = {"warm_up_s": round(warm_s, 1), "first_calls": firsts, "compiled": emb.compiled}
    for tag, precision in (("eager_fp16", "auto"), ("eager_fp32", "fp32")):
        ref = load_embedder(CHECKPOINT_DIR / "default.pt", "default", device=DEVICE, compile=False,
                            precision=precision).embed(windows)
        cos = (got * ref).sum(1)
        res[tag] = {"max_abs_diff": float(np.abs(got - ref).max()), "min_cosine": float(cos.min()),
                    "median_cosine": float(np.median(cos))}
    res["unique_graphs"] = int(torch._dynamo.utils.counters["stats"]["unique_graphs"])
    log(f"agent {res}")
    (out / "agent.json").write_text(json.dumps(res, indent=1))
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--stages", default="model,host,agent,embed")
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--profiles", default="default,tiny,medium,large", help="embed stage")
    ap.add_argument("--device", default="cuda", help="cpu: a dry run of the script, not a figure")
    ap.add_argument("--result", type=Path, default=None, help="result file (default: bench/results/gpu_embed.json)")
    ap.add_argument("--no-save", action="store_true", help="write no result file")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    import torch

    started = mark_start()
    results: dict[str, Any] = {}

    global DEVICE
    DEVICE = a.device
    if DEVICE == "cuda":
        p = torch.cuda.get_device_properties(0)
        log(f"torch {torch.__version__}, {p.name}, {p.multi_processor_count} SMs")
    for stage in a.stages.split(","):
        t0 = time.perf_counter()
        try:
            if stage == "model":
                results["model"] = stage_model(a.out, a.batch, a.reps, not a.no_compile)
            elif stage == "host":
                results["host"] = stage_host(a.out, a.batch, a.reps)
            elif stage == "embed":
                results["embed"] = stage_embed(a.out, a.seconds, a.profiles.split(","))
            elif stage == "agent":
                results["agent"] = stage_agent(a.out)
        except Exception as exc:  # noqa: BLE001 -- report and go on: the lease is short
            log(f"stage {stage} failed: {exc!r}")
        log(f"stage {stage} took {time.perf_counter() - t0:.0f} s")
        save_result("gpu_embed", {"device": DEVICE, "stages": results}, a.result, not a.no_save, torch_module=torch,
                    started=started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
