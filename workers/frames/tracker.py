"""Per-camera multi-object tracker: Kalman motion, Hungarian assignment, ByteTrack stages.

State is the foot point (where a walker touches the ground) and its velocity, in ground
metres when the camera has a homography and in image pixels otherwise, so gates and speeds
mean something physical. Each frame:

1. confirmed and lost tracks are matched to confident detections (Hungarian on a gated
   distance normalised by the gate),
2. confirmed tracks still unmatched take weak detections (fragments, partial occlusions),
   which keeps a walker through a short occlusion without ever starting a track from noise,
3. tentative tracks take the remaining confident detections,
4. confident detections still unmatched start tentative tracks.

A tentative track is confirmed after ``min_hits`` consecutive hits; a confirmed track
coasts on its Kalman prediction for up to ``max_lost_s`` (occlusion bridging), then dies.
A newly confirmed track that starts where a recently dead one was heading re-links to the
dead track's id (fragment re-link).

Motion alone swaps walkers whose paths cross and hands a track that left the view to the next
person who enters near where it left. So each track also remembers what its walker wears
(hue-saturation histograms of the upper and lower body, :func:`gait.vision.segment.colour_signature`):
a confident detection that looks like someone else is not associated with it, or re-linked to
it, and the cost of a plausible one grows with the difference. Fragments (weak detections) are
matched on motion only: their "upper body" may be a pair of legs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from gait.vision.segment import Detection, colour_distance

_BIG = 1e6
_CHI2_99 = 9.21  # chi-square, 2 degrees of freedom, 99 %


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker knobs.

    Attributes:
        fps: frame rate of the camera (converts seconds to frames).
        gate_m: association gate in metres (ground plane) around the predicted foot point.
        gate_rel: association gate as a share of the person's box height (image plane).
        high_score: detections at or above this score are confident; below are weak.
        min_hits: consecutive hits that confirm a tentative track.
        max_lost_s: seconds a confirmed track coasts without detections before it dies.
        relink_s: seconds after its death a track may be re-linked to a new one.
        max_speed_mps: fastest plausible walker (bounds the re-link extrapolation).
        colour_gate: Bhattacharyya distance between what a track's walker wears and a confident
            detection above which the detection is someone else (1 = colours are not used at all).
        colour_weight: association cost per unit of that distance.
        colour_rate: how fast a track's colour memory follows its walker (0..1 per frame).
    """

    fps: float = 10.0
    gate_m: float = 1.2
    gate_rel: float = 0.6
    high_score: float = 0.5
    min_hits: int = 3
    max_lost_s: float = 1.5
    relink_s: float = 3.0
    max_speed_mps: float = 3.0
    colour_gate: float = 0.6
    colour_weight: float = 1.0
    colour_rate: float = 0.1


def to_ground(h: np.ndarray | None, pts: np.ndarray) -> np.ndarray:
    """Map image points ``[n, 2]`` through homography ``h`` ``[3, 3]`` (identity when None)."""
    if h is None or len(pts) == 0:
        return pts.astype(np.float64)
    p = np.c_[pts, np.ones(len(pts))] @ h.T  # [n, 3]
    w = p[:, 2:3]
    w = np.where(np.abs(w) < 1e-9, 1e-9, w)
    return p[:, :2] / w  # [n, 2]


@dataclass
class Track:
    """One tracked walker.

    Attributes:
        id: track id, unique per camera and process.
        x: Kalman state ``[4]`` (x, y, vx, vy) in ground metres or image pixels per second.
        p: state covariance ``[4, 4]``.
        box: last observed box ``(x, y, w, h)`` in image pixels.
        hits: consecutive frames matched. misses: consecutive frames unmatched.
        confirmed: past the birth test. age: frames since birth.
        detection: this frame's matched detection, or None while coasting.
    """

    id: int
    x: np.ndarray
    p: np.ndarray
    box: tuple[int, int, int, int]
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    age: int = 1
    last_t: float = 0.0
    detection: Detection | None = None
    born_t: float = 0.0
    path: list[tuple[float, float]] = field(default_factory=list)
    colour: np.ndarray | None = None  # [2, bins] running mean of the walker's colour signature

    @property
    def position(self) -> tuple[float, float]:
        """Current foot point (state coordinates)."""
        return float(self.x[0]), float(self.x[1])


class Tracker:
    """Multi-object tracker for one camera; call :meth:`update` once per frame, in order."""

    def __init__(self, config: TrackerConfig, homography: np.ndarray | None = None,
                 first_id: int = 0) -> None:
        """Args: config: knobs; homography: image->ground ``[3, 3]`` or None; first_id: next id."""
        self.config = config
        self.h = homography
        self.ground = homography is not None
        self.tracks: list[Track] = []
        self.dead: list[Track] = []  # recently dead confirmed tracks, for re-link
        self.next_id = first_id
        self.relinks = 0
        self.confirmed_ids: set[int] = set()
        self._cov_cache: dict[int, np.ndarray] = {}  # this frame's detections, by id()
        dt = 1.0 / config.fps
        self.dt = dt
        self.f = np.array([[1, 0, dt, 0], [0, 1, 0, dt], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float64)
        self.hm = np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float64)

    # -- noise scales, in state units ---------------------------------------------------------
    def _meas_cov(self, det: Detection) -> np.ndarray:
        """Measurement covariance ``[2, 2]`` of a foot point, in state units.

        The foot is found to within a few percent of the person's height in the image; on the
        ground that pixel noise is stretched by the homography's local Jacobian, so a walker
        far away (few pixels per metre) gets a proportionally wider gate.
        """
        key = id(det)
        cached = self._cov_cache.get(key)
        if cached is not None:
            return cached
        sig = 0.06 * det.box[3] + 1.0  # pixels
        if self.h is None:
            cov = np.eye(2) * sig * sig
        else:
            u, v = det.foot
            pts = np.array([[u, v], [u + 1.0, v], [u, v + 1.0]])
            g = to_ground(self.h, pts)  # [3, 2]
            jac = np.stack([g[1] - g[0], g[2] - g[0]], axis=1)  # [2, 2] d(ground)/d(pixel)
            cov = jac @ jac.T * sig * sig + np.eye(2) * 0.01
        self._cov_cache[key] = cov
        return cov

    def _accel_sigma(self, box: tuple[int, int, int, int]) -> float:
        return 1.5 if self.ground else 1.0 * box[3]

    def _gate(self, box: tuple[int, int, int, int]) -> float:
        return self.config.gate_m if self.ground else self.config.gate_rel * box[3]

    def _points(self, dets: list[Detection]) -> np.ndarray:
        pts = np.array([d.foot for d in dets], dtype=np.float64).reshape(-1, 2)  # [n, 2]
        return to_ground(self.h, pts)

    def _predict(self, t: Track) -> None:
        q = self._accel_sigma(t.box) ** 2
        dt = self.dt
        g = np.array([[dt * dt / 2, 0], [0, dt * dt / 2], [dt, 0], [0, dt]])  # [4, 2]
        t.x = self.f @ t.x
        t.p = self.f @ t.p @ self.f.T + g @ g.T * q

    def _correct(self, t: Track, z: np.ndarray, det: Detection) -> None:
        s = self.hm @ t.p @ self.hm.T + self._meas_cov(det)
        k = t.p @ self.hm.T @ np.linalg.inv(s)  # [4, 2]
        t.x = t.x + k @ (z - self.hm @ t.x)
        t.p = (np.eye(4) - k @ self.hm) @ t.p
        t.box = det.box
        t.detection = det
        look = self._look(det)
        if look is not None:
            a = self.config.colour_rate
            t.colour = look.copy() if t.colour is None else (1 - a) * t.colour + a * look

    def _look(self, det: Detection) -> np.ndarray | None:
        """A detection's colour signature when it can be trusted: a confident, whole walker."""
        if self.config.colour_gate >= 1.0:  # colours switched off: motion only
            return None
        return det.colour if det.score >= self.config.high_score else None

    def _colour_gap(self, t: Track, det: Detection) -> float | None:
        """How differently ``det`` is dressed from ``t``'s walker; None when it cannot be told."""
        look = self._look(det)
        return None if t.colour is None or look is None else colour_distance(t.colour, look)

    def _cost(self, tracks: list[Track], pts: np.ndarray, dets: list[Detection],
              scale: float = 1.0) -> np.ndarray:
        """Gated cost matrix ``[len(tracks), len(dets)]``; ``_BIG`` means no match.

        Mahalanobis distance of each detection from each track's predicted foot point (chi-square
        gate at 99 %, capped by a hard distance gate), plus a penalty for a change in box height
        (a detection half or twice the size is someone else, or a merged blob).
        """
        cost = np.full((len(tracks), len(dets)), _BIG)
        covs = np.stack([self._meas_cov(d) for d in dets])  # [n, 2, 2]
        hs = np.array([d.box[3] for d in dets], dtype=np.float64)  # [n]
        for i, t in enumerate(tracks):
            sm = covs + t.p[:2, :2]  # [n, 2, 2] innovation covariances
            diff = pts - t.x[:2]  # [n, 2]
            a, b, c = sm[:, 0, 0], sm[:, 0, 1], sm[:, 1, 1]
            det = np.maximum(a * c - b * b, 1e-12)
            # closed-form 2x2 Mahalanobis: e^T S^-1 e
            d2 = (c * diff[:, 0] ** 2 - 2 * b * diff[:, 0] * diff[:, 1] + a * diff[:, 1] ** 2) / det
            hard = self._gate(t.box) * (1.0 + 0.3 * min(t.misses, 5)) * scale
            far = np.hypot(diff[:, 0], diff[:, 1]) > hard * (3.0 if self.ground else 1.0)
            d = np.sqrt(d2 / _CHI2_99) / scale  # [n], <= 1 inside the gate
            d = d + 0.5 * np.abs(np.log(np.clip(hs / max(t.box[3], 1), 1e-3, None)))
            ok = (d <= 1.0) & ~far
            for j in np.flatnonzero(ok):
                gap = self._colour_gap(t, dets[j])
                if gap is not None:
                    ok[j] = gap <= self.config.colour_gate
                    d[j] += self.config.colour_weight * gap
            cost[i] = np.where(ok, d, _BIG)
        return cost

    def _match(self, tracks: list[Track], det_idx: list[int], pts: np.ndarray, dets: list[Detection],
               scale: float = 1.0) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        """Hungarian match of ``tracks`` to ``dets[det_idx]``; returns pairs and leftovers."""
        if not tracks or not det_idx:
            return [], list(range(len(tracks))), det_idx
        sub = [dets[j] for j in det_idx]
        cost = self._cost(tracks, pts[det_idx], sub, scale)
        rows, cols = linear_sum_assignment(cost)
        pairs = [(int(r), det_idx[int(c)]) for r, c in zip(rows, cols, strict=True) if cost[r, c] < _BIG]
        mt = {p[0] for p in pairs}
        md = {p[1] for p in pairs}
        return pairs, [i for i in range(len(tracks)) if i not in mt], [j for j in det_idx if j not in md]

    def update(self, dets: list[Detection], t_now: float) -> list[Track]:
        """Advance one frame.

        Args:
            dets: this frame's detections.
            t_now: the frame's timestamp in seconds.

        Returns:
            The confirmed tracks alive after this frame; ``track.detection`` is the matched
            detection or None when the track is coasting.
        """
        cfg = self.config
        for t in self.tracks:
            self._predict(t)
            t.detection = None
            t.age += 1
        self._cov_cache = {}
        pts = self._points(dets)
        high = [j for j, d in enumerate(dets) if d.score >= cfg.high_score]
        low = [j for j, d in enumerate(dets) if d.score < cfg.high_score]
        main = [t for t in self.tracks if t.confirmed]
        tent = [t for t in self.tracks if not t.confirmed]
        pairs, um_t, um_high = self._match(main, high, pts, dets)
        matched: list[tuple[Track, int]] = [(main[i], j) for i, j in pairs]
        rest = [main[i] for i in um_t]
        pairs2, _, _ = self._match(rest, low, pts, dets, scale=0.7)
        matched += [(rest[i], j) for i, j in pairs2]
        pairs3, _, um_high = self._match(tent, um_high, pts, dets)
        matched += [(tent[i], j) for i, j in pairs3]
        for t, j in matched:
            self._correct(t, pts[j], dets[j])
            t.hits += 1
            t.misses = 0
            t.last_t = t_now
            t.path.append((float(pts[j][0]), float(pts[j][1])))
        hit = {id(t) for t, _ in matched}
        for t in self.tracks:
            if id(t) not in hit:
                t.hits = 0
                t.misses += 1
        for j in um_high:
            self._birth(dets[j], pts[j], t_now)
        for t in self.tracks:
            if not t.confirmed and t.hits >= cfg.min_hits:
                t.confirmed = True
                self._relink(t, t_now)
                self.confirmed_ids.add(t.id)
        self._reap(t_now)
        return [t for t in self.tracks if t.confirmed]

    def _birth(self, det: Detection, z: np.ndarray, t_now: float) -> None:
        vsig = 2.0 if self.ground else 1.5 * det.box[3]
        x = np.array([z[0], z[1], 0.0, 0.0])
        p = np.zeros((4, 4))
        p[:2, :2] = self._meas_cov(det)
        p[2, 2] = p[3, 3] = vsig**2
        t = Track(id=self.next_id, x=x, p=p, box=det.box, last_t=t_now, detection=det, born_t=t_now,
                  path=[(float(z[0]), float(z[1]))],
                  colour=None if (look := self._look(det)) is None else look.copy())
        self.next_id += 1
        self.tracks.append(t)

    def _reap(self, t_now: float) -> None:
        max_lost = max(1, int(round(self.config.max_lost_s * self.config.fps)))
        alive: list[Track] = []
        for t in self.tracks:
            if not t.confirmed and t.misses > 0:
                continue  # a tentative track must be seen on consecutive frames
            if t.misses > max_lost:
                self.dead.append(t)
                continue
            alive.append(t)
        self.tracks = alive
        self.dead = [t for t in self.dead if t_now - t.last_t <= self.config.relink_s]

    def _relink(self, new: Track, t_now: float) -> None:
        """Give ``new`` the id of a recently dead track whose extrapolated path it continues."""
        best: Track | None = None
        best_d = 1.0
        live_ids = {t.id for t in self.tracks if t is not new}
        for d in self.dead:
            if d.id in live_ids:
                continue
            gap = max(t_now - d.last_t, self.dt)
            v = d.x[2:4]
            vmax = self.config.max_speed_mps if self.ground else 1.2 * d.box[3]
            speed = float(np.hypot(*v))
            if speed > vmax:
                v = v * (vmax / speed)
            first = np.array(new.path[0])
            pred = d.x[:2] + v * (gap - (len(new.path) - 1) * self.dt)
            # The gate widens with the gap: walkers can turn while hidden.
            gate = self._gate(d.box) * (1.0 + gap)
            dist = float(np.hypot(*(first - pred))) / gate
            if d.colour is not None and new.colour is not None:
                look = colour_distance(d.colour, new.colour)
                if look > self.config.colour_gate:
                    continue  # someone else entered where the dead track left
                dist += self.config.colour_weight * look
            if dist < best_d:
                best, best_d = d, dist
        if best is not None:
            self.dead.remove(best)
            new.id = best.id
            self.relinks += 1

    def flush(self) -> list[Track]:
        """All tracks still alive (the caller flushes their complete windows at end of stream)."""
        return list(self.tracks)
