"""How well the gait parameters are measured, against a simulated city's ground truth.

The simulator knows every walker's cadence and speed (``people.json``; step length follows
as speed / step frequency). The frames stage runs in-process over every camera of the city
(no Kafka); each window it emits carries the walker's ``truth_id`` and the gait parameters
measured from its silhouettes and ground-plane foot points. Per parameter we report

* ``coverage``: share of windows that gave an estimate at all (None is an honest "could not
  measure"; a wrong number is worse),
* ``median_abs_err`` and ``median_rel_err``: over the windows that did, and ``within_10pct``,
* ``bias``: median signed error (a scale or harmonic mistake shows here),
* ``per_person_rel_err``: median over people of the error of their median estimate (what a
  track summary in ``gaitline analyze`` reports),

side by side with the ``constant`` baseline that answers the population median for everyone
(a method that cannot beat it measures nothing about the person).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from gaitline.errors import GaitlineError
from streams.schemas import TrackletWindow

PARAMS = ("cadence_spm", "speed_mps", "step_length_m", "stride_length_m")


def read_people(city: Path) -> dict[str, dict[str, float]]:
    """True gait parameters per person id of a city folder."""
    path = city / "people.json"
    try:
        people = json.loads(path.read_text())
        out = {}
        for p in people:
            cad, speed = float(p["cadence_spm"]), float(p["speed_mps"])
            step = speed / (cad / 60.0)
            out[str(p["id"])] = {"cadence_spm": cad, "speed_mps": speed, "step_length_m": step,
                                 "stride_length_m": 2 * step}
        return out
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GaitlineError(f"{path}: not a city written by `gaitline sim city` ({exc})") from exc


def city_windows(city: Path) -> list[TrackletWindow]:
    """Every window the frames stage cuts from the city's cameras (run in-process, as fast as it can)."""
    from configs.schema import LoadedNetwork, load_network
    from workers.frames.cameras import run_cameras
    from workers.frames.settings import FramesSettings

    # the sim:// network: its frames come with the ground truth that tags each window's walker
    net = city / "network-live.yaml"
    if not net.is_file():
        raise GaitlineError(f"{city}: no network-live.yaml (write a city with `gaitline sim city`)")
    loaded = load_network(net)
    cams = [c.model_copy(update={"source": c.source.replace("pace=realtime", "pace=fast")})  # no clock to wait for
            for c in loaded.network.cameras]
    loaded = LoadedNetwork(network=loaded.network.model_copy(update={"cameras": cams}), path=loaded.path)
    out: list[TrackletWindow] = []
    run_cameras(loaded, [c.id for c in loaded.network.cameras], FramesSettings(), out.append, threading.Event())
    return out


def _stats(est: np.ndarray, true: np.ndarray, n_all: int) -> dict[str, Any]:
    if n_all == 0:
        return {"windows": 0, "coverage": None, "median_abs_err": None, "median_rel_err": None,
                "within_10pct": None, "bias": None}
    err = est - true
    rel = np.abs(err) / true
    have = len(est) > 0
    return {"windows": n_all, "coverage": round(len(est) / n_all, 3),
            "median_abs_err": round(float(np.median(np.abs(err))), 3) if have else None,
            "median_rel_err": round(float(np.median(rel)), 3) if have else None,
            "within_10pct": round(float((rel <= 0.10).mean()), 3) if have else None,
            "bias": round(float(np.median(err)), 3) if have else None}


def score(windows: list[TrackletWindow], people: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Errors of the windows' gait parameters against the truth (see the module docstring).

    Windows without a ``truth_id`` (a track of no one, e.g. a shadow) are left out and counted
    (``windows_untagged``); windows without a ground plane are left out of speed and lengths only
    (they need metres), so each parameter's ``windows`` says how many it was scored on.
    """
    ws = [w for w in windows if w.truth_id in people]
    res: dict[str, Any] = {"windows": len(ws), "windows_untagged": len(windows) - len(ws),
                           "people": len({w.truth_id for w in ws})}
    for name in PARAMS:
        metric = name != "cadence_spm"
        use = [w for w in ws if w.ground_plane or not metric]
        pairs = [(getattr(w.gait, name), people[str(w.truth_id)][name]) for w in use]
        got = [(e, t) for e, t in pairs if e is not None]
        est = np.array([e for e, _ in got], dtype=np.float64)
        true = np.array([t for _, t in got], dtype=np.float64)
        ours = _stats(est, true, len(pairs))
        # per person: the median of their estimates, as a track summary reports it
        by_person: dict[str, list[float]] = {}
        for w in use:
            v = getattr(w.gait, name)
            if v is not None:
                by_person.setdefault(str(w.truth_id), []).append(float(v))
        rel = [abs(np.median(v) - people[p][name]) / people[p][name] for p, v in by_person.items()]
        ours["per_person_rel_err"] = round(float(np.median(rel)), 3) if rel else None
        # the constant baseline: everyone gets the population median (of the people seen)
        seen = sorted({str(w.truth_id) for w in use})
        const = float(np.median([people[p][name] for p in seen])) if seen else 0.0
        all_true = np.array([t for _, t in pairs], dtype=np.float64)
        base = _stats(np.full(len(all_true), const), all_true, len(pairs))
        base["per_person_rel_err"] = (round(float(np.median([abs(const - people[p][name]) / people[p][name]
                                                             for p in seen])), 3) if seen else None)
        res[name] = {"ours": ours, "constant": base}
    return res
