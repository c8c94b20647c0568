"""Render a planned city: per camera a textured street, people, shadows, a lamppost, lighting
noise, MJPG video, and ground truth (boxes, visible masks, visits). Layout: :mod:`sim.truth`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from configs.site import camera_pose_from_homography
from sim.body import pose
from sim.city import BLOCK_M, START_TIME, CityCamera, CityPlan, Walker
from sim.exceptions import SimError
from sim.outfit import Figure, dress
from sim.render import Projected, draw, frame_box, project
from sim.truth import rle_encode

GROUND_RES = 0.08  # metres per texture pixel
GROUND_HALF = 48.0  # texture covers ±48 m around the camera's intersection
MIN_BOX_H = 40  # people smaller than this (pixels at 576 rows) are too small for gait: not a visit


def world_figure(w: Walker, t: np.ndarray) -> tuple[Figure, np.ndarray, np.ndarray]:
    """A walker's figure in world coordinates at times ``t`` ``[T]``.

    Returns the figure (points ``[T, Q, 3]``), ground positions ``[T, 2]`` and presence ``[T]``.
    """
    pos, heading, present = w.position(t)
    carry_side = w.outfit.side if w.outfit.carry == "handbag" else 0
    j = pose(w.ident, t, phase0=w.phase0, carry_side=carry_side)  # [T, J, 3] walking along +x
    j[..., 0] -= (w.speed * t)[:, None]  # walk in place, then place on the route
    fig = dress(w.ident, j, w.outfit)
    p = fig.points
    c, s = np.cos(heading)[:, None], np.sin(heading)[:, None]
    x, y = p[..., 0].copy(), p[..., 1].copy()
    p[..., 0] = c * x - s * y + pos[:, 0:1]
    p[..., 1] = s * x + c * y + pos[:, 1:2]
    return fig, pos, present


def background(plan: CityPlan, cc: CityCamera, rng: np.random.Generator) -> np.ndarray:
    """A textured street scene ``[h, w, 3]`` uint8 as seen by camera ``cc``: roads, paving, facades."""
    n = int(2 * GROUND_HALF / GROUND_RES)
    ox, oy = plan.nodes[cc.node] - GROUND_HALF
    coarse = cv2.resize(rng.standard_normal((n // 16, n // 16)).astype(np.float32), (n, n))
    tex = 140 + 12 * coarse + 3 * rng.standard_normal((n, n)).astype(np.float32)  # [n, n] pavement
    tile = int(rng.uniform(0.4, 1.0) / GROUND_RES)
    tex[::tile, :] -= 25
    tex[:, ::tile] -= 25
    road_half = rng.uniform(3.0, 4.5) / GROUND_RES
    for a, b in plan.edges:
        pa = (plan.nodes[a] - (ox, oy)) / GROUND_RES
        pb = (plan.nodes[b] - (ox, oy)) / GROUND_RES
        cv2.line(tex, tuple(int(v) for v in pa), tuple(int(v) for v in pb), 75.0, int(2 * road_half))
    for a, b in plan.edges:  # dashed centre lines
        pa, pb = (plan.nodes[a] - (ox, oy)) / GROUND_RES, (plan.nodes[b] - (ox, oy)) / GROUND_RES
        for f in np.arange(0.15, 0.85, 0.06):
            q0, q1 = pa + f * (pb - pa), pa + (f + 0.03) * (pb - pa)
            cv2.line(tex, tuple(int(v) for v in q0), tuple(int(v) for v in q1), 200.0, 2)
    tex += 5 * rng.standard_normal((n, n)).astype(np.float32) * (tex < 100)  # asphalt grain
    tint = rng.uniform(0.9, 1.1, 3)
    tex3 = np.clip(tex[..., None] * tint, 0, 255).astype(np.uint8)  # [n, n, 3]
    M = np.array([[GROUND_RES, 0, ox], [0, GROUND_RES, oy], [0, 0, 1.0]])
    H = cc.cam.ground_to_image() @ M
    ground = cv2.warpPerspective(tex3, H, (cc.width, cc.height), flags=cv2.INTER_LINEAR)
    valid = cv2.warpPerspective(np.full((n, n), 255, np.uint8), H, (cc.width, cc.height), flags=cv2.INTER_NEAREST)
    # rays above the horizon hit nothing on the ground: the homography folds them back; mask them
    R, f, cy = cc.cam.R, cc.cam.f, cc.cam.cy
    rows = np.arange(cc.height)
    dz = R[1, 2] * (rows - cy) / f + R[2, 2]  # [h] vertical component of each row's ray
    valid[dz > -0.02] = 0
    facade = np.empty((cc.height, cc.width, 3), np.uint8)
    base = rng.uniform(70, 160, 3)
    grad = np.linspace(1.15, 0.8, cc.height)[:, None, None]
    facade[:] = np.clip(base * grad, 0, 255).astype(np.uint8)
    for _ in range(60):  # windows
        x, y = int(rng.integers(0, cc.width)), int(rng.integers(0, cc.height))
        ww, hh = int(rng.integers(10, 40)), int(rng.integers(14, 50))
        cv2.rectangle(facade, (x, y), (x + ww, y + hh), tuple(float(v) for v in rng.uniform(20, 90, 3)), -1)
    out = np.where(valid[..., None] > 0, ground, facade)
    return cv2.GaussianBlur(out, (3, 3), 0)




def render_city(plan: CityPlan, out: Path, progress: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Write videos, ground truth, visits and network YAMLs for ``plan`` under ``out``.

    Args:
        plan: from :func:`sim.city.plan_city`.
        out: output folder (must be writable).
        progress: called with (camera id, frames done) now and then.

    Returns:
        summary: frames rendered per camera and visits per person.
    """
    (out / "video").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    n_frames = int(round(plan.duration * plan.fps))
    t = np.arange(n_frames) / plan.fps  # [F] seconds from start
    figs = [world_figure(w, t) for w in plan.walkers]
    visits: dict[str, list[dict[str, Any]]] = {w.id: [] for w in plan.walkers}
    for ci, cc in enumerate(plan.cameras):
        seen = _render_camera(plan, ci, cc, figs, t, out, progress)
        for wid, times in seen.items():
            visits[wid] += _runs(cc.id, times, gap=1.0 + 1.0 / plan.fps)
    for v in visits.values():
        v.sort(key=lambda r: (r["enter"], r["camera_id"]))
    (out / "visits.json").write_text(json.dumps(visits, indent=1, sort_keys=True) + "\n")
    _write_meta(plan, out)
    return {"frames_per_camera": n_frames, "cameras": len(plan.cameras), "people": len(plan.walkers),
            "visits": sum(len(v) for v in visits.values())}


def _runs(camera_id: str, times: list[float], gap: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tt in times:
        if out and tt - out[-1]["exit"] <= gap:
            out[-1]["exit"] = tt
        else:
            out.append({"camera_id": camera_id, "enter": tt, "exit": tt})
    return [r | {"enter": round(r["enter"], 3), "exit": round(r["exit"], 3)} for r in out]


def _render_camera(plan: CityPlan, ci: int, cc: CityCamera, figs: list[tuple[Figure, np.ndarray, np.ndarray]],
                   t: np.ndarray, out: Path, progress: Callable[[str, int], None] | None) -> dict[str, list[float]]:
    rng = np.random.default_rng([plan.seed, 79, ci])
    bg = background(plan, cc, rng)
    W, Hh = cc.width, cc.height
    projs: list[Projected] = []
    shadows: list[Projected] = []
    depth = []
    for fig, _, _ in figs:
        projs.append(project(fig, cc.cam))
        flat = fig.points + (-fig.points[..., 2:3] / plan.sun[2]) * plan.sun
        shadows.append(project(Figure(flat, fig.capsules, fig.hulls), cc.cam))
        depth.append(cc.cam.project(fig.points[:, 0])[1])  # [F] pelvis depth
    pole_xy = plan.nodes[cc.node] + rng.uniform(-6, 6, 2)
    pole = cc.cam.project(np.array([[*pole_xy, 0.0], [*pole_xy, 4.5]]))
    pole_r = max(int(cc.cam.f * 0.09 / pole[1][0]), 1)
    pole_ok = pole[1].min() > 1.0
    noise_bank = [(np.abs(g) * (g > 0)).astype(np.uint8) for g in rng.normal(0, 2.0, (6, Hh, W, 3))]
    noise_neg = [(np.abs(g) * (g < 0)).astype(np.uint8) for g in rng.normal(0, 2.0, (6, Hh, W, 3))]
    period = rng.uniform(15, 40)
    video = cv2.VideoWriter(str(out / "video" / f"{cc.id}.avi"), cv2.CAP_OPENCV_MJPEG,
                            cv2.VideoWriter.fourcc(*"MJPG"), plan.fps, (W, Hh))
    if not video.isOpened():
        raise SimError(f"cannot write video {out / 'video' / (cc.id + '.avi')}")
    video.set(cv2.VIDEOWRITER_PROP_QUALITY, 65)
    seen: dict[str, list[float]] = {}
    with (out / "truth" / f"{cc.id}.jsonl").open("w") as gt:
        for i in range(len(t)):
            frame = bg.copy()  # [h, w, 3]
            label = np.zeros((Hh, W), np.uint8)  # [h, w] who is visible where (k + 1; 255 = pole)
            vis = []
            for k, (_, _, present) in enumerate(figs):
                if not present[i] or depth[k][i] < 2.0:
                    continue
                x0, y0, bw, bh = frame_box(projs[k], i)
                if x0 >= W or y0 >= Hh or x0 + bw <= 0 or y0 + bh <= 0 or bh > 2 * Hh:
                    continue
                vis.append(k)
            vis.sort(key=lambda k: -depth[k][i])
            for k in vis:  # shadows under everybody
                sx0, sy0, sw, sh = frame_box(shadows[k], i)
                c = _clip(sx0, sy0, sw, sh, W, Hh)
                if c is None:
                    continue
                smask = np.zeros((sh, sw), np.uint8)  # [sh, sw]
                draw(shadows[k], i, smask, (sx0, sy0))
                cx0, cy0, cx1, cy1 = c
                dark = smask[cy0 - sy0:cy1 - sy0, cx0 - sx0:cx1 - sx0] > 0
                reg = frame[cy0:cy1, cx0:cx1]
                reg[dark] = (reg[dark] * 0.55).astype(np.uint8)
            boxes = {}
            for k in vis:
                x0, y0, bw, bh = frame_box(projs[k], i)
                c = _clip(x0, y0, bw, bh, W, Hh)
                if c is None:
                    continue
                can = np.zeros((bh, bw, 3), np.uint8)
                draw(projs[k], i, can, (x0, y0), colours=plan.walkers[k].colours)
                cx0, cy0, cx1, cy1 = c
                sub = can[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
                body = sub.any(axis=2)  # [h', w'] this person's pixels in the image
                frame[cy0:cy1, cx0:cx1][body] = sub[body]
                label[cy0:cy1, cx0:cx1][body] = k + 1
                full = int(np.count_nonzero(can.any(axis=2)))
                ys, xs = np.nonzero(body)
                if len(ys):
                    boxes[k] = (cx0 + int(xs.min()), cy0 + int(ys.min()), int(xs.max() - xs.min() + 1),
                                int(ys.max() - ys.min() + 1), full)
            if pole_ok:
                p0, p1 = (tuple(int(v) for v in pole[0][j]) for j in (0, 1))
                cv2.line(frame, p0, p1, (60, 60, 55), 2 * pole_r)
                cv2.line(label, p0, p1, 255, 2 * pole_r)
            people = []
            for k, (bx, by, bw, bh, full) in boxes.items():
                vm = label[by:by + bh, bx:bx + bw] == k + 1
                v = float(np.count_nonzero(vm)) / max(full, 1)
                if v <= 0:
                    continue
                wk = plan.walkers[k]
                tt = round(START_TIME + float(t[i]), 3)
                # everyone rendered is in the truth (evaluation treats the small as don't-care);
                # a visit counts only while the walker is large and visible enough to analyse
                if v >= 0.3 and bh >= MIN_BOX_H * Hh / 576:
                    seen.setdefault(wk.id, []).append(tt)
                fx, fy = figs[k][1][i]
                people.append({"id": wk.id, "box": [bx, by, bw, bh], "visible": round(min(v, 1.0), 3),
                               "foot": [round(float(fx), 3), round(float(fy), 3)], "mask": rle_encode(vm)})
            gain = 1.0 + 0.07 * np.sin(2 * np.pi * t[i] / period) + 0.015 * rng.standard_normal()
            frame = cv2.convertScaleAbs(frame, alpha=gain, beta=0)
            j = int(rng.integers(len(noise_bank)))
            frame = cv2.subtract(cv2.add(frame, noise_bank[j]), noise_neg[(j + i) % len(noise_neg)])
            video.write(frame)
            gt.write(json.dumps({"frame": i, "t": round(START_TIME + float(t[i]), 3), "people": people},
                                separators=(",", ":")) + "\n")
            if progress and i % 100 == 0:
                progress(cc.id, i)
    video.release()
    return seen


def _clip(x0: int, y0: int, w: int, h: int, W: int, H: int) -> tuple[int, int, int, int] | None:
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    return None if cx1 <= cx0 or cy1 <= cy0 else (cx0, cy0, cx1, cy1)


def _placement(cc: CityCamera) -> dict[str, Any]:
    """Where the camera stands on the site map and what it sees, from its homography."""
    pose = camera_pose_from_homography(cc.cam.image_to_ground(), cc.width, cc.height)
    return {"position": [round(pose.position[0], 2), round(pose.position[1], 2)],
            "heading_deg": round(pose.heading_deg, 1), "fov_deg": round(pose.fov_deg, 1),
            "range_m": round(min(pose.far_m, 60.0), 1)}


def _write_meta(plan: CityPlan, out: Path) -> None:
    cams = []
    for cc in plan.cameras:
        cams.append({"id": cc.id, "node": cc.node, "centre": np.round(cc.cam.centre, 4).tolist(),
                     "f": round(cc.cam.f, 4), "width": cc.width, "height": cc.height,
                     "ground_to_image": np.round(cc.cam.ground_to_image(), 8).tolist()})
    meta = {"generator": "gaitline sim city", "version": 1, "seed": plan.seed, "duration_s": plan.duration,
            "fps": plan.fps, "start_time": START_TIME, "block_m": BLOCK_M,
            "nodes": plan.nodes.round(3).tolist(), "edges": [list(e) for e in plan.edges], "cameras": cams,
            "sun": plan.sun.round(4).tolist()}
    (out / "city.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    people = [{"id": w.id, "height_m": round(w.ident.shape.height, 3),
               "cadence_spm": round(w.ident.gait.cadence_spm, 1), "speed_mps": round(w.speed, 3),
               "outfit": asdict(w.outfit), "t0": round(START_TIME + w.t0, 3),
               "route": w.route.round(3).tolist()} for w in plan.walkers]
    (out / "people.json").write_text(json.dumps(people, indent=1, sort_keys=True) + "\n")
    lo, hi = plan.nodes.min(axis=0) - BLOCK_M / 2, plan.nodes.max(axis=0) + BLOCK_M / 2  # the street grid
    bounds = [round(float(v), 1) for v in (*lo, *hi)]
    for name, live in (("network.yaml", False), ("network-live.yaml", True)):
        net = {"version": 1, "name": f"sim-city-{plan.seed}", "site": {"bounds": bounds},
               "cameras": [{"id": cc.id, "source": f"sim://./{cc.id}?pace=realtime" if live else f"video/{cc.id}.avi",
                            "region": f"block{cc.node}", "fps": plan.fps,
                            "homography": [[float(v) for v in row] for row in
                                           np.round(cc.cam.image_to_ground(), 10).tolist()],
                            "start_time": START_TIME, **_placement(cc)} for cc in plan.cameras],
               "topology": plan.transit()}
        head = (f"# Written by `gaitline sim city` (seed {plan.seed}). "
                "Homographies map image pixels to ground metres.\n")
        (out / name).write_text(head + yaml.safe_dump(net, sort_keys=False))
