"""``gaitline bench embed``: windows per second of the gait embedders.

Measures the real inference path (:class:`gait.model.torch_embedder.TorchEmbedder`: folded
BatchNorm, channels-last on CPU, fp16 autocast on CUDA, bf16 on CPUs with native bf16, and
plain fp32 side by side) on 30-frame 64x44 windows. The
profile's committed checkpoint is used when it exists; otherwise an untrained model of the
same sizes (speed does not depend on the weights). Prints a speed table across model sizes,
then, as the last line with ``--json``, one JSON object: ``device``, ``windows_per_s``,
``ms_per_window``, ``profile``, ``allocator`` (``keep`` when freed tensor memory stays in the
process, :mod:`gait.model.allocator`) (+ ``cuda`` when a GPU was measured too, and ``table``).
The same object is kept, with the host, in ``bench/results/embed.json`` (:mod:`bench.results`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer

from bench.results import OUT_OPTION, SAVE_OPTION, save_result
from gaitline.errors import GaitlineError


def _embedder(profile: str, device: str, max_batch: int, precision: str = "auto",
              compile: bool | None = None) -> Any:
    from gait.model.checkpoint import Checkpoint
    from gait.model.network import GaitModel, profile_config
    from gait.model.torch_embedder import CHECKPOINT_DIR, TorchEmbedder, load_embedder

    path = CHECKPOINT_DIR / f"{profile}.pt"
    if path.is_file():
        return load_embedder(path, profile, device=device, max_batch=max_batch, precision=precision,
                             compile=compile)
    try:
        cfg = profile_config(profile)
    except KeyError as exc:
        raise GaitlineError(str(exc.args[0])) from exc
    import torch

    model = GaitModel(cfg).to(torch.device(device)).eval()
    return TorchEmbedder(Checkpoint(model=model, config=cfg, version="untrained"), profile, max_batch=max_batch,
                         precision=precision, compile=compile)


def flops_per_window(profile: str, frames: int = 30) -> int:
    """Floating-point operations (a multiply-add counts 2) the embedder spends on one window of
    ``frames`` frames, counted by torch's FLOP counter over the real inference path in fp32 (the
    backbone, pooling, projection and, where the checkpoint reads it, the mirrored window)."""
    from torch.utils.flop_counter import FlopCounterMode

    emb = _embedder(profile, "cpu", max_batch=1, precision="fp32", compile=False)
    window = np.ones((1, frames, 64, 44), np.uint8)
    with FlopCounterMode(display=False) as counter:
        emb.embed(window)
    return int(counter.get_total_flops())


def measure(profile: str, device: str, batch: int, frames: int = 30, seconds: float = 3.0,
            min_rounds: int = 2, precision: str = "auto", compile: bool | None = None) -> dict[str, Any]:
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
    Returns:
        ``profile``, ``device``, ``precision``, ``compiled``, ``batch``, ``dim``, ``calls``,
        ``first_call_s`` (the warm-up, where compilation happens), and ``windows_per_s`` /
        ``ms_per_window`` of the median call.
    """
    emb = _embedder(profile, device, max_batch=batch, precision=precision, compile=compile)
    rng = np.random.default_rng(0)
    windows = (rng.random((batch, frames, 64, 44)) > 0.5).astype(np.uint8)
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
    # the median call: robust to another process grabbing the shared cores for a moment
    dt = float(np.median(times))
    return {"profile": profile, "device": device, "precision": emb.precision, "compiled": emb.compiled,
            "batch": batch, "dim": emb.dim, "calls": len(times), "first_call_s": round(first_call_s, 1),
            "windows_per_s": round(batch / dt, 1), "ms_per_window": round(1000 * dt / batch, 3)}


def embed(
    json_out: bool = typer.Option(False, "--json", help="last line: one JSON object"),
    profile: str = typer.Option("default", help="model profile to report"),
    device: str | None = typer.Option(None, help="cpu or cuda; default: CPU, plus CUDA when present"),
    threads: int = typer.Option(2, help="CPU threads (the target is set for 2)"),
    batch: int = typer.Option(64, help="windows per call on CPU (CUDA uses --gpu-batch)"),
    gpu_batch: int = typer.Option(2048, help="windows per call on CUDA"),
    seconds: float = typer.Option(3.0, help="minimum timing per measurement"),
    table: bool = typer.Option(True, help="also time the other model sizes"),
    compile: bool | None = typer.Option(None, "--compile/--no-compile",
                                        help="torch.compile the model; default: on CUDA only, as the agents do"),
    out: Path | None = OUT_OPTION,
    save: bool = SAVE_OPTION,
) -> None:
    """Benchmark gait embedding throughput (windows/s of 30-frame 64x44 windows)."""
    import torch

    from gait.model.allocator import in_effect

    torch.set_num_threads(threads)
    has_cuda = torch.cuda.is_available()
    if device not in (None, "cpu", "cuda"):
        raise GaitlineError(f"--device must be cpu or cuda, got {device!r}")
    if device == "cuda" and not has_cuda:
        raise GaitlineError("--device cuda but no CUDA device is available")
    devices = [device] if device else (["cpu", "cuda"] if has_cuda else ["cpu"])
    main = {d: measure(profile, d, gpu_batch if d == "cuda" else batch, seconds=seconds, compile=compile)
            for d in devices}
    # side by side: the same model in plain fp32 wherever reduced precision was picked
    fp32 = {d: measure(profile, d, gpu_batch if d == "cuda" else batch, seconds=seconds, precision="fp32",
                       compile=compile) for d in devices if main[d]["precision"] != "float32"}
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
                rows.append(measure(name, d, b, seconds=seconds / 2, min_rounds=1, compile=compile))
    for r in (rows or list(main.values())) + list(fp32.values()):
        how = f"{r['precision']:>8}" + (" compiled" if r["compiled"] else "")
        typer.echo(f"{r['profile']:>8} {r['device']:>5} {how} dim={r['dim']:<5} batch={r['batch']:<5} "
                   f"{r['windows_per_s']:>10.1f} windows/s {r['ms_per_window']:>9.3f} ms/window")
    first = main[devices[0]]
    summary: dict[str, Any] = {"device": first["device"], "windows_per_s": first["windows_per_s"],
                               "ms_per_window": first["ms_per_window"], "profile": profile,
                               "precision": first["precision"], "compiled": first["compiled"],
                               "threads": threads, "batch": first["batch"], "frames": 30,
                               "allocator": in_effect(), "gflops_per_window": round(flops_per_window(profile) / 1e9, 3)}
    # what the measured rate is in arithmetic: the share of a GPU's peak is this over its datasheet peak
    summary["achieved_gflops_per_s"] = {d: round(m["windows_per_s"] * summary["gflops_per_window"], 1)
                                        for d, m in main.items()}
    if "cuda" in main and devices[0] != "cuda":
        summary["cuda"] = main["cuda"]
    if fp32:
        summary["fp32"] = list(fp32.values())
    if rows:
        summary["table"] = rows
    save_result("embed", summary, out, save, torch_module=torch)
    typer.echo(json.dumps(summary) if json_out else
               f"{profile} on {first['device']}: {first['windows_per_s']} windows/s, "
               f"{first['ms_per_window']} ms per window")
