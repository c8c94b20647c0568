"""Who walks and how: persistent identity parameters, session noise, and 3-D poses over time.

Identity lives only in body *proportions* and gait *kinematics*; absolute size is randomised
per recording (camera distance, focal length) and removed by silhouette alignment anyway.

Body frame: x forward (walking direction), y left, z up, metres; the ground is z = 0.
Joint angles follow clinical gait conventions (hip/knee flexion, ankle dorsiflexion positive),
as Fourier series over the gait cycle u ∈ [0, 1) starting at the left heel strike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# Joint indices into the pose array [T, J, 3].
PELVIS, HIP_L, HIP_R, KNEE_L, KNEE_R, ANKLE_L, ANKLE_R, TOE_L, TOE_R, HEEL_L, HEEL_R = range(11)
CHEST, SHOULDER_L, SHOULDER_R, ELBOW_L, ELBOW_R, WRIST_L, WRIST_R, NECK, HEAD = range(11, 20)
N_JOINTS = 20

# Mean adult sagittal joint angles (degrees) at fractions of the gait cycle (Winter's data,
# rounded). Fitted once to a few harmonics; identities perturb each harmonic.
_TEMPLATES: dict[str, list[tuple[float, float]]] = {
    "hip": [(0, 20), (.1, 18), (.2, 10), (.3, 3), (.4, -5), (.5, -10), (.6, -5), (.7, 10),
            (.8, 22), (.9, 25)],
    "knee": [(0, 5), (.1, 15), (.15, 18), (.2, 15), (.3, 8), (.4, 5), (.5, 10), (.6, 35),
             (.7, 60), (.75, 60), (.8, 50), (.9, 20)],
    "ankle": [(0, 0), (.1, -5), (.2, 5), (.3, 8), (.4, 10), (.5, 5), (.6, -15), (.65, -18),
              (.7, -10), (.8, 0), (.9, 2)],
}
N_HARM = 4


def _fit(points: list[tuple[float, float]]) -> np.ndarray:
    """Least-squares Fourier coefficients ``[1 + 2 * N_HARM]`` (radians) of a periodic curve."""
    u = np.array([p[0] for p in points] + [p[0] + 1 for p in points])
    y = np.radians([p[1] for p in points] * 2)
    basis = _basis(u)  # [n, 1 + 2K]
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return coef


def _basis(u: np.ndarray) -> np.ndarray:
    """Fourier basis ``[len(u), 1 + 2 * N_HARM]``: 1, cos(2πku), sin(2πku)."""
    k = np.arange(1, N_HARM + 1)
    ang = 2 * np.pi * u[:, None] * k[None, :]  # [n, K]
    return np.concatenate([np.ones((len(u), 1)), np.cos(ang), np.sin(ang)], axis=1)


_TEMPLATE_COEF = {name: _fit(pts) for name, pts in _TEMPLATES.items()}


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths and radii in metres (radii are half-widths of the filled volumes)."""

    height: float
    thigh: float
    shin: float
    ankle_h: float
    foot: float
    hip_w: float
    torso: float
    shoulder_w: float
    neck: float
    head_r: float
    upper_arm: float
    forearm: float
    r_thigh: float
    r_knee: float
    r_ankle: float
    r_upper_arm: float
    r_forearm: float
    r_trunk: float
    r_side: float
    r_neck: float


@dataclass(frozen=True)
class Gait:
    """Individual walking style: rhythm, step length and joint-angle trajectories."""

    cadence_spm: float  # steps per minute
    step_ratio: float  # step length / leg length
    coef: dict[str, np.ndarray]  # hip/knee/ankle Fourier coefficients, radians
    asym: float  # right leg amplitude factor relative to left
    arm_amp: float  # shoulder swing amplitude (rad)
    arm_off: float
    arm_abd: float  # arm abduction away from the trunk (rad)
    elbow_off: float
    elbow_amp: float
    pelvis_rot: float  # transverse pelvis rotation amplitude (rad)
    thorax_rot: float  # thorax counter-rotation as a fraction of the pelvis rotation
    obliquity: float  # pelvic list amplitude (rad)
    sway: float  # lateral sway (m)
    lean: float  # forward trunk lean (rad)
    head_pitch: float
    toe_out: float  # foot progression angle (rad)
    arm_phase: float  # arm swing phase lag (cycle fraction)


@dataclass(frozen=True)
class Identity:
    """A persistent person: body and gait, drawn once from the identity's seed."""

    shape: BodyShape
    gait: Gait


def _ln(rng: np.random.Generator, sd: float) -> float:
    """A multiplicative factor exp(N(0, sd))."""
    return float(np.exp(rng.normal(0.0, sd)))


def draw_identity(rng: np.random.Generator) -> Identity:
    """Draw a person: proportions within adult ranges and an individual gait.

    Args:
        rng: the identity's own generator (seeded from the dataset seed and subject number).
    """
    h = float(np.clip(rng.normal(1.71, 0.09), 1.50, 1.98))
    build = _ln(rng, 0.13)  # slim .. heavy: scales every radius
    hips = _ln(rng, 0.08)  # relative hip/shoulder breadth: individual silhouette shape
    legs = _ln(rng, 0.035)
    shape = BodyShape(
        height=h, thigh=0.245 * h * legs * _ln(rng, 0.03), shin=0.246 * h * legs * _ln(rng, 0.03),
        ankle_h=0.039 * h, foot=0.152 * h * _ln(rng, 0.04), hip_w=0.105 * h * hips,
        torso=0.30 * h / legs * _ln(rng, 0.03), shoulder_w=0.225 * h / hips ** 0.5 * _ln(rng, 0.05),
        neck=0.05 * h * _ln(rng, 0.1), head_r=0.062 * h * _ln(rng, 0.05),
        upper_arm=0.186 * h * _ln(rng, 0.04), forearm=0.16 * h * _ln(rng, 0.04),
        r_thigh=0.082 * build * hips, r_knee=0.050 * build, r_ankle=0.034 * build ** 0.5,
        r_upper_arm=0.045 * build, r_forearm=0.035 * build, r_trunk=0.11 * build * _ln(rng, 0.08),
        r_side=0.07 * build, r_neck=0.05 * build ** 0.5,
    )
    coef = {}
    for name, base in _TEMPLATE_COEF.items():
        c = base.copy()
        k = np.arange(1, N_HARM + 1)
        amp = np.exp(rng.normal(0, 0.18, N_HARM) / k)  # higher harmonics vary less
        shift = rng.normal(0, 0.25, N_HARM) / k  # phase shift per harmonic (rad)
        cos_, sin_ = c[1:1 + N_HARM], c[1 + N_HARM:]
        c[1:1 + N_HARM] = amp * (cos_ * np.cos(shift) - sin_ * np.sin(shift))
        c[1 + N_HARM:] = amp * (cos_ * np.sin(shift) + sin_ * np.cos(shift))
        c[0] += np.radians(rng.normal(0, 4))
        coef[name] = c
    step_ratio = float(np.clip(rng.normal(0.82, 0.07), 0.6, 1.05))
    coef["hip"][1:] *= step_ratio / 0.82  # longer steps need a bigger hip excursion
    gait = Gait(
        cadence_spm=float(np.clip(rng.normal(112, 7), 92, 132)), step_ratio=step_ratio, coef=coef,
        asym=_ln(rng, 0.06), arm_amp=np.radians(rng.uniform(6, 28)), arm_off=np.radians(rng.normal(0, 5)),
        arm_abd=np.radians(rng.uniform(4, 14)), elbow_off=np.radians(rng.uniform(8, 35)),
        elbow_amp=np.radians(rng.uniform(3, 15)), pelvis_rot=np.radians(rng.uniform(2, 9)),
        thorax_rot=rng.uniform(0.2, 0.9), obliquity=np.radians(rng.uniform(1, 6)),
        sway=rng.uniform(0.01, 0.045), lean=np.radians(rng.normal(4, 3)),
        head_pitch=np.radians(rng.normal(0, 6)), toe_out=np.radians(rng.normal(8, 4)),
        arm_phase=float(rng.normal(0.0, 0.04)),
    )
    return Identity(shape=shape, gait=gait)


def session(ident: Identity, rng: np.random.Generator, speed: float = 1.0) -> Identity:
    """The same person on another day: small noise on build and gait, and a walking speed.

    Args:
        ident: the persistent identity.
        rng: the recording's generator.
        speed: relative walking speed (1 = the person's preferred speed); faster walking
            raises cadence and step length together (each by about sqrt(speed)).
    """
    s = ident.shape
    b = _ln(rng, 0.03)  # clothing layers, posture: build varies a little day to day
    shape = replace(s, r_thigh=s.r_thigh * b, r_knee=s.r_knee * b, r_upper_arm=s.r_upper_arm * b,
                    r_forearm=s.r_forearm * b, r_trunk=s.r_trunk * b * _ln(rng, 0.03), r_side=s.r_side * b)
    g = ident.gait
    coef = {}
    for name, c in g.coef.items():
        c2 = c * _ln(rng, 0.04)
        c2[0] = c[0] + np.radians(rng.normal(0, 1.0))
        coef[name] = c2
    sf = float(np.sqrt(max(speed, 0.3)))
    coef["hip"][1:] *= sf
    gait = replace(g, coef=coef, cadence_spm=g.cadence_spm * sf * _ln(rng, 0.025),
                   step_ratio=g.step_ratio * sf, arm_amp=g.arm_amp * _ln(rng, 0.08) * sf,
                   lean=g.lean + np.radians(rng.normal(0, 1.0)),
                   head_pitch=g.head_pitch + np.radians(rng.normal(0, 2)))
    return Identity(shape=shape, gait=gait)


def walking_speed(ident: Identity) -> float:
    """Forward speed in m/s implied by cadence and step length."""
    leg = ident.shape.thigh + ident.shape.shin + ident.shape.ankle_h
    return ident.gait.step_ratio * leg * ident.gait.cadence_spm / 60.0


def _rot_z(p: np.ndarray, ang: np.ndarray) -> np.ndarray:
    """Rotate points ``[T, ..., 3]`` about z by per-frame angles ``[T]``."""
    c = np.cos(ang).reshape((-1,) + (1,) * (p.ndim - 2))
    s = np.sin(ang).reshape((-1,) + (1,) * (p.ndim - 2))
    out = p.copy()
    out[..., 0] = c * p[..., 0] - s * p[..., 1]
    out[..., 1] = s * p[..., 0] + c * p[..., 1]
    return out


def pose(ident: Identity, t: np.ndarray, phase0: float = 0.0,
         carry_side: int = 0, load_lean: float = 0.0) -> np.ndarray:
    """Joint positions of a person walking along +x, feet on the ground.

    Args:
        ident: the (session) identity.
        t: times in seconds ``[T]``.
        phase0: gait-cycle fraction at t = 0.
        carry_side: +1/-1 when a hand carries something on the left/right (less arm swing).
        load_lean: extra forward lean (rad), e.g. under a backpack.

    Returns:
        ``[T, N_JOINTS, 3]`` positions in metres, travelling at :func:`walking_speed`.
    """
    s, g = ident.shape, ident.gait
    f = g.cadence_spm / 120.0  # strides per second
    u = (f * t + phase0) % 1.0  # [T]
    T = len(t)
    out = np.zeros((T, N_JOINTS, 3))
    legs = []
    for side, (uu, amp) in enumerate(((u, 1.0), ((u + 0.5) % 1.0, g.asym))):
        b = _basis(uu)  # [T, 1 + 2K]
        hip = b @ g.coef["hip"]
        hip = g.coef["hip"][0] + amp * (hip - g.coef["hip"][0])  # [T]
        knee = np.maximum(b @ g.coef["knee"], 0.0)
        ank = b @ g.coef["ankle"]
        shin_a = hip - knee
        foot_a = shin_a + ank
        sign = 1.0 if side == 0 else -1.0
        hip_p = np.stack([np.zeros(T), np.full(T, sign * s.hip_w / 2), np.zeros(T)], 1)  # [T, 3]
        knee_p = hip_p + s.thigh * np.stack([np.sin(hip), np.zeros(T), -np.cos(hip)], 1)
        ank_p = knee_p + s.shin * np.stack([np.sin(shin_a), np.zeros(T), -np.cos(shin_a)], 1)

        def foot_pt(dx: float, dz: float, fa: np.ndarray = foot_a, a: np.ndarray = ank_p) -> np.ndarray:
            return a + np.stack([dx * np.cos(fa) - dz * np.sin(fa), np.zeros(T),
                                 dx * np.sin(fa) + dz * np.cos(fa)], 1)

        toe = foot_pt(0.75 * s.foot, -s.ankle_h)
        heel = foot_pt(-0.25 * s.foot, -s.ankle_h)
        # toe-out: rotate the foot about the ankle
        for p in (toe, heel):
            d = p - ank_p
            d[:] = _rot_z(d[:, None, :], np.full(T, sign * g.toe_out))[:, 0]
            p[:] = ank_p + d
        legs.append((hip_p, knee_p, ank_p, toe, heel))
    (hl, kl, al, tl, el), (hr, kr, ar, tr, er) = legs
    out[:, HIP_L], out[:, HIP_R], out[:, KNEE_L], out[:, KNEE_R] = hl, hr, kl, kr
    out[:, ANKLE_L], out[:, ANKLE_R], out[:, TOE_L], out[:, TOE_R] = al, ar, tl, tr
    out[:, HEEL_L], out[:, HEEL_R] = el, er
    # pelvis: list (obliquity) raises/lowers the hips, rotation turns the whole lower body
    obl = g.obliquity * np.sin(4 * np.pi * u)  # [T]
    lower = list(range(HIP_L, HEEL_R + 1))
    out[:, lower, 2] += np.where(out[:, lower, 1] > 0, 1, -1) * (s.hip_w / 2) * np.sin(obl)[:, None]
    prot = -g.pelvis_rot * np.cos(2 * np.pi * u)
    out[:, lower] = _rot_z(out[:, lower], prot)
    # trunk
    lean = g.lean + load_lean + np.radians(1.0) * np.cos(4 * np.pi * u)  # [T]
    trot = -g.thorax_rot * prot
    chest = s.torso * np.stack([np.sin(lean), np.zeros(T), np.cos(lean)], 1)  # [T, 3]
    out[:, CHEST] = chest
    for j, sign in ((SHOULDER_L, 1.0), (SHOULDER_R, -1.0)):
        out[:, j] = chest + _rot_z(np.tile([0.0, sign * s.shoulder_w / 2, -0.02], (T, 1))[:, None], trot)[:, 0]
    hl_ = lean + g.head_pitch
    out[:, NECK] = chest + s.neck * np.stack([np.sin(hl_), np.zeros(T), np.cos(hl_)], 1)
    out[:, HEAD] = out[:, NECK] + 1.15 * s.head_r * np.stack([np.sin(hl_), np.zeros(T), np.cos(hl_)], 1)
    # arms swing against the same-side leg; a carrying hand swings much less
    for side, (sh, el_, wr) in enumerate(((SHOULDER_L, ELBOW_L, WRIST_L), (SHOULDER_R, ELBOW_R, WRIST_R))):
        sign = 1.0 if side == 0 else -1.0
        uu = (u + 0.5 * side + g.arm_phase) % 1.0
        damp = 0.25 if carry_side == sign else 1.0
        a = g.arm_off + damp * g.arm_amp * np.cos(2 * np.pi * (uu - 0.4)) + lean * 0.3
        e = g.elbow_off * (0.4 if damp < 1 else 1.0) + damp * g.elbow_amp * np.cos(2 * np.pi * (uu - 0.45))
        ab = g.arm_abd
        up = np.stack([np.sin(a) * np.cos(ab), np.full(T, sign * np.sin(ab)), -np.cos(a) * np.cos(ab)], 1)
        lo = np.stack([np.sin(a + e) * np.cos(ab), np.full(T, sign * np.sin(ab)), -np.cos(a + e) * np.cos(ab)], 1)
        rel = np.stack([s.upper_arm * up, s.upper_arm * up + s.forearm * lo], 1)  # [T, 2, 3]
        rel = _rot_z(rel, trot)
        out[:, el_] = out[:, sh] + rel[:, 0]
        out[:, wr] = out[:, sh] + rel[:, 1]
    # lateral sway towards the stance leg, forward travel, feet on the ground
    out[:, :, 1] += g.sway * np.sin(2 * np.pi * u)[:, None]
    out[:, :, 0] += (walking_speed(ident) * t)[:, None]
    feet = out[:, [TOE_L, TOE_R, HEEL_L, HEEL_R], 2]  # [T, 4]
    out[:, :, 2] -= feet.min(axis=1)[:, None]
    return out
