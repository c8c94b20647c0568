"""One GPU session, start to finish: embedding throughput, then a time-boxed training run.

A lent GPU machine is held for minutes and starts bare (torch, numpy, OpenCV and typer, but
not the streaming stack: no Kafka client, faust or pydantic). This script therefore imports
only ``gait``, ``sim`` and ``bench`` and drives the same functions the ``gaitline`` commands
run, in one process:

1. ``bench``: :func:`bench.embed.measure` on CUDA for every model size, fp16 and fp32, and a
   batch sweep of the default profile -> ``bench-embed.json``.
2. ``data``: ``gaitline sim gaitset`` for the training (seed 11, 74 subjects), validation
   (seed 12, 10) and test (seed 13, 124; generated while training runs) sets.
3. ``train``: times a few steps of ``--profile`` on the GPU, sets ``--steps`` so the run fits
   ``--train-seconds``, trains with validation, and scores the result with ``gaitline eval gait``
   on the test seed -> ``<profile>.json``, ``<profile>.metrics.jsonl``, and the checkpoint with
   fp16 weights (``<profile>.pt``: a large model in fp32 would not fit the 16 MB limit).

Usage (on the GPU machine, from the repository root)::

    PYTHONPATH=. python3 -m bench.gpu --out DIR [--train-seconds 300] [--profile large]

Every stage writes its result as soon as it has one, so a run cut short keeps what it did;
after each stage the results so far, with the host (CPU, GPU, torch) and the command, replace
``bench/results/gpu.json`` (``--result PATH`` writes there instead, ``--no-save`` nowhere;
``--out DIR`` keeps its per-stage files and the checkpoint).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.host import mark_start
from bench.results import save_result


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def stage_env(out: Path) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.cuda.is_available(),
                            "cpus": os.cpu_count()}
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info |= {"gpu": p.name, "sms": p.multi_processor_count, "memory_gib": round(p.total_memory / 2**30, 1)}
    (out / "env.json").write_text(json.dumps(info, indent=1))
    log(f"env {info}")
    return info


def stage_bench(out: Path, device: str, seconds: float) -> list[dict[str, Any]]:
    from bench.embed import measure
    from gait.model.network import PROFILES

    rows: list[dict[str, Any]] = []
    # 2048 windows of 30 frames are 61k frames a call: the large profile's activations would not
    # fit an 80 GB card at that batch, so it runs at 512
    plan = [(name, 512 if name == "large" else 2048, "auto") for name in PROFILES]
    plan += [("default", b, "auto") for b in (256, 1024, 4096)]
    plan += [("default", 2048, "fp32"), ("large", 512, "fp32")]
    for name, batch, precision in plan:
        try:
            r = measure(name, device, batch, seconds=seconds, precision=precision)
        except Exception as exc:  # noqa: BLE001 -- one failed size must not cost the others
            r = {"profile": name, "batch": batch, "precision": precision, "error": repr(exc)[:300]}
            if device == "cuda":
                import torch

                torch.cuda.empty_cache()
        rows.append(r)
        log(f"bench {r}")
        (out / "bench-embed.json").write_text(json.dumps(rows, indent=1))
    return rows


def _cli(app: Any, args: list[str]) -> None:
    app(args, standalone_mode=False)


def gen_set(root: Path, subjects: int, seed: int, workers: int) -> Path:
    from gaitline.cli.sim import app

    dest = root / f"s{seed}-{subjects}"
    if not (dest / "manifest.json").is_file():
        _cli(app, ["gaitset", "--subjects", str(subjects), "--seed", str(seed), "--out", str(dest),
                   "--workers", str(workers)])
    return dest


def probe_step_seconds(profile: str, data_dir: Path, p: int, k: int, frames: int, device: str,
                       steps: int = 12) -> float:
    """Median seconds of one training step of ``profile`` on ``device`` (after a warm-up)."""
    import torch

    from gait.model.checkpoint import autocast_dtype
    from gait.model.network import GaitModel, profile_config
    from gait.training.augment import AugmentConfig, augment
    from gait.training.loop import SequenceSet, TrainConfig, pack_sequence, train_step
    from gaitline.cli.train import load_split

    arrays, subj, _ = load_split(data_dir, 0, 2 * p, max_frames=40, transform=pack_sequence)
    ids = sorted(set(subj))
    data = SequenceSet(arrays, [ids.index(s) for s in subj], packed=True)
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    model = GaitModel(profile_config(profile, num_classes=len(ids))).to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    amp = autocast_dtype(dev)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp == torch.float16)
    cfg, rng, gen = TrainConfig(p=p, k=k, frames=frames), np.random.default_rng(0), torch.Generator()
    times = []
    for _ in range(steps):
        sync()
        t0 = time.perf_counter()
        x_np, y_np = data.sample(p, k, frames, rng, unordered=True)
        x = augment(torch.from_numpy(x_np).to(dev), AugmentConfig().scaled(0.3), gen)
        train_step(model, opt, scaler, x, torch.from_numpy(y_np).to(dev), cfg, amp)
        sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times[3:]))


def stage_train(out: Path, work: Path, profile: str, seconds: float, p: int, k: int, frames: int,
                lr: float, workers: int, device: str, test_subjects: int,
                train_subjects: int) -> dict[str, Any]:
    import torch

    from gaitline.cli.eval import app as eval_app
    from gaitline.cli.train import train

    torch.backends.cudnn.benchmark = True
    t0 = time.perf_counter()
    train_dir = gen_set(work, train_subjects, 11, workers)
    val_dir = gen_set(work, 10, 12, workers)
    log(f"training and validation sets in {time.perf_counter() - t0:.0f} s")
    # the test seed is generated while the GPU trains (the CPUs are idle then)
    test_dir = work / f"s13-{test_subjects}"
    gen_test = subprocess.Popen([sys.executable, "-m", "gaitline", "sim",
                                 "gaitset", "--subjects", str(test_subjects), "--seed", "13", "--out", str(test_dir),
                                 "--workers", str(max(1, workers // 2))], stdout=subprocess.DEVNULL)
    step_s = probe_step_seconds(profile, train_dir, p, k, frames, device)
    # loading the set and validations take part of the box on top of the steps: 0.85 leaves
    # them room (their share is 1 - steps x ms_per_step / train_s in bench/results/gpu.json)
    steps = max(200, int(0.85 * seconds / step_s) // 100 * 100)
    log(f"{profile}: {step_s * 1000:.1f} ms per step of {p}x{k}x{frames} -> {steps} steps")
    ckpt = work / f"{profile}.pt"
    run_dir = work / f"{profile}.run"
    args = ["--dataset", str(train_dir), "--profile", profile, "--out", str(ckpt), "--run-dir", str(run_dir),
            "--train-subjects", str(train_subjects), "--steps", str(steps), "--p", str(p), "--k", str(k),
            "--frames", str(frames), "--sampling", "unordered", "--lr", str(lr), "--aug-strength", "0.3",
            "--seed", "0", "--device", device, "--val-dataset", str(val_dir), "--val-subjects", "10",
            "--val-every", str(max(100, steps // 5))]
    import typer

    tapp = typer.Typer(add_completion=False)
    tapp.command()(train)
    t1 = time.perf_counter()
    _cli(tapp, args)
    train_s = time.perf_counter() - t1
    log(f"trained {steps} steps in {train_s:.0f} s")
    half_copy(ckpt, out / f"{profile}.pt")
    (out / f"{profile}.metrics.jsonl").write_text((run_dir / "metrics.jsonl").read_text())
    summary: dict[str, Any] = {"profile": profile, "steps": steps, "ms_per_step": round(step_s * 1000, 1),
                               "train_s": round(train_s, 1), "batch": f"{p}x{k}x{frames}", "lr": lr,
                               "command": "gaitline train " + " ".join(args)}
    (out / f"{profile}.json").write_text(json.dumps(summary, indent=1))
    if gen_test.wait() != 0:
        log("test set generation failed")
        return summary
    import contextlib
    import io

    import gait.model.torch_embedder  # noqa: F401 -- registers the checkpoint loader

    for name, model in ((profile, str(ckpt)), ("default", "default")):
        buf = io.StringIO()
        t2 = time.perf_counter()
        with contextlib.redirect_stdout(buf):
            _cli(eval_app, ["gait", "--dataset", str(test_dir), "--model", model, "--json"]
                 + ([] if name == profile else ["--no-baselines"]))
        text = buf.getvalue()
        print(text, flush=True)
        summary[f"eval_{name}"] = json.loads(text.strip().splitlines()[-1])
        summary[f"eval_{name}_s"] = round(time.perf_counter() - t2, 1)
        (out / f"{profile}.json").write_text(json.dumps(summary, indent=1))
    return summary


def half_copy(src: Path, dest: Path) -> None:
    """Copy a checkpoint with its float weights in fp16 (half the bytes; loading casts them back)."""
    import torch

    blob = torch.load(src, map_location="cpu", weights_only=True)
    blob["model"] = {k: v.half() if v.is_floating_point() else v for k, v in blob["model"].items()}
    blob.setdefault("meta", {})["stored_as"] = "float16"
    torch.save(blob, dest)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/gaitline-gpu"))
    ap.add_argument("--stages", default="env,bench,train")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--bench-seconds", type=float, default=2.0)
    ap.add_argument("--profile", default="large")
    ap.add_argument("--train-seconds", type=float, default=300.0)
    ap.add_argument("--p", type=int, default=16)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--test-subjects", type=int, default=124)
    ap.add_argument("--train-subjects", type=int, default=74)
    ap.add_argument("--workers", type=int, default=0, help="simulator processes (0 = one per core)")
    ap.add_argument("--result", type=Path, default=None, help="result file (default: bench/results/gpu.json)")
    ap.add_argument("--no-save", action="store_true", help="write no result file")
    a = ap.parse_args(argv)
    started = mark_start()
    results: dict[str, Any] = {}
    a.out.mkdir(parents=True, exist_ok=True)
    a.work.mkdir(parents=True, exist_ok=True)
    stages = a.stages.split(",")
    workers = a.workers or os.cpu_count() or 1
    for stage in stages:
        t0 = time.perf_counter()
        try:
            if stage == "env":
                results["env"] = stage_env(a.out)
            elif stage == "bench":
                results["bench"] = stage_bench(a.out, a.device, a.bench_seconds)
            elif stage == "train":
                results["train"] = stage_train(a.out, a.work, a.profile, a.train_seconds, a.p, a.k, a.frames, a.lr,
                                               workers, a.device, a.test_subjects, a.train_subjects)
            else:
                raise SystemExit(f"unknown stage {stage!r}")
        except Exception as exc:  # noqa: BLE001 -- report and go on: the lease is too short to stop
            log(f"stage {stage} failed: {exc!r}")
            import traceback

            traceback.print_exc()
        log(f"stage {stage} took {time.perf_counter() - t0:.0f} s")
        save_result("gpu", {"stages": results}, a.result, not a.no_save, torch_module=sys.modules.get("torch"),
                    started=started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
