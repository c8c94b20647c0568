"""The int8 calibration of a committed checkpoint (:mod:`gait.model.cpu_runtime`): activation
ranges fitted on simulated people, written beside the checkpoint as ``<profile>.int8.json``.

Simulated, not real: the real recordings in ``../shared/data`` are what the int8 path is scored
on (``gaitline eval real``), so they must not be what it was fitted on. The frames are 0/1 like the
frames stage's (the simulator's aligned masks thresholded at half), every fourth sequence frame,
with their mirror images (the default model's projection reads both)::

    PYTHONPATH=. python3 -m bench.calibrate_int8 --profile default

A checkpoint whose weights change needs a new calibration: the file is keyed by a digest of the
weights, and a stale one is ignored (the embedder runs ``fused``, logged).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

SEED = 31  # a seed no committed model trained, fitted or was scored on
#: the stages that stay fp32: the first block (16 channels at 32x22, where int8 convs gain little
#: time) in int8 flipped a real recording whose margin was 0.005 (gaitline eval real, d2)
KEEP_FLOAT = ("0",)
VIEWS = ((90.0, "nm"), (54.0, "bg"), (126.0, "cl"), (18.0, "nm"))


def frames(people: int = 12, seed: int = SEED) -> np.ndarray:
    """0/1 calibration frames [m, 64, 44] float32: ``people`` simulated walkers, four sequences each
    (views and clothing conditions in ``VIEWS``), every third frame, plus the mirror images."""
    from sim.gaitset import identity_of, record

    out = []
    for person in range(people):
        ident, everyday = identity_of(seed, person)
        for k, (view, condition) in enumerate(VIEWS):
            seq, _ = record(ident, everyday, np.random.default_rng([seed, person, k]), view, condition)
            out.append(seq[::3])
    x = (np.concatenate(out)[:, :, 10:54] > 127).astype(np.float32)  # [m, 64, 44]: OpenGait's 64x44 cut
    return np.ascontiguousarray(np.concatenate([x, x[:, :, ::-1]]))


def main(argv: list[str] | None = None) -> None:
    """Fit and write the calibration of ``--profile``'s committed checkpoint."""
    import torch

    from gait.model.checkpoint import load_checkpoint
    from gait.model.cpu_runtime import calibrate, calibration_path
    from gait.model.network import fuse_batchnorm_
    from gait.model.torch_embedder import CHECKPOINT_DIR

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="default")
    ap.add_argument("--people", type=int, default=12)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    path = CHECKPOINT_DIR / f"{args.profile}.pt"
    backbone = fuse_batchnorm_(load_checkpoint(path, device="cpu").model.eval()).backbone
    cal = calibrate(backbone, torch.from_numpy(frames(args.people)).unsqueeze(1), keep_float=KEEP_FLOAT)
    cal["command"] = f"PYTHONPATH=. python3 -m bench.calibrate_int8 --profile {args.profile} --people {args.people}"
    cal["data"] = (f"simulated: {args.people} people of seed {SEED}, views/conditions {list(VIEWS)}, "
                   "every 3rd frame + mirror")
    dest = calibration_path(path)
    dest.write_text(json.dumps(cal, indent=1) + "\n")
    print(f"wrote {dest} ({cal['frames']} frames, {len(cal['observers'])} activation ranges)")


if __name__ == "__main__":
    main()
