"""``gaitline bench embed``: windows per second of the gait embedders.

Measures the real inference path (:class:`gait.model.torch_embedder.TorchEmbedder`) on 30-frame
64x44 0/1 windows, as the frames stage sends them. On CPU, the path the agents run (``--runtime``,
default ``GAITLINE_EMBED_CPU_RUNTIME`` or ``auto``: :mod:`gait.model.cpu_runtime`) and the baseline
(``eager`` in fp32: the network as trained) are timed **interleaved in one run** (ours, baseline,
ours, ... ``--rounds`` times; the median call of each), so another process taking the shared cores
slows both alike. ``--isa avx2`` reruns the command with AVX-512/AMX turned off in every kernel
library (ATen, oneDNN, MKL, FBGEMM), as on an AVX2-only host; the JSON records the ISA each
library actually used. The profile's committed checkpoint is used when it exists; otherwise an
untrained model of the same sizes (speed does not depend on the weights). Prints a speed table
across model sizes, then, as the last line with ``--json``, one JSON object: ``device``,
``windows_per_s``, ``ms_per_window``, ``runtime``, ``precision``, ``baseline`` (the same for
eager fp32), ``speedup``, ``isa``, ``threads``, ``load_avg``, ``profile``, ``allocator`` (``keep``
when freed tensor memory stays in the process, :mod:`gait.model.allocator`),
``gflops_per_window`` (+ ``cuda`` when a GPU was measured too, and ``table``). The same object is
kept, with the host, in ``bench/results/embed.json`` (:mod:`bench.results`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer

from bench.results import OUT_OPTION, SAVE_OPTION, save_result
from gaitline.errors import GaitlineError

#: what ``--isa avx2`` sets before torch loads: the ceiling of each kernel library's dispatch
AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
            "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2"}


def _embedder(profile: str, device: str, max_batch: int, precision: str = "auto",
              compile: bool | None = None, cpu_runtime: str | None = None) -> Any:
    from gait.model.checkpoint import Checkpoint
    from gait.model.network import GaitModel, profile_config
    from gait.model.torch_embedder import CHECKPOINT_DIR, TorchEmbedder, load_embedder

    path = CHECKPOINT_DIR / f"{profile}.pt"
    if path.is_file():
        return load_embedder(path, profile, device=device, max_batch=max_batch, precision=precision,
                             compile=compile, cpu_runtime=cpu_runtime)
    try:
        cfg = profile_config(profile)
    except KeyError as exc:
        raise GaitlineError(str(exc.args[0])) from exc
    import torch

    model = GaitModel(cfg).to(torch.device(device)).eval()
    from gait.model.cpu_runtime import default_runtime

    return TorchEmbedder(Checkpoint(model=model, config=cfg, version="untrained"), profile, max_batch=max_batch,
                         precision=precision, compile=compile, cpu_runtime=cpu_runtime or default_runtime())


def flops_per_window(profile: str, frames: int = 30) -> int:
    """Floating-point operations (a multiply-add counts 2) the embedder spends on one window of
    ``frames`` frames, counted by torch's FLOP counter over the real inference path in fp32 (the
    backbone, pooling, projection and, where the checkpoint reads it, the mirrored window)."""
    from torch.utils.flop_counter import FlopCounterMode

    emb = _embedder(profile, "cpu", max_batch=1, precision="fp32", compile=False, cpu_runtime="eager")
    window = np.ones((1, frames, 64, 44), np.uint8)
    with FlopCounterMode(display=False) as counter:
        emb.embed(window)
    return int(counter.get_total_flops())


def _windows(batch: int, frames: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((batch, frames, 64, 44)) > 0.5).astype(np.uint8)  # 0/1, as the frames stage sends


def _row(emb: Any, profile: str, device: str, batch: int, times: list[float], first_call_s: float) -> dict[str, Any]:
    # the median call: robust to another process grabbing the shared cores for a moment
    dt = float(np.median(times))
    return {"profile": profile, "device": device, "runtime": getattr(emb, "runtime", "eager"),
            "precision": emb.precision, "compiled": emb.compiled, "batch": batch, "dim": emb.dim,
            "calls": len(times), "first_call_s": round(first_call_s, 1),
            "windows_per_s": round(batch / dt, 1), "ms_per_window": round(1000 * dt / batch, 3)}


def side_by_side(profile: str, batch: int, rounds: int = 5, calls: int = 2, frames: int = 30,
                 cpu_runtime: str | None = None, compile: bool | None = None) -> dict[str, dict[str, Any]]:
    """``ours`` (the agents' CPU path: ``cpu_runtime``, precision ``auto``) and ``baseline`` (eager
    fp32) timed in turns: ``rounds`` times ``calls`` calls of ``batch`` windows each, ours first.
    Returns a :func:`measure`-style row for each, plus ``per_round`` windows/s."""
    embs = {"ours": _embedder(profile, "cpu", batch, precision="auto", compile=compile, cpu_runtime=cpu_runtime),
            "baseline": _embedder(profile, "cpu", batch, precision="fp32", compile=False, cpu_runtime="eager")}
    windows = _windows(batch, frames)
    first: dict[str, float] = {}
    for name, emb in embs.items():
        t0 = time.perf_counter()
        emb.embed(windows[: min(batch, 4)])  # warm-up: allocator, oneDNN kernel choice, int8 weight packing
        first[name] = time.perf_counter() - t0
        emb.embed(windows)
    times: dict[str, list[float]] = {name: [] for name in embs}
    per_round: dict[str, list[float]] = {name: [] for name in embs}
    for _ in range(rounds):
        for name, emb in embs.items():
            ts = []
            for _ in range(calls):
                t0 = time.perf_counter()
                emb.embed(windows)
                ts.append(time.perf_counter() - t0)
            times[name] += ts
            per_round[name].append(round(batch / float(np.median(ts)), 1))
    return {name: {**_row(emb, profile, "cpu", batch, times[name], first[name]), "per_round": per_round[name]}
            for name, emb in embs.items()}


def isa_in_use() -> dict[str, Any]:
    """The instruction set each kernel library dispatches to in this process: ATen's CPU
    capability, oneDNN's (from its verbose header and the conv implementation it picks), the
    ceilings set for MKL and FBGEMM (they have no query), and whether bf16 is native."""
    import torch

    from gait.model.checkpoint import autocast_dtype

    out: dict[str, Any] = {"aten": torch.backends.cpu.get_cpu_capability(),
                           "mkl": os.environ.get("MKL_ENABLE_INSTRUCTIONS", "native"),
                           "fbgemm": os.environ.get("FBGEMM_ENABLE_INSTRUCTIONS", "native"),
                           "native_bf16": autocast_dtype(torch.device("cpu")) is not None}
    out.update(_onednn_isa())
    return out


def _onednn_isa() -> dict[str, Any]:
    """oneDNN prints its ISA and each primitive's implementation to the process's stdout (fd 1) in
    verbose mode: run one small conv with it on, with fd 1 sent to a file."""
    import torch

    conv = torch.nn.Conv2d(16, 16, 3, padding=1).eval()
    x = torch.zeros(8, 16, 16, 16)  # big enough that ATen hands it to oneDNN
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+") as f:
        try:
            os.dup2(f.fileno(), 1)
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON), torch.inference_mode():
                conv(x)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        f.seek(0)
        lines = f.read().splitlines()
    # onednn_verbose,v1,primitive,exec,cpu,convolution,<implementation>,...: e.g. brg_conv_fwd:avx2
    impl = next((ln.split(",")[6] for ln in lines if ",exec,cpu,convolution," in ln and len(ln.split(",")) > 6), None)
    return {"onednn": impl.rsplit(":", 1)[-1] if impl else None, "onednn_conv": impl}


def _rerun_with(env: dict[str, str]) -> None:
    """Run this very command again in a process started with ``env`` (the libraries read their
    ISA ceilings once, when they load), and exit with its status."""
    proc = subprocess.run(list(sys.orig_argv), env={**os.environ, **env}, check=False)  # noqa: S603 -- our own argv
    raise typer.Exit(proc.returncode)


def measure(profile: str, device: str, batch: int, frames: int = 30, seconds: float = 3.0,
            min_rounds: int = 2, precision: str = "auto", compile: bool | None = None,
            cpu_runtime: str | None = None) -> dict[str, Any]:
    """Time ``embed`` on random windows of ``batch`` x ``frames`` frames.

    Args:
        profile: model profile (``default``, ``tiny``, ``medium``, ``large``).
        device: ``cpu`` or ``cuda``.
        batch: windows per ``embed`` call (one micro-batch of the agent).
        frames: frames per window.
        seconds: keep timing for at least this long (after one warm-up call).
        min_rounds: and for at least this many calls.
        precision: ``auto`` (fp16 CUDA / native bf16 CPU) or ``fp32``.
        compile: torch.compile the model (None = on CUDA only, as the agents do).
        cpu_runtime: the CPU graph (:mod:`gait.model.cpu_runtime`); None = the agents' default.
    Returns:
        ``profile``, ``device``, ``runtime``, ``precision``, ``compiled``, ``batch``, ``dim``,
        ``calls``, ``first_call_s`` (the warm-up, where compilation happens), and ``windows_per_s``
        / ``ms_per_window`` of the median call.
    """
    emb = _embedder(profile, device, max_batch=batch, precision=precision, compile=compile, cpu_runtime=cpu_runtime)
    windows = _windows(batch, frames)
    t_first = time.perf_counter()
    emb.embed(windows[: min(batch, 4)])  # warm-up: allocator, oneDNN / cuDNN kernel choice, compilation
    first_call_s = time.perf_counter() - t_first
    emb.embed(windows)
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
    times: list[float] = []
    t_start = time.perf_counter()
    while len(times) < min_rounds or time.perf_counter() - t_start < seconds:
        t0 = time.perf_counter()
        emb.embed(windows)  # returns numpy: the device work is finished
        times.append(time.perf_counter() - t0)
    return _row(emb, profile, device, batch, times, first_call_s)


def embed(
    json_out: bool = typer.Option(False, "--json", help="last line: one JSON object"),
    profile: str = typer.Option("default", help="model profile to report"),
    device: str | None = typer.Option(None, help="cpu or cuda; default: CPU, plus CUDA when present"),
    threads: int = typer.Option(2, help="CPU threads (the target is set for 2)"),
    batch: int = typer.Option(64, help="windows per call on CPU (CUDA uses --gpu-batch)"),
    gpu_batch: int = typer.Option(2048, help="windows per call on CUDA"),
    seconds: float = typer.Option(3.0, help="minimum timing per CUDA measurement and per table row (x 1/2)"),
    rounds: int = typer.Option(5, min=1, help="CPU: turns of ours then the baseline, 2 calls each"),
    runtime: str | None = typer.Option(None, help="CPU graph: auto, eager, fused, int8; default: "
                                                  "GAITLINE_EMBED_CPU_RUNTIME or auto, as the agents"),
    isa: str = typer.Option("native", help="native, or avx2: rerun with AVX-512/AMX off in ATen, oneDNN, MKL and "
                                          "FBGEMM, as on an AVX2-only host"),
    table: bool = typer.Option(True, help="also time the other model sizes"),
    compile: bool | None = typer.Option(None, "--compile/--no-compile",
                                        help="torch.compile the model; default: on CUDA only, as the agents do"),
    out: Path | None = OUT_OPTION,
    save: bool = SAVE_OPTION,
) -> None:
    """Benchmark gait embedding throughput (windows/s of 30-frame 64x44 windows)."""
    if isa not in ("native", "avx2"):
        raise typer.BadParameter(f"--isa must be native or avx2, got {isa!r}")
    if runtime is not None and runtime not in ("auto", "eager", "fused", "int8"):
        raise typer.BadParameter(f"--runtime must be auto, eager, fused or int8, got {runtime!r}")
    if isa == "avx2" and any(os.environ.get(k) != v for k, v in AVX2_ENV.items()):
        _rerun_with(AVX2_ENV)
    import torch

    from gait.model.allocator import in_effect

    torch.set_num_threads(threads)
    load_start = os.getloadavg()
    has_cuda = torch.cuda.is_available()
    if device not in (None, "cpu", "cuda"):
        raise GaitlineError(f"--device must be cpu or cuda, got {device!r}")
    if device == "cuda" and not has_cuda:
        raise GaitlineError("--device cuda but no CUDA device is available")
    devices = [device] if device else (["cpu", "cuda"] if has_cuda else ["cpu"])
    main: dict[str, dict[str, Any]] = {}
    baseline: dict[str, Any] | None = None
    if "cpu" in devices:
        both = side_by_side(profile, batch, rounds=rounds, cpu_runtime=runtime, compile=compile)
        main["cpu"], baseline = both["ours"], both["baseline"]
    if "cuda" in devices:
        main["cuda"] = measure(profile, "cuda", gpu_batch, seconds=seconds, compile=compile)
    rows: list[dict[str, Any]] = []
    if table:
        from gait.model.network import PROFILES

        for name in PROFILES:
            for d in devices:
                if name == profile:
                    rows.append(main[d])
                    continue
                # the GPU-sized model is slow on CPU: a smaller batch keeps the table quick
                b = gpu_batch if d == "cuda" else (8 if name == "large" else batch)
                rows.append(measure(name, d, b, seconds=seconds / 2, min_rounds=1, compile=compile,
                                    cpu_runtime=runtime))
    for r in (rows or list(main.values())) + ([baseline] if baseline else []):
        how = f"{r['runtime']:>6} {r['precision']:>8}" + (" compiled" if r["compiled"] else "")
        typer.echo(f"{r['profile']:>8} {r['device']:>5} {how} dim={r['dim']:<5} batch={r['batch']:<5} "
                   f"{r['windows_per_s']:>10.1f} windows/s {r['ms_per_window']:>9.3f} ms/window")
    first = main[devices[0]]
    summary: dict[str, Any] = {"device": first["device"], "windows_per_s": first["windows_per_s"],
                               "ms_per_window": first["ms_per_window"], "profile": profile,
                               "runtime": first["runtime"], "precision": first["precision"],
                               "compiled": first["compiled"], "threads": threads, "batch": first["batch"],
                               "frames": 30, "allocator": in_effect()}
    if baseline is not None:
        summary["baseline"] = baseline
        summary["speedup"] = round(main["cpu"]["windows_per_s"] / baseline["windows_per_s"], 2)
    summary["isa"] = {"requested": isa, **isa_in_use()}
    summary["load_avg"] = {"start_1m": round(load_start[0], 2), "end_1m": round(os.getloadavg()[0], 2)}
    summary["gflops_per_window"] = round(flops_per_window(profile) / 1e9, 3)
    # what the measured rate is in arithmetic: the share of a GPU's peak is this over its datasheet peak
    summary["achieved_gflops_per_s"] = {d: round(m["windows_per_s"] * summary["gflops_per_window"], 1)
                                        for d, m in main.items()}
    if "cuda" in main and devices[0] != "cuda":
        summary["cuda"] = main["cuda"]
    if rows:
        summary["table"] = rows
    save_result("embed", summary, out, save, torch_module=torch)
    typer.echo(json.dumps(summary) if json_out else
               f"{profile} on {first['device']}: {first['windows_per_s']} windows/s ({first['runtime']}, "
               f"{first['precision']}), {first['ms_per_window']} ms per window"
               + (f"; eager fp32 {baseline['windows_per_s']} windows/s" if baseline else ""))
