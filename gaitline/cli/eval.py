"""``gaitline eval``: score gait recognition (CASIA-B protocol) and multi-camera tracking.

``gait``: first 74 subjects train, the rest test (all subjects are test when there are too few
for the split; the output says so). Gallery nm-01..04; probes nm-05/06 (NM), bg-01/02 (BG),
cl-01/02 (CL). The training-free ``baseline`` and the ``trivial`` shortcut detector are scored
side by side. With ``--json`` the last line is one JSON object (percent).

``mtmc``: IDF1/IDP/IDR/MOTA of the store's sightings against a simulated city's ground truth.

``params``: errors of the measured gait parameters against a simulated city's truth.

``real``: rank-1 on labelled real recordings (KTH-style names or a manifest) through the product's
own frames stage and model, with folds of people (:mod:`gait.evaluation.real`).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import typer

from gait.dataset import VIEWS, Sequence, iter_sequences, scan
from gait.evaluation.recognition import (
    BASELINES,
    GALLERY,
    PROBES,
    resolve_model,
    score,
    split_subjects,
    table,
)
from gait.evaluation.thresholds import calibrate, write_threshold
from gait.exceptions import DatasetError
from gaitline.cli.common import one_line_errors
from gaitline.errors import GaitlineError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Score recognition and tracking.")



@app.command("gait")
@one_line_errors
def gait(dataset: Path = typer.Option(..., "--dataset", help="dataset root in the CASIA-B layout"),
         model: str = typer.Option("baseline", "--model", help="registered model name or checkpoint file"),
         json_out: bool = typer.Option(False, "--json", help="last line: one JSON object"),
         baselines: bool = typer.Option(True, "--baselines/--no-baselines",
                                        help="also score the training-free and trivial baselines"),
         max_frames: int = typer.Option(0, "--max-frames", help="frames per sequence (0 = all)"),
         precision: str = typer.Option("auto", "--precision", help="learned models: auto (fp16 CUDA / native "
                                       "bf16 CPU, as the agents run) or fp32")) -> None:
    """Score a gait model on a CASIA-B-style dataset (rank-1 NM/BG/CL, mAP, TPIR@FPIR=1 %)."""
    if max_frames < 0:
        raise typer.BadParameter("must be 0 (all) or positive", param_hint="--max-frames")
    if precision not in ("auto", "fp32"):
        raise typer.BadParameter("must be auto or fp32", param_hint="--precision")
    seqs = scan(dataset)
    subjects = sorted({s.subject for s in seqs})
    test, note = split_subjects(subjects)
    tset = set(test)
    seqs = [s for s in seqs if s.subject in tset and (s.type in GALLERY or any(s.type in t for t in PROBES.values()))]
    names = [model] + ([b for b in BASELINES if b != model] if baselines else [])
    models = {n: resolve_model(n, precision=precision) for n in names}
    embedded: dict[str, list[tuple[Sequence, np.ndarray]]] = {n: [] for n in names}
    for s, arr in iter_sequences(seqs, max_frames or None):
        for n, emb in models.items():
            embedded[n].append((s, emb.embed(arr[None])[0]))  # [dim]
    if not embedded[model]:
        raise DatasetError(f"--dataset {dataset}: no readable test sequences")
    views = sorted({s.view for s in seqs}, key=lambda v: (VIEWS.index(v) if v in VIEWS else 99, v))
    results = {n: score(embedded[n], views) for n in names}
    typer.echo(note)
    typer.echo(f"test: {len(test)} subjects, {len(embedded[model])} sequences, model {model!r}")
    typer.echo(table(model, results[model], views))
    typer.echo("")
    typer.echo(f"{'model':<24} {'NM':>6} {'BG':>6} {'CL':>6} {'mAP':>6} {'TPIR@1%':>8}")
    for n, r in results.items():
        cells = [r["rank1"][c] for c in PROBES] + [r["mAP"], r["tpir_at_fpir1"]]
        typer.echo(f"{n:<24} " + " ".join(f"{'-':>6}" if v is None else f"{v:6.1f}" for v in cells))
    if json_out:
        main = {k: results[model][k] for k in ("rank1", "mAP", "tpir_at_fpir1")}
        out = main | {"model": model, "precision": getattr(models[model], "precision", "float32"),
                      "test_subjects": len(test), "split": note,
                      "baselines": {n: {k: results[n][k] for k in ("rank1", "mAP", "tpir_at_fpir1")}
                                    for n in names if n != model}}
        typer.echo(json.dumps(out))


@app.command("real")
@one_line_errors
def real(dataset: Path | None = typer.Option(None, "--dataset", help="folder of recordings named "
                                            "personNN_<anything>_dK[_...].avi|mp4 (K: the condition)"),
         manifest: Path | None = typer.Option(None, "--manifest", help="CSV with exactly the columns "
                                             "video,person,condition (paths relative to the CSV)"),
         model: str = typer.Option("default", "--model", help="registered model name or checkpoint file; "
                                   "baseline and trivial are scored next to it"),
         gallery_condition: str | None = typer.Option(None, "--gallery-condition",
                                                      help="condition of the gallery recordings (default: "
                                                           "the first, d1 on KTH)"),
         folds: int = typer.Option(2, "--folds", min=1, help="split the probe people into this many seeded "
                                   "folds (1: no folds)"),
         seed: int = typer.Option(0, "--seed", help="the folds' shuffle"),
         people: str | None = typer.Option(None, "--people", help="probe only these people (comma-separated); "
                                           "the gallery stays everyone's"),
         cache: Path | None = typer.Option(None, "--cache", help="folder keeping each recording's windows, so "
                                           "another model skips the frames stage"),
         far: float = typer.Option(1e-3, "--far", min=0.0, max=0.5, help="false-match rate per window-to-identity "
                                   "comparison the open-set threshold is fitted at"),
         write: bool = typer.Option(False, "--write-threshold", help="store the threshold fitted on "
                                              "these recordings' strangers in --model's checkpoint, where the "
                                              "identity service reads it (every person probed: no --people)"),
         out: Path | None = typer.Option(None, "--out", help="also write the result with the host and the "
                                         "command to this JSON file (e.g. bench/results/eval-real-kth-dev.json)"),
         json_out: bool = typer.Option(False, "--json", help="last line: one JSON object")) -> None:
    """Rank-1 on labelled real recordings: frames stage → windows → model, as analyze and the agents run them."""
    from gait.evaluation.real import BASELINES_REAL, conditions_of, evaluate, load_dataset
    from gait.evaluation.real_scores import table as real_table

    recs, skipped = load_dataset(dataset, manifest)
    gallery = gallery_condition or conditions_of(recs)[0]
    chosen = None if people is None else [p.strip() for p in people.split(",") if p.strip()]
    names = [model] + [b for b in BASELINES_REAL if b != model]

    def progress(w: Any, seconds: float) -> None:
        how = "cache" if w.cached else f"{w.frames} frames"
        typer.echo(f"{w.recording.name}: {len(w)} windows ({how}, {seconds:.1f} s)", err=True)

    if write and chosen is not None:
        raise typer.BadParameter("a threshold is fitted on every person's strangers: drop --people",
                                 param_hint="--write-threshold")
    res = evaluate(recs, names, gallery, folds=folds, seed=seed, people=chosen, cache=cache, progress=progress,
                   far=far)
    res = {"dataset": str(manifest or dataset), "skipped_files": skipped, **res}
    if write:
        from gait.evaluation.real import model_for
        from gait.evaluation.thresholds import write_real_threshold

        source = ["--manifest", str(manifest)] if manifest else ["--dataset", str(dataset)]
        command = shlex.join(["gaitline", "eval", "real", *source, "--model", model, "--gallery-condition", gallery,
                              "--folds", str(folds), "--seed", str(seed), "--far", f"{far:g}", "--write-threshold"])
        path, kind = write_real_threshold(model_for(model), model, res["models"][model]["open_set"],
                                          str(manifest or dataset), res["people"], command)
        res["written"] = {"checkpoint": str(path), "kind": kind}
        typer.echo(f"written to {path} as the {kind} threshold")
    if skipped:
        typer.echo(f"left out {len(skipped)} videos not named personNN_..._dK: {', '.join(skipped)}")
    typer.echo(real_table(res))
    typer.echo(f"took {res['seconds']:.1f} s")
    _emit("eval-real", res, out, json_out)


@app.command("threshold")
@one_line_errors
def threshold(dataset: Path = typer.Option(..., "--dataset", help="held-out dataset in the CASIA-B layout"),
              model: str = typer.Option("default", "--model", help="registered model name or checkpoint file"),
              embed_from: str = typer.Option("auto", "--embed-from",
                                             help="learned models: auto (what the agents send: the fitted "
                                                  "projection where the checkpoint has one, else bnneck), "
                                                  "strips, bnneck or lda"),
              window: int = typer.Option(30, "--window", help="frames per window, as the frames worker cuts them"),
              far: float = typer.Option(0.005, "--far", help="share of stranger pairs allowed above the threshold"),
              write: bool = typer.Option(False, "--write", help="store the threshold and how it was measured in "
                                         "the model's checkpoint, where the identity service reads it"),
              json_out: bool = typer.Option(False, "--json", help="last line: one JSON object")) -> None:
    """Calibrate the open-set match threshold: window-to-window cosine of strangers vs the same person.

    One window per sequence of the test split; every pair of windows of different subjects is a
    stranger pair, every pair of the same subject from different sequences a mated pair. The
    suggested threshold is the stranger similarity quantile at ``1 - far``.
    """
    if window < 1:
        raise typer.BadParameter("must be at least 1 frame", param_hint="--window")
    if not 0 < far < 1:
        raise typer.BadParameter("must be within (0, 1)", param_hint="--far")
    if embed_from not in ("auto", "strips", "bnneck", "lda"):
        raise typer.BadParameter("must be auto, strips, bnneck or lda", param_hint="--embed-from")
    emb_model = resolve_model(model, embed_from=embed_from)
    res = calibrate(emb_model, dataset, window, far)
    sq, mq = res["stranger_quantiles"], res["mated_quantiles"]
    typer.echo(res["split"])
    typer.echo(f"{res['windows']} windows of {window} frames, {res['subjects']} subjects, model {res['model']}")
    typer.echo(f"strangers: median {sq['0.5']}, p99 {sq['0.99']}, p99.9 {sq['0.999']}; "
               f"same person: median {mq['0.5']}")
    typer.echo(f"threshold at FAR {far:g}: {res['threshold']:.3f} "
               f"(accepts {res['mated_accepted'] * 100:.1f} % of same-person pairs)")
    if write:
        command = shlex.join(["gaitline", "eval", "threshold", "--dataset", str(dataset), "--model", model,
                              "--embed-from", embed_from, "--window", str(window), "--far", f"{far:g}", "--write"])
        path, kind = write_threshold(emb_model, model, res, command=command)
        res["written"] = {"checkpoint": str(path), "kind": kind}
        typer.echo(f"written to {path} as the {kind} threshold")
    if json_out:
        typer.echo(json.dumps(res))


@app.command("noise")
@one_line_errors
def noise(video: Path = typer.Option(..., "--video", help="real footage: the frames worker's silhouettes are the "
                                                        "reference"),
          dataset: Path = typer.Option(..., "--dataset", help="a simulator dataset (CASIA-B layout)"),
          sequences: int = typer.Option(300, "--sequences", min=1, help="simulator sequences to sample"),
          aug_strength: float = typer.Option(0.3, "--aug-strength", min=0.0, max=3.0,
                                             help="training augmentation strength to show as a third column"),
          json_out: bool = typer.Option(False, "--json", help="last line: one JSON object")) -> None:
    """Compare how silhouettes are broken: real background subtraction vs the simulator (and training noise)."""
    import torch

    from gait.evaluation.noisestats import STATS, summarise
    from gait.training.augment import AugmentConfig, augment
    from workers.analyze import collect_windows, network_for, probe_video

    if not video.is_file():
        raise typer.BadParameter(f"{video} is not a file", param_hint="--video")
    fps, total = probe_video(video)
    by_track, _ = collect_windows(network_for(video, fps), total)
    real = [w.silhouettes for ws in by_track.values() for w in ws]
    if not real:
        raise GaitlineError(f"--video {video}: the frames worker found no walkers to compare")
    seqs = scan(dataset)
    rng = np.random.default_rng(0)
    picked = [seqs[i] for i in sorted(rng.choice(len(seqs), size=min(sequences, len(seqs)), replace=False))]
    sim = [(a[:, :, 10:54] if a.shape[2] == 64 else a) > 0.5 for _, a in iter_sequences(picked)]
    if not sim:
        raise DatasetError(f"--dataset {dataset}: no readable sequences")
    gen = torch.Generator().manual_seed(0)
    cfg = AugmentConfig().scaled(aug_strength)
    noisy = [augment(torch.from_numpy(s[None].astype(np.float32)), cfg, gen)[0].numpy() for s in sim]
    stats = {"real": summarise(real), "sim": summarise(sim), "sim_augmented": summarise(noisy)}
    res: dict[str, Any] = {**stats, "video": str(video), "dataset": str(dataset), "aug_strength": aug_strength}
    typer.echo(f"frames: real {stats['real']['frames']['n']:.0f} ({len(real)} windows), "
               f"sim {stats['sim']['frames']['n']:.0f} ({len(sim)} sequences)")
    typer.echo(f"{'statistic':<10} {'real (p10 / median / p90)':>28} {'sim':>24} {'sim + training noise':>24}")
    for k in STATS:
        cells = []
        for src in ("real", "sim", "sim_augmented"):
            q = stats[src].get(k)
            cells.append("-" if q is None else f"{q['p10']:.3f} / {q['median']:.3f} / {q['p90']:.3f}")
        typer.echo(f"{k:<10} {cells[0]:>28} {cells[1]:>24} {cells[2]:>24}")
    if json_out:
        typer.echo(json.dumps(res))


@app.command("mtmc")
@one_line_errors
def mtmc(truth: Path = typer.Option(..., "--truth", help="city folder written by `gaitline sim city`"),
         store: str = typer.Option(..., "--store", help="store URL holding the pipeline's sightings"),
         json_out: bool = typer.Option(False, "--json", help="last line: one JSON object"),
         max_dist: float = typer.Option(1.5, "--max-dist", help="metres within which a sighting matches")) -> None:
    """Multi-camera IDF1/IDP/IDR/MOTA of stored sightings against the city's ground truth."""
    from gait.evaluation.mtmc import evaluate
    from store.db import Store

    if not max_dist > 0:
        raise typer.BadParameter("must be positive metres", param_hint="--max-dist")
    if not truth.is_dir():
        raise typer.BadParameter(f"{truth} is not a folder", param_hint="--truth")
    st = Store(store, create=False)
    try:
        rows = list(st.all_sightings())
    except Exception as exc:  # SQLAlchemy errors: the store exists but holds no sightings table
        raise GaitlineError(f"--store {store}: cannot read sightings ({exc.__class__.__name__})") from exc
    finally:
        st.close()
    res = evaluate(truth, rows, max_dist_m=max_dist)
    typer.echo(f"{res['sightings']} sightings over {res['frames']} ground-truth frames")
    typer.echo(f"{'camera':<12} {'IDF1':>6} {'IDP':>6} {'IDR':>6} {'MOTA':>7}")
    for cam, r in [("ALL", res), *res["per_camera"].items()]:
        typer.echo(f"{cam:<12} " + " ".join("     -" if r[k] is None else f"{r[k]:6.3f}"
                                             for k in ("idf1", "idp", "idr", "mota")))
    if json_out:
        typer.echo(json.dumps(res))


@app.command("params")
@one_line_errors
def params(city: Path = typer.Option(..., "--city", help="city folder written by `gaitline sim city`"),
           silhouette: bool = typer.Option(True, "--silhouette/--no-silhouette", help="score the silhouette "
                                           "parameters (runs the frames stage over every camera)"),
           pose_keypoints: str = typer.Option("truth", "--pose-keypoints", help="score the keypoint parameters "
                                              "on: truth (the exact joints projected), model (BlazePose on the "
                                              "rendered video; slow, see --cache) or none"),
           window_s: float = typer.Option(4.0, "--window-s", min=2.0, max=60.0, help="seconds per keypoint window"),
           cache: Path | None = typer.Option(None, "--cache", help="folder keeping BlazePose's keypoints (model)"),
           out: Path | None = typer.Option(None, "--out", help="also write the result with the host and the "
                                           "command to this JSON file (e.g. bench/results/eval-params.json)"),
           json_out: bool = typer.Option(False, "--json", help="last line: one JSON object")) -> None:
    """Errors of the measured gait parameters against the city's truth, beside a constant baseline:
    the silhouette's (cadence, speed, step, stride) and the keypoints' (joint ranges, step width,
    foot angle, asymmetry, double support; docs/gait-parameters.md)."""
    from gait.evaluation.parameter_errors import PARAMS, city_windows, read_people, score

    if not city.is_dir():
        raise typer.BadParameter(f"{city} is not a folder", param_hint="--city")
    if pose_keypoints not in ("truth", "model", "none"):
        raise typer.BadParameter("must be truth, model or none", param_hint="--pose-keypoints")
    if not silhouette and pose_keypoints == "none":
        raise typer.BadParameter("nothing to score: drop --no-silhouette or give --pose-keypoints",
                                 param_hint="--pose-keypoints")
    res: dict[str, Any] = {"city": str(city)}
    if silhouette:
        people = read_people(city)
        sil = score(city_windows(city), people)
        res.update(sil)  # the silhouette's parameters stay at the top, as before the keypoints came
        typer.echo(f"{sil['windows']} windows of {sil['people']} people ({sil['windows_untagged']} of no one)")
        typer.echo(f"{'parameter':<16} {'method':<9} {'cover':>6} {'med|err|':>9} {'med rel':>8} {'<=10%':>6} "
                   f"{'bias':>7} {'person':>7}")
        for name in PARAMS:
            for method in ("ours", "constant"):
                r = sil[name][method]
                cells = [r[k] for k in ("coverage", "median_abs_err", "median_rel_err", "within_10pct", "bias",
                                        "per_person_rel_err")]
                typer.echo(f"{name:<16} {method:<9} " + " ".join(
                    f"{'-':>{w}}" if v is None else f"{v:>{w}.3f}"
                    for v, w in zip(cells, (6, 9, 8, 6, 7, 7), strict=True)))
    if pose_keypoints != "none":
        from gait.evaluation.pose_errors import evaluate as pose_evaluate
        from gait.evaluation.pose_errors import table as pose_table

        kp = pose_evaluate(city, pose_keypoints, window_s, cache,  # type: ignore[arg-type]  # checked above
                           progress=lambda line: typer.echo(line, err=True))
        res["keypoints"] = kp
        if silhouette:
            typer.echo("")
        typer.echo(pose_table(kp))
    _emit("eval-params", res, out, json_out)


@app.command("params-real")
@one_line_errors
def params_real(dataset: Path = typer.Option(..., "--dataset", help="folder of KTH-style recordings "
                                             "(personNN_..._dK.avi) or a manifest CSV video,person,condition"),
                max_frames: int = typer.Option(375, "--max-frames", min=0, help="frames of each recording the pose "
                                               "model sees (0: all; ~45 ms per walker per frame)"),
                cache: Path | None = typer.Option(None, "--cache", help="folder keeping each recording's keypoints"),
                out: Path | None = typer.Option(None, "--out", help="also write the result with the host and the "
                                                "command to this JSON file (e.g. bench/results/eval-params-real.json)"),
                json_out: bool = typer.Option(False, "--json", help="last line: one JSON object")) -> None:
    """Keypoint gait parameters on real footage: does one person's recordings agree better than people's?"""
    from gait.evaluation.pose_real import PARAMS_REAL, evaluate
    from gait.evaluation.real import load_dataset

    recs, _ = load_dataset(dataset)

    def progress(rec: Any, values: dict[str, float | None], seconds: float) -> None:
        cells = ", ".join(f"{k} {'-' if v is None else f'{v:.2f}'}" for k, v in values.items())
        typer.echo(f"{rec.name}: {cells} ({seconds:.0f} s)", err=True)

    res = evaluate(recs, max_frames, cache, progress)
    res["dataset"] = str(dataset)
    typer.echo(f"{res['recordings']} recordings of {res['people']} people, the first {max_frames or 'all'} frames each")
    typer.echo(f"{'parameter':<22} {'recs':>5} {'within':>8} {'between':>8} {'ratio':>6} {'ICC':>6}")
    for name in PARAMS_REAL:
        r = res["parameters"][name]
        typer.echo(f"{name:<22} {r['recordings']:>5} " + " ".join(
            f"{'-':>{w}}" if r[k] is None else f"{r[k]:>{w}.3f}"
            for k, w in (("within", 8), ("between", 8), ("ratio", 6), ("icc", 6))))
    _emit("eval-params-real", res, out, json_out)


def _emit(kind: str, res: dict[str, Any], out: Path | None, json_out: bool) -> None:
    """Save ``res`` as a result file of ``kind`` when ``--out`` asks, and print it when ``--json`` does."""
    if out is not None:
        from bench.results import save_result

        save_result(kind, res, out)
    if json_out:
        typer.echo(json.dumps(res))
