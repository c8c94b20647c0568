"""The real-footage protocol (``gaitline eval real``): labelled recordings through the product's own path.

A dataset is a list of :class:`Recording` (a video, its person, its condition): a folder of
KTH-style names (``personNN_<anything>_dK[_...].avi|mp4``, K the condition) or a manifest CSV
with exactly the columns ``video,person,condition`` (paths relative to the CSV).

Each recording runs through what ``gaitline analyze`` and the agents run: the frames stage with
default :class:`~workers.frames.settings.FramesSettings` (one-camera network, no Kafka), its
windows, then the model. One vector per recording: the L2-normalised mean of its windows'
embeddings (every track's: one person per recording). :func:`evaluate` runs
the whole protocol; the scores are in :mod:`gait.evaluation.real_scores`. A caller that fits
something (a projection, a threshold) on some people uses the parts: :func:`load_dataset`,
:func:`extract` (the windows, cached), :func:`embed`, then ``real_scores.score(..., people=...)``
on the people it did not fit on.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gait.exceptions import DatasetError
from gait.model.registry import Embedder, embed_windows

NAME = re.compile(r"^(person\d+)_(?:.*?_)?d(\d+)(?:_.*)?$", re.IGNORECASE)
VIDEO_SUFFIXES = (".avi", ".mp4")
MANIFEST_COLUMNS = ("video", "person", "condition")
CACHE_VERSION = 2  # 2: windows of several lengths (short crossings)
TRAINING_FREE = ("baseline", "trivial")
BASELINES_REAL = TRAINING_FREE  # scored next to every model


@dataclass(frozen=True)
class Recording:
    """One labelled video: ``path``, the ``person`` walking in it and its ``condition`` (``d1``...)."""

    path: Path
    person: str
    condition: str

    @property
    def name(self) -> str:
        """The file name, how recordings are listed."""
        return self.path.name


@dataclass
class Windows:
    """What the frames stage made of one recording, windows in time order.

    Attributes:
        recording: the video.
        silhouettes: k windows ``[n_i, 64, 44]`` uint8 0/1 (k may be 0; a short crossing's window
            is shorter than the others).
        frame_start, frame_end, track_id: ``[k]`` int, per window.
        frames: frames decoded. dropped: windows the quality gate dropped.
        cached: True when read from the cache instead of running the frames stage.
    """

    recording: Recording
    silhouettes: list[np.ndarray]
    frame_start: np.ndarray
    frame_end: np.ndarray
    track_id: np.ndarray
    frames: int
    dropped: int
    cached: bool = False

    def __len__(self) -> int:
        return len(self.silhouettes)


@dataclass
class Embedded:
    """One recording's window embeddings ``windows [k, dim]`` (time order) and their frame spans ``[k]``."""

    recording: Recording
    windows: np.ndarray
    frame_start: np.ndarray
    frame_end: np.ndarray

    @property
    def vector(self) -> np.ndarray | None:
        """The recording's vector: the L2-normalised mean of its windows; None without windows."""
        return mean_vector(self.windows)


def mean_vector(windows: np.ndarray) -> np.ndarray | None:
    """The L2-normalised mean ``[dim]`` of ``windows [k, dim]``, as analyze does per track; None when k = 0."""
    if not len(windows):
        return None
    m = windows.astype(np.float64).mean(axis=0)
    return (m / max(float(np.linalg.norm(m)), 1e-12)).astype(np.float32)


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``d2`` before ``d10``."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


def parse_name(name: str) -> tuple[str, str] | None:
    """``(person, condition)`` of a KTH-style file name (``person01_walking_d1_uncomp.avi`` →
    ``("person01", "d1")``); None when the name does not follow it."""
    p = Path(name)
    if p.suffix.lower() not in VIDEO_SUFFIXES:
        return None
    m = NAME.match(p.stem)
    return (m.group(1).lower(), f"d{int(m.group(2))}") if m else None


def scan_folder(folder: Path) -> tuple[list[Recording], list[str]]:
    """The recordings of a folder of KTH-style names, and the video files whose names do not follow it."""
    if not folder.is_dir():
        raise DatasetError(f"--dataset {folder}: not a folder")
    recs, skipped = [], []
    for f in sorted(folder.iterdir()):
        if not f.is_file() or f.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        parsed = parse_name(f.name)
        if parsed is None:
            skipped.append(f.name)
        else:
            recs.append(Recording(f, *parsed))
    return recs, skipped


def read_manifest(path: Path) -> list[Recording]:
    """The recordings a manifest CSV lists: header exactly ``video,person,condition`` (any order),
    one recording per row; ``video`` relative to the CSV's folder unless absolute."""
    if not path.is_file():
        raise DatasetError(f"--manifest {path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"--manifest {path}: cannot be read as CSV ({exc})") from exc
    if not rows:
        raise DatasetError(f"--manifest {path}: empty (expected the header {','.join(MANIFEST_COLUMNS)})")
    header = [h.strip() for h in rows[0]]
    unknown = [h for h in header if h not in MANIFEST_COLUMNS]
    missing = [c for c in MANIFEST_COLUMNS if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        what = "; ".join(filter(None, [f"unknown columns {unknown}" if unknown else "",
                                       f"missing columns {missing}" if missing else "",
                                       "repeated columns" if len(set(header)) != len(header) else ""]))
        raise DatasetError(f"--manifest {path}: {what} (the columns are exactly {','.join(MANIFEST_COLUMNS)})")
    col = {c: header.index(c) for c in MANIFEST_COLUMNS}
    recs = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = [c.strip() for c in row]
        if len(cells) != len(header) or not all(cells[col[c]] for c in MANIFEST_COLUMNS):
            raise DatasetError(f"--manifest {path} line {line}: expected {len(header)} non-empty cells, got {row}")
        video = Path(cells[col["video"]])
        recs.append(Recording(video if video.is_absolute() else path.parent / video,
                              cells[col["person"]], cells[col["condition"]]))
    return recs


def load_dataset(dataset: Path | None = None, manifest: Path | None = None) -> tuple[list[Recording], list[str]]:
    """The recordings of ``dataset`` (a folder, or a ``.csv`` manifest) or of ``manifest``, each
    checked to exist and decode; and the video files of a folder left out for their names.

    Raises:
        DatasetError: neither or both given, unknown columns, a missing or undecodable video,
            no recordings, or a recording listed twice.
    """
    from workers.analyze import probe_video
    from workers.exceptions import AnalyzeError

    if (dataset is None) == (manifest is None):
        raise DatasetError("give a --dataset folder or a --manifest CSV (one of them)")
    if manifest is None and dataset is not None and dataset.suffix.lower() == ".csv" and dataset.is_file():
        dataset, manifest = None, dataset
    where = f"--manifest {manifest}" if manifest is not None else f"--dataset {dataset}"
    skipped: list[str] = []
    if manifest is not None:
        recs = read_manifest(manifest)
    else:
        recs, skipped = scan_folder(dataset)  # type: ignore[arg-type]  # not None: checked above
    if not recs:
        hint = f" ({len(skipped)} videos not named personNN_..._dK)" if skipped else ""
        raise DatasetError(f"{where}: no recordings{hint}")
    seen: set[Path] = set()
    for r in recs:
        if r.path.resolve() in seen:
            raise DatasetError(f"{where}: {r.path} is listed twice")
        seen.add(r.path.resolve())
        try:
            probe_video(r.path)
        except AnalyzeError as exc:
            raise DatasetError(f"{where}: {exc}") from exc
    return sorted(recs, key=lambda r: (natural_key(r.person), natural_key(r.condition), r.name)), skipped


def conditions_of(recs: list[Recording]) -> list[str]:
    """The conditions present, in natural order (``d1`` first)."""
    return sorted({r.condition for r in recs}, key=natural_key)


def check_gallery(recs: list[Recording], gallery_condition: str) -> None:
    """Raise :class:`DatasetError` unless every person has a recording of ``gallery_condition``."""
    conds = conditions_of(recs)
    if gallery_condition not in conds:
        raise DatasetError(f"--gallery-condition {gallery_condition}: no recording has it "
                           f"(conditions: {', '.join(conds)})")
    people = {r.person for r in recs}
    have = {r.person for r in recs if r.condition == gallery_condition}
    if lacking := sorted(people - have, key=natural_key):
        raise DatasetError(f"--gallery-condition {gallery_condition}: {len(lacking)} people have no such "
                           f"recording ({', '.join(lacking)}); every person needs a gallery recording")
    if len(conds) < 2:
        raise DatasetError(f"only the condition {gallery_condition} is present: there is nothing to probe with")


# --- the frames stage, with an optional cache ----------------------------------------------------


def cache_key(path: Path, settings_json: str) -> str:
    """What a cached recording depends on: the file (path, size, mtime) and the frames settings."""
    st = path.stat()
    key = {"v": CACHE_VERSION, "path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
           "settings": json.loads(settings_json)}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def _read_cache(file: Path, rec: Recording) -> Windows | None:
    try:
        with np.load(file, allow_pickle=False) as z:
            ends = np.cumsum(np.asarray(z["lengths"], np.int64))  # [k]
            frames = np.asarray(z["silhouettes"], np.uint8)  # [sum n_i, 64, 44]
            sil = [frames[e - n:e] for e, n in zip(ends, np.asarray(z["lengths"]), strict=True)]
            return Windows(rec, sil, np.asarray(z["frame_start"]),
                           np.asarray(z["frame_end"]), np.asarray(z["track_id"]), int(z["frames"]),
                           int(z["dropped"]), cached=True)
    except (OSError, ValueError, KeyError):
        return None  # absent or damaged: run the frames stage again


def _write_cache(file: Path, w: Windows) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.stem}.{os.getpid()}.tmp.npz")
    frames = np.concatenate(w.silhouettes) if w.silhouettes else np.zeros((0, 64, 44), np.uint8)
    np.savez_compressed(tmp, silhouettes=frames, lengths=np.array([len(s) for s in w.silhouettes], np.int64),
                        frame_start=w.frame_start, frame_end=w.frame_end,
                        track_id=w.track_id, frames=np.int64(w.frames), dropped=np.int64(w.dropped))
    os.replace(tmp, file)


def run_frames(rec: Recording) -> Windows:
    """The frames stage over one recording, exactly as ``gaitline analyze`` runs it."""
    from workers.analyze import collect_windows, network_for, probe_video

    fps, total = probe_video(rec.path)
    by_track, stats = collect_windows(network_for(rec.path, fps), total)
    ws = sorted((w for tw in by_track.values() for w in tw), key=lambda w: (w.frame_start, w.track_id))
    sil = [w.silhouettes.astype(np.uint8) for w in ws]
    return Windows(rec, sil, np.array([w.frame_start for w in ws], np.int64),
                   np.array([w.frame_end for w in ws], np.int64), np.array([w.track_id for w in ws], np.int64),
                   int(stats.frames), int(stats.windows_dropped))


def extract(recs: list[Recording], cache: Path | None = None,
            progress: Callable[[Windows, float], None] | None = None) -> list[Windows]:
    """Each recording's windows from the frames stage (default settings), read from ``cache`` where
    it holds them (``<stem>-<key>.npz``, see :func:`cache_key`); ``progress(windows, seconds)``
    after each recording."""
    from workers.frames.settings import FramesSettings

    settings_json = FramesSettings().model_dump_json()
    out = []
    for rec in recs:
        t0 = time.monotonic()
        file = cache / f"{rec.path.stem}-{cache_key(rec.path, settings_json)}.npz" if cache else None
        w = _read_cache(file, rec) if file is not None and file.is_file() else None
        if w is None:
            w = run_frames(rec)
            if file is not None:
                _write_cache(file, w)
        out.append(w)
        if progress is not None:
            progress(w, time.monotonic() - t0)
    return out


# --- the model -----------------------------------------------------------------------------------


def model_for(name: str) -> Embedder:
    """The embedder as the agents run it: learned models with ``embed_from="auto"`` (the fitted
    projection where the checkpoint has one), the training-free ones as they are."""
    from gait.evaluation.recognition import resolve_model

    return resolve_model(name) if name in TRAINING_FREE else resolve_model(name, embed_from="auto")


def embed(windows: list[Windows], model: Embedder) -> list[Embedded]:
    """Every window of every recording through ``model``; one :class:`Embedded` per recording."""
    out = []
    for w in windows:
        vecs = embed_windows(model, w.silhouettes)  # [k, dim]; k = 0 gives [0, dim]
        out.append(Embedded(w.recording, vecs, w.frame_start, w.frame_end))
    return out


# --- the whole benchmark -------------------------------------------------------------------------


def evaluate(recs: list[Recording], models: list[str], gallery_condition: str, folds: int = 2, seed: int = 0,
             people: Collection[str] | None = None, cache: Path | None = None,
             progress: Callable[[Windows, float], None] | None = None, far: float = 1e-3) -> dict[str, Any]:
    """Run the protocol: frames stage once per recording, then each of ``models`` on the same windows.

    Args:
        recs: from :func:`load_dataset`.
        models: model names (or checkpoint files); the first is the main one.
        gallery_condition: the condition whose recordings form the gallery.
        folds: split the probe people into this many seeded folds (< 2: no folds).
        seed: the folds' shuffle.
        people: probe only these people (everyone when None); the gallery stays everyone's.
        cache: folder for the frames stage's windows (None: no cache).
        progress: called after each recording's frames stage.
        far: the false-match rate per window-to-identity comparison the open-set threshold is
            fitted at (:func:`gait.evaluation.real_scores.open_set`).

    Returns:
        A JSON-able dict; :func:`gait.evaluation.real_scores.table` prints it.
    """
    from gait.evaluation.real_scores import open_set, people_folds, score, score_folds

    check_gallery(recs, gallery_condition)
    everyone = sorted({r.person for r in recs}, key=natural_key)
    probe_people = everyone if people is None else sorted(set(people), key=natural_key)
    if unknown := [p for p in probe_people if p not in everyone]:
        raise DatasetError(f"--people: {', '.join(unknown)} not in the dataset (people: {', '.join(everyone)})")
    if folds > len(probe_people):
        raise DatasetError(f"--folds {folds}: more folds than the {len(probe_people)} people to split")
    t0 = time.monotonic()
    windows = extract(recs, cache, progress)
    t_frames = time.monotonic() - t0
    conds = conditions_of(recs)
    split = people_folds(probe_people, folds, seed) if folds >= 2 else []
    res: dict[str, Any] = {
        "gallery_condition": gallery_condition, "probe_conditions": [c for c in conds if c != gallery_condition],
        "people": len(everyone), "probe_people": probe_people, "recordings": len(recs),
        "frames": {"windows": int(sum(len(w) for w in windows)), "seconds": round(t_frames, 1),
                   "cached": sum(w.cached for w in windows),
                   "with_windows": {c: sum(1 for w in windows if w.recording.condition == c and len(w))
                                    for c in conds},
                   "recordings_per_condition": {c: sum(1 for r in recs if r.condition == c) for c in conds},
                   "no_windows": {c: [w.recording.name for w in windows if w.recording.condition == c and not len(w)]
                                  for c in conds}},
        "folds": {"k": len(split), "seed": seed, "people": split}, "models": {}}
    for name in models:
        t1 = time.monotonic()
        model = model_for(name)
        emb = embed(windows, model)
        s = score(emb, gallery_condition, set(probe_people))
        res["chance"] = s["chance"]
        res["gallery"] = s["gallery"]
        entry = {"model": model.name, "version": model.version, "dim": model.dim,
                 "conditions": s["conditions"], "halves": s["halves"]}
        if split:
            f = score_folds(emb, gallery_condition, split)
            entry["folds"] = {"mean": f["mean"], "spread": f["spread"],
                              "per_fold": [{k: v for k, v in p.items() if k != "people"} for p in f["folds"]]}
        entry["open_set"] = open_set(emb, gallery_condition, split, far)
        entry["seconds"] = round(time.monotonic() - t1, 1)
        res["models"][name] = entry
    main = res["models"][models[0]]
    res["model"] = models[0]
    res["rank1"] = {c: r["rank1_recording"] for c, r in main["conditions"].items()}
    res["seconds"] = round(time.monotonic() - t0, 1)
    return res
