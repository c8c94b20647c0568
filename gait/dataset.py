"""Gait datasets in the CASIA-B layout that OpenGait-style tools read.

Layout: ``ROOT/<subject id>/<type>/<view>/`` with one array file per sequence, e.g.
``ROOT/001/nm-01/090/090.npz``: aligned silhouettes ``[n, 64, 64]`` uint8 (0..255).
Types are ``nm-01..06`` (normal), ``bg-01..02`` (carrying a bag), ``cl-01..02`` (coat);
views ``000``..``180`` in steps of 18 degrees. Accepted sequence files:

* ``.npz`` (written by ``gaitline sim gaitset``; array ``silhouettes``, else the first array),
* ``.npy``,
* ``.pkl`` (OpenGait's pretreatment output: a pickled uint8 array; see :func:`load_sequence`),
* a folder of per-frame ``.png`` silhouettes (the original CASIA-B release), aligned on load.

The loader converts 64x64 to the pipeline's 64x44 by cutting 10 columns on each side
(OpenGait's convention), so the same models and baselines score real and synthetic data.
"""

from __future__ import annotations

import io
import pickle  # noqa: S403  (OpenGait's .pkl format; see load_sequence)
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gait.exceptions import DatasetError

VIEWS = tuple(f"{a:03d}" for a in range(0, 181, 18))
TYPES = tuple([f"nm-{i:02d}" for i in range(1, 7)] + [f"bg-{i:02d}" for i in range(1, 3)]
              + [f"cl-{i:02d}" for i in range(1, 3)])
ARRAY_KEY = "silhouettes"


@dataclass(frozen=True)
class Sequence:
    """One recording: subject, type (``nm-01``...), view (``090``) and where it is stored."""

    subject: str
    type: str
    view: str
    path: Path

    @property
    def condition(self) -> str:
        """``NM``, ``BG`` or ``CL``."""
        return self.type.split("-")[0].upper()


def align_opengait(mask: np.ndarray, size: int = 64) -> np.ndarray | None:
    """Align one silhouette the way OpenGait's pretreatment does.

    Crop to the rows that hold foreground, scale to ``size`` rows keeping the aspect ratio,
    centre horizontally on the column that splits the foreground mass in half, cut ``size``
    columns. Returns ``[size, size]`` uint8, or None when the mask is (nearly) empty.

    Args:
        mask: ``[h, w]`` uint8/bool silhouette, any size.
        size: output side in pixels.
    """
    m = mask if mask.dtype == np.uint8 else mask.astype(np.uint8) * 255
    rows = np.nonzero(m.max(axis=1) > 0)[0]
    if len(rows) < 4:
        return None
    m = m[rows[0]:rows[-1] + 1]  # [h', w]
    h, w = m.shape
    new_w = max(int(round(w * size / h)), 1)
    m = cv2.resize(m, (new_w, size), interpolation=cv2.INTER_CUBIC if h < size else cv2.INTER_AREA)
    col = m.sum(axis=0, dtype=np.float64)  # [new_w]
    total = col.sum()
    if total <= 0:
        return None
    cx = int(np.searchsorted(np.cumsum(col), total / 2))
    half = size // 2
    padded = np.zeros((size, new_w + size), np.uint8)  # [size, new_w + size]
    padded[:, half:half + new_w] = m
    return padded[:, cx:cx + size].copy()


def to_64x44(seq: np.ndarray) -> np.ndarray:
    """Cut ``[n, 64, 64]`` aligned silhouettes to ``[n, 64, 44]`` (10 columns off each side)."""
    if seq.shape[1:] == (64, 44):
        return seq
    if seq.shape[1:] != (64, 64):
        raise DatasetError(f"expected [n, 64, 64] silhouettes, got {list(seq.shape)}")
    return seq[:, :, 10:54]


def save_sequence(path: Path, seq: np.ndarray) -> None:
    """Write ``seq`` ``[n, 64, 64]`` uint8 as a deflated ``.npz`` with fixed timestamps.

    ``numpy.savez_compressed`` stamps the current time into the zip, so the same data would
    not give the same bytes; this writer does, and ``numpy.load`` reads it as usual.
    """
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(seq, dtype=np.uint8), allow_pickle=False)
    info = zipfile.ZipInfo(f"{ARRAY_KEY}.npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(info, buf.getvalue(), compresslevel=6)


def load_sequence(path: Path) -> np.ndarray:
    """Read one sequence as ``[n, 64, 64]`` uint8 (or whatever size it was stored at).

    Args:
        path: a ``.npz``/``.npy``/``.pkl`` file, or a folder of per-frame ``.png`` masks.
            ``.pkl`` files are unpickled: only point the loader at datasets you produced or
            trust (OpenGait writes them with its own pretreatment script).
    """
    try:
        if path.is_dir():
            frames = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(path.glob("*.png"))]
            aligned = [align_opengait(f) for f in frames if f is not None]
            ok = [a for a in aligned if a is not None]
            return np.stack(ok) if ok else np.zeros((0, 64, 64), np.uint8)
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                key = ARRAY_KEY if ARRAY_KEY in z.files else z.files[0]
                arr = np.asarray(z[key])
        elif path.suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif path.suffix == ".pkl":
            with path.open("rb") as fh:
                arr = np.asarray(pickle.load(fh))  # noqa: S301  (user's own dataset, OpenGait format)
        else:
            raise DatasetError(f"{path}: unknown sequence format {path.suffix!r}")
    except (OSError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError, EOFError) as exc:
        raise DatasetError(f"cannot read sequence {path}: {exc}") from exc
    if arr.ndim != 3:
        raise DatasetError(f"{path}: expected [n, h, w] silhouettes, got shape {list(arr.shape)}")
    if arr.dtype != np.uint8:
        arr = (arr * (255 if arr.max() <= 1 else 1)).clip(0, 255).astype(np.uint8)
    return arr


def _sequence_file(view_dir: Path) -> Path | None:
    for ext in (".npz", ".npy", ".pkl"):
        files = sorted(view_dir.glob(f"*{ext}"))
        if files:
            return files[0]
    return view_dir if any(view_dir.glob("*.png")) else None


def scan(root: str | Path) -> list[Sequence]:
    """Every sequence under ``root``, sorted by subject, type and view.

    Raises:
        DatasetError: the folder is missing or holds nothing in the CASIA-B layout.
    """
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"--dataset {base}: no such folder")
    out = []
    for sdir in sorted(p for p in base.iterdir() if p.is_dir()):
        for tdir in sorted(p for p in sdir.iterdir() if p.is_dir()):
            for vdir in sorted(p for p in tdir.iterdir() if p.is_dir()):
                f = _sequence_file(vdir)
                if f is not None:
                    out.append(Sequence(sdir.name, tdir.name, vdir.name, f))
    if not out:
        raise DatasetError(f"--dataset {base}: no sequences in the <id>/<type>/<view>/ layout")
    return out


def iter_sequences(seqs: list[Sequence], max_frames: int | None = None) -> Iterator[tuple[Sequence, np.ndarray]]:
    """Yield each sequence with its silhouettes as ``[n, 64, 44]`` float32 in 0..1.

    Args:
        seqs: from :func:`scan`.
        max_frames: keep at most this many frames from the start (None = all).
    """
    for s in seqs:
        arr = load_sequence(s.path)
        if arr.shape[0] == 0:
            continue
        if arr.shape[1:] not in ((64, 64), (64, 44)):
            arr = np.stack([cv2.resize(a, (64, 64), interpolation=cv2.INTER_AREA) for a in arr])
        arr = to_64x44(arr)[:max_frames]  # [n, 64, 44]
        yield s, arr.astype(np.float32) * (1.0 / 255)
