"""Bodies as filled volumes, plus the clothing and carried objects that change a silhouette.

A :class:`Figure` is what the renderer draws: 3-D points over time and the primitives built
on them: tapered capsules between two points, and convex hulls of inflated point sets (coat
hems, skirts, bags). Each primitive has a *part* (skin, top, bottom, shoes, bag, hair) so the
city renderer can colour it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sim import body as B

SKIN, TOP, BOTTOM, SHOES, BAG, HAIR = range(6)

TOPS = ("shirt", "coat", "jacket")
BOTTOMS = ("trousers", "wide", "skirt")
CARRIES = ("none", "backpack", "shoulder", "handbag")


@dataclass(frozen=True)
class Outfit:
    """What a person wears and carries on one recording.

    ``top``: shirt | coat (to the knees) | jacket (padded); ``bottom``: trousers | wide | skirt;
    ``carry``: none | backpack | shoulder (bag on a strap) | handbag; ``side``: +1 left, -1 right;
    ``size``: relative size of the garment/bag (0.8..1.3); ``hem``: coat/skirt length as a
    fraction of the thigh (1 = at the knee).
    """

    top: str = "shirt"
    bottom: str = "trousers"
    carry: str = "none"
    side: int = 1
    size: float = 1.0
    hem: float = 1.2
    hair: float = 0.0  # long hair/ponytail volume (m), part of a person's everyday look


def draw_outfit(rng: np.random.Generator, condition: str, everyday: Outfit) -> Outfit:
    """An outfit for a recording condition.

    Args:
        rng: the recording's generator.
        condition: ``nm`` (the person's everyday clothes), ``bg`` (a bag) or ``cl`` (a coat).
        everyday: the identity's usual clothes (kept in nm and bg).
    """
    if condition == "bg":
        return Outfit(top=everyday.top, bottom=everyday.bottom, carry=str(rng.choice(CARRIES[1:])),
                      side=int(rng.choice([-1, 1])), size=float(rng.uniform(0.8, 1.3)), hem=everyday.hem,
                      hair=everyday.hair)
    if condition == "cl":
        top = str(rng.choice(["coat", "coat", "jacket"]))
        bottom = str(rng.choice(["trousers", "wide", "skirt"], p=[0.4, 0.4, 0.2]))
        return Outfit(top=top, bottom=bottom, carry="none", size=float(rng.uniform(0.85, 1.3)),
                      hem=float(rng.uniform(0.9, 1.7)), hair=everyday.hair)
    return everyday


def everyday_outfit(rng: np.random.Generator) -> Outfit:
    """A person's usual clothes: mostly trousers, some wide trousers or skirts, some long hair."""
    bottom = str(rng.choice(BOTTOMS, p=[0.7, 0.15, 0.15]))
    hair = float(rng.choice([0.0, rng.uniform(0.02, 0.06)], p=[0.65, 0.35]))
    return Outfit(bottom=bottom, hem=float(rng.uniform(0.7, 1.3)), hair=hair)


@dataclass
class Figure:
    """Points ``[T, Q, 3]`` and the primitives built on them.

    ``capsules``: (a, b, radius_a, radius_b, part); ``hulls``: (point indices, inflation, part).
    """

    points: np.ndarray
    capsules: list[tuple[int, int, float, float, int]] = field(default_factory=list)
    hulls: list[tuple[list[int], float, int]] = field(default_factory=list)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def dress(ident: B.Identity, joints: np.ndarray, outfit: Outfit) -> Figure:
    """Build the drawable figure of a posed body wearing ``outfit``.

    Args:
        ident: the (session) identity whose radii are used.
        joints: ``[T, N_JOINTS, 3]`` from :func:`sim.body.pose`.
        outfit: clothes and carried object.
    """
    s = ident.shape
    top_pad = {"shirt": 0.008, "coat": 0.03, "jacket": 0.05}[outfit.top] * outfit.size
    arm_pad = {"shirt": 0.004, "coat": 0.02, "jacket": 0.035}[outfit.top] * outfit.size
    thigh_pad, shin_pad = {"trousers": (0.01, 0.008), "wide": (0.025, 0.05), "skirt": (0.0, 0.0)}[outfit.bottom]
    extra: list[np.ndarray] = []  # [T, 3] each, appended after the joints

    def add(p: np.ndarray) -> int:
        extra.append(p)
        return B.N_JOINTS + len(extra) - 1

    caps: list[tuple[int, int, float, float, int]] = []
    hulls: list[tuple[list[int], float, int]] = []
    leg_part = BOTTOM if outfit.bottom != "skirt" else SKIN
    for hip, knee, ank, toe, heel in ((B.HIP_L, B.KNEE_L, B.ANKLE_L, B.TOE_L, B.HEEL_L),
                                      (B.HIP_R, B.KNEE_R, B.ANKLE_R, B.TOE_R, B.HEEL_R)):
        caps.append((hip, knee, s.r_thigh + thigh_pad, s.r_knee + thigh_pad * 0.7 + shin_pad * 0.4, leg_part))
        caps.append((knee, ank, s.r_knee + shin_pad * 0.5, s.r_ankle + shin_pad, leg_part))
        caps.append((heel, toe, s.r_ankle * 0.95, s.r_ankle * 0.7, SHOES))
    # trunk: two side capsules (hip → shoulder) and a central one give a torso that is broad
    # from the front and deep from the side, so its width changes with the view as it should
    caps.append((B.PELVIS, B.CHEST, s.r_trunk + top_pad, s.r_trunk * 0.95 + top_pad, TOP))
    caps.append((B.HIP_L, B.SHOULDER_L, s.r_side + top_pad, s.r_side * 0.9 + top_pad, TOP))
    caps.append((B.HIP_R, B.SHOULDER_R, s.r_side + top_pad, s.r_side * 0.9 + top_pad, TOP))
    caps.append((B.HIP_L, B.HIP_R, s.r_thigh * 1.05 + thigh_pad, s.r_thigh * 1.05 + thigh_pad, BOTTOM))
    caps.append((B.SHOULDER_L, B.SHOULDER_R, s.r_upper_arm + top_pad, s.r_upper_arm + top_pad, TOP))
    for sh, el, wr in ((B.SHOULDER_L, B.ELBOW_L, B.WRIST_L), (B.SHOULDER_R, B.ELBOW_R, B.WRIST_R)):
        caps.append((sh, el, s.r_upper_arm + arm_pad, s.r_forearm + arm_pad, TOP))
        caps.append((el, wr, s.r_forearm + arm_pad, s.r_forearm * 0.75 + arm_pad * 0.5, TOP))
        hand = add(joints[:, wr] + 0.06 * _unit(joints[:, wr] - joints[:, el]))
        caps.append((wr, hand, s.r_forearm * 0.8, s.r_forearm * 0.7, SKIN))
    caps.append((B.CHEST, B.NECK, s.r_neck, s.r_neck, SKIN))
    head_top = add(joints[:, B.HEAD] + np.array([0.0, 0.0, 0.3 * s.head_r]))
    caps.append((B.HEAD, head_top, s.head_r * 0.95, s.head_r * 0.9, SKIN))
    if outfit.hair > 0:
        back = _unit(np.cross(joints[:, B.SHOULDER_L] - joints[:, B.SHOULDER_R], [0.0, 0.0, 1.0]))  # [T, 3] fwd
        hair_low = add(joints[:, B.HEAD] - back * s.head_r * 0.9 - np.array([0.0, 0.0, 0.25 + outfit.hair]))
        caps.append((head_top, hair_low, s.head_r * 0.9, outfit.hair, HAIR))
    # hems: coat and skirt fall from the hips to a point along each leg, flaring outwards
    for kind, hem, flare, top_i in (("coat", outfit.hem, 0.05, B.PELVIS), ("skirt", outfit.hem, 0.06, B.PELVIS)):
        wears = outfit.top == kind if kind == "coat" else outfit.bottom == kind
        if not wears:
            continue
        pts = [top_i, B.HIP_L, B.HIP_R]
        for hip, knee, ank in ((B.HIP_L, B.KNEE_L, B.ANKLE_L), (B.HIP_R, B.KNEE_R, B.ANKLE_R)):
            thigh = joints[:, knee] - joints[:, hip]
            shin = joints[:, ank] - joints[:, knee]
            p = joints[:, hip] + min(hem, 1.0) * thigh + max(hem - 1.0, 0.0) * shin
            pts.append(add(p))
        hulls.append((pts, (flare + s.r_thigh * 0.5) * outfit.size, TOP if kind == "coat" else BOTTOM))
    lat = _unit(joints[:, B.SHOULDER_L] - joints[:, B.SHOULDER_R])  # [T, 3]
    up = _unit(joints[:, B.CHEST] - joints[:, B.PELVIS])
    fwd = _unit(np.cross(lat, up))
    if outfit.carry == "backpack":
        c = joints[:, B.CHEST] - fwd * (s.r_trunk + top_pad + 0.09 * outfit.size) - up * 0.2
        hulls.append((_box(add, c, fwd, lat, up, (0.18, 0.32, 0.42), outfit.size), 0.03, BAG))
    elif outfit.carry == "shoulder":
        pl = _unit(joints[:, B.HIP_L] - joints[:, B.HIP_R])
        c = joints[:, B.PELVIS] + outfit.side * pl * (s.hip_w / 2 + s.r_thigh + 0.07) + up * 0.08
        corners = _box(add, c, fwd, pl, up, (0.30, 0.10, 0.26), outfit.size)
        hulls.append((corners, 0.02, BAG))
        strap_from = B.SHOULDER_R if outfit.side > 0 else B.SHOULDER_L
        caps.append((strap_from, corners[0], 0.015, 0.015, BAG))
    elif outfit.carry == "handbag":
        wr = B.WRIST_L if outfit.side > 0 else B.WRIST_R
        c = joints[:, wr] - np.array([0.0, 0.0, 0.17 * outfit.size])
        hulls.append((_box(add, c, fwd, lat, up, (0.32, 0.11, 0.24), outfit.size), 0.02, BAG))
    pts3 = np.concatenate([joints, np.stack(extra, axis=1)], axis=1) if extra else joints  # [T, Q, 3]
    return Figure(points=pts3, capsules=caps, hulls=hulls)


def _box(add: Callable[[np.ndarray], int], c: np.ndarray, fwd: np.ndarray, lat: np.ndarray, up: np.ndarray,
         dims: tuple[float, float, float], scale: float) -> list[int]:
    """Add the 8 corners of an oriented box centred at ``c`` ``[T, 3]``; return their indices."""
    d, w, h = (x * scale / 2 for x in dims)
    out = []
    for sz in (1, -1):  # top corners first
        for sx in (1, -1):
            for sy in (1, -1):
                out.append(add(c + sx * d * fwd + sy * w * lat + sz * h * up))
    return out
