"""The LDA projection fitted after training: the maths and the model that carries it.

`gaitline fit-lda` end to end: tests/integration/test_fit_lda_cli.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gait.exceptions import ProjectionError
from gait.model.checkpoint import load_checkpoint, save_checkpoint
from gait.model.network import GaitModel, ModelConfig, hpp, profile_config, temporal_pool
from gait.model.projection import Lda, fit_lda, projection_features, reading, with_projection
from gait.model.registry import get_embedder
from gaitline.errors import GaitlineError

torch.set_num_threads(1)


def _people(rng: np.random.Generator, n_people: int, per: int, nuisance: float) -> tuple[np.ndarray, list[str]]:
    """Identity in 4 dims, plus 12 dims where each recording varies a lot (clothes, view)."""
    centres = rng.normal(0, 1.0, (n_people, 4))
    x, y = [], []
    for i, c in enumerate(centres):
        for _ in range(per):
            x.append(np.concatenate([c + rng.normal(0, 0.3, 4), rng.normal(0, nuisance, 12)]))
            y.append(f"p{i}")
    return np.asarray(x), y


def _rank1(x: np.ndarray, y: list[str]) -> float:
    """Leave-one-out nearest neighbour by cosine."""
    e = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = e @ e.T
    np.fill_diagonal(sim, -np.inf)
    lab = np.asarray(y)
    return float((lab[sim.argmax(1)] == lab).mean())


def test_lda_drops_the_directions_one_person_varies_in() -> None:
    rng = np.random.default_rng(0)
    x, y = _people(rng, 40, 6, nuisance=3.0)
    lda = fit_lda(x, y, dims=4, shrink=0.1)
    assert lda.mean.shape == (16,) and lda.weight.shape == (16, 4) and lda.weight.dtype == np.float32
    assert (np.diff(lda.ratios) <= 1e-6).all() and lda.ratios[0] > 1
    # the kept directions live in the 4 identity dims, not the 12 nuisance ones
    share = np.linalg.norm(lda.weight[:4], axis=0) / np.linalg.norm(lda.weight, axis=0)
    assert share.min() > 0.9
    # on new people drawn the same way, nearest-neighbour identification gets much better
    xt, yt = _people(np.random.default_rng(1), 30, 6, nuisance=3.0)
    raw, projected = _rank1(xt, yt), _rank1((xt - lda.mean) @ lda.weight, yt)
    assert projected > raw + 0.3, (raw, projected)


def _lda_by_eigh(x: np.ndarray, y: list[str], dims: int, shrink: float) -> tuple[np.ndarray, np.ndarray]:
    """The textbook route, written out: whiten by Sw's eigenvectors, eigendecompose the whitened Sb."""
    lab = np.asarray(y)
    names = np.unique(lab)
    mean = x.mean(0)
    centres = np.stack([x[lab == n].mean(0) for n in names])
    within = x - centres[np.searchsorted(names, lab)]
    sw = within.T @ within / (len(x) - len(names))
    sw += np.eye(len(sw)) * shrink * np.trace(sw) / len(sw)
    counts = np.array([(lab == n).sum() for n in names])
    sb = ((centres - mean) * counts[:, None]).T @ (centres - mean) / len(x)
    ew, ev = np.linalg.eigh(sw)
    whiten = ev / np.sqrt(ew)
    eb, u = np.linalg.eigh(whiten.T @ sb @ whiten)
    order = np.argsort(eb)[::-1][:dims]
    return whiten @ u[:, order], eb[order]


def test_lda_matches_the_eigendecomposition_it_replaces() -> None:
    # more dimensions than people, as in the product (11 520 numbers, 248 people): Sb is rank-deficient
    rng = np.random.default_rng(3)
    x, y = _people(rng, 12, 5, nuisance=2.0)
    x = np.hstack([x, rng.normal(0, 0.5, (len(x), 24))])  # [60, 40]
    lda = fit_lda(x.astype(np.float32), y, dims=6, shrink=0.5)
    want, ratios = _lda_by_eigh(x, y, dims=6, shrink=0.5)
    assert np.allclose(lda.ratios, ratios, rtol=1e-4)
    # the same directions up to sign (an embedding's cosines do not see a flipped axis)
    cos = (lda.weight * want).sum(0) / np.linalg.norm(lda.weight, axis=0) / np.linalg.norm(want, axis=0)
    assert np.allclose(np.abs(cos), 1.0, atol=1e-4), cos
    assert np.allclose(np.abs(lda.weight), np.abs(want), rtol=1e-3, atol=1e-5)
    # whitened: every kept direction has unit within-person variance, and they are uncorrelated
    lab = np.asarray(y)
    within = x - np.stack([x[lab == n].mean(0) for n in lab])
    sw = within.T @ within / (len(x) - 12)
    sw += np.eye(40) * 0.5 * np.trace(sw) / 40
    assert np.allclose(lda.weight.T @ sw @ lda.weight, np.eye(6), atol=1e-4)


@pytest.mark.parametrize(("kwargs", "msg"), [
    ({"dims": 40}, "identities - 1"),
    ({"dims": 0}, "identities - 1"),
    ({"dims": 4, "shrink": -1.0}, "shrink"),
])
def test_bad_fit_requests_are_named(kwargs: dict[str, float], msg: str) -> None:
    x, y = _people(np.random.default_rng(0), 10, 3, nuisance=1.0)
    with pytest.raises(ProjectionError, match=msg):
        fit_lda(x, y, **kwargs)  # type: ignore[arg-type]


def test_degenerate_inputs_are_refused() -> None:
    x, y = _people(np.random.default_rng(0), 10, 3, nuisance=1.0)
    with pytest.raises(ProjectionError, match="two identities"):
        fit_lda(x, ["a"] * len(x), dims=1)
    with pytest.raises(ProjectionError, match="one sequence"):
        fit_lda(x[:10], y[:10], dims=2)  # three rows each for p0..p2, one for p3
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ProjectionError, match="NaN"):
        fit_lda(bad, y, dims=2)
    with pytest.raises(ProjectionError, match="singular"):
        fit_lda(np.hstack([x, x]), y, dims=2, shrink=0.0)  # duplicated columns: rank-deficient
    assert isinstance(ProjectionError("x"), GaitlineError)


def test_lda_embedding_needs_a_projection() -> None:
    with pytest.raises(ValueError, match="fitted projection"):
        ModelConfig(embed_from="lda")
    cfg = ModelConfig(projection_dim=8, embed_from="lda")
    assert cfg.embed_dim == 8 and cfg.strips_dim == 15 * 32


def _projected(tmp_path: Path) -> tuple[GaitModel, Lda, Path]:
    torch.manual_seed(0)
    m = GaitModel(profile_config("tiny", num_classes=5)).eval()
    rng = np.random.default_rng(0)
    lda = Lda(mean=rng.normal(0, 1, m.cfg.strips_dim).astype(np.float32),
              weight=rng.normal(0, 1, (m.cfg.strips_dim, 6)).astype(np.float32), ratios=np.ones(6, np.float32))
    pm = with_projection(m, lda)
    return m, lda, save_checkpoint(tmp_path / "p.pt", pm, meta={"dataset": str(tmp_path / "train")})


def test_model_embeds_through_the_projection_and_round_trips(tmp_path: Path) -> None:
    m, lda, path = _projected(tmp_path)
    x = (torch.rand((3, 7, 64, 44), generator=torch.Generator().manual_seed(1)) > 0.5).float()
    with torch.inference_mode():
        strips = m(x).strips.flatten(1).numpy()  # [3, d*p]: the projection leaves the network alone
    want = (strips - lda.mean) @ lda.weight
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    ck = load_checkpoint(path, device="cpu")
    assert ck.config.projection_dim == 6 and ck.config.embed_from == "lda"
    with torch.inference_mode():
        got = ck.model(x).embedding.numpy()
    assert got.shape == (3, 6) and np.allclose(got, want, atol=1e-4)
    # the agents' embedder: auto picks the projection, bnneck stays available, fused BN agrees
    emb = get_embedder("checkpoint", path=path, device="cpu", precision="fp32", embed_from="auto")
    assert emb.dim == 6 and not emb.name.endswith("+lda")
    assert np.allclose(emb.embed(x.numpy().astype(np.uint8)), want, atol=1e-3)
    bn = get_embedder("checkpoint", path=path, device="cpu", embed_from="bnneck")
    assert bn.dim == m.cfg.strips_dim and bn.name.endswith("+bnneck")


def _pyramid(m: GaitModel, x: torch.Tensor, frame_mean: bool = False, frame_std: bool = False) -> np.ndarray:
    """Pooled strips before the strip FCs, computed here step by step: [n, c*p]; the frames
    pooled by their mean (``frame_mean``) or their population standard deviation
    (``frame_std``) instead of the max."""
    n, s = x.shape[:2]
    fmap = m.backbone(x.reshape(n * s, 1, 64, 44))
    fmap = fmap.view(n, s, *fmap.shape[1:])
    if frame_std:
        pooled = (fmap - fmap.mean(1, keepdim=True)).pow(2).mean(1).sqrt()
    else:
        pooled = fmap.mean(1) if frame_mean else temporal_pool(fmap)
    return hpp(pooled, m.cfg.bins).flatten(1).numpy()


def test_mirrored_pyramid_projection_reads_both_images() -> None:
    torch.manual_seed(0)
    m = GaitModel(profile_config("tiny", num_classes=5)).eval()
    base = reading(m, "pyramid", mirror=True)
    width = m.cfg.channels[-1] * m.cfg.parts
    assert base.cfg.projection_in_dim == 2 * width and reading(m, "strips", False).cfg.projection_in_dim == 15 * 32
    x = (torch.rand((3, 7, 64, 44), generator=torch.Generator().manual_seed(2)) > 0.5).float()
    with torch.inference_mode():
        plain, flipped = _pyramid(m, x), _pyramid(m, x.flip(-1))
        feats = base.projection_features(x).numpy()
    assert feats.shape == (3, 2 * width)
    assert np.allclose(feats, np.concatenate([plain, flipped], 1), atol=1e-4)
    rng = np.random.default_rng(3)
    half = rng.normal(0, 1, (width, 5)).astype(np.float32)
    # the same weights on both halves: the embedding cannot tell a window from its mirror image
    sym = with_projection(base, Lda(mean=np.zeros(2 * width, np.float32), weight=np.vstack([half, half]),
                                    ratios=np.ones(5, np.float32)))
    with torch.inference_mode():
        a, b, other = sym(x), sym(x.flip(-1)), sym(x[[1, 2, 0]])
        raw = m(x).strips
    assert np.allclose(a.embedding.numpy(), b.embedding.numpy(), atol=1e-4)
    assert not np.allclose(a.embedding.numpy(), other.embedding.numpy(), atol=1e-2)
    assert a.strips.shape == raw.shape and torch.allclose(a.strips, raw, atol=1e-5)  # the window's own strips
    # the helper that fit-lda uses returns the same features, sequence by sequence, in inference precision
    got = projection_features(base, [x[i].numpy().astype(np.uint8) for i in range(3)])
    assert np.allclose(got, feats, rtol=2e-2, atol=2e-3)  # bf16 where the CPU runs it natively


def test_frame_mean_projection_reads_mean_and_max_of_both_images() -> None:
    torch.manual_seed(0)
    m = GaitModel(profile_config("tiny", num_classes=5)).eval()
    width = m.cfg.channels[-1] * m.cfg.parts
    base = reading(m, "pyramid", mirror=True, frame_mean=True)
    assert base.cfg.projection_in_dim == 4 * width
    assert reading(m, "strips", mirror=False, frame_mean=True).cfg.projection_in_dim == 2 * 15 * 32
    x = (torch.rand((3, 7, 64, 44), generator=torch.Generator().manual_seed(4)) > 0.5).float()
    with torch.inference_mode():
        want = np.concatenate([_pyramid(m, x), _pyramid(m, x, frame_mean=True),
                               _pyramid(m, x.flip(-1)), _pyramid(m, x.flip(-1), frame_mean=True)], 1)
        feats = base.projection_features(x).numpy()
        raw = m(x).strips
    assert feats.shape == (3, 4 * width) and np.allclose(feats, want, atol=1e-4)
    # the mean differs from the max, and it is what a window's frame order cannot change either
    assert not np.allclose(want[:, :width], want[:, width:2 * width], atol=1e-2)
    with torch.inference_mode():
        assert np.allclose(base.projection_features(x.flip(1)).numpy(), feats, atol=1e-4)
    rng = np.random.default_rng(5)
    lda = Lda(mean=np.zeros(4 * width, np.float32), weight=rng.normal(0, 1, (4 * width, 5)).astype(np.float32),
              ratios=np.ones(5, np.float32))
    pm = with_projection(base, lda)
    with torch.inference_mode():
        out = pm(x)
    emb = want @ lda.weight
    assert np.allclose(out.embedding.numpy(), emb / np.linalg.norm(emb, axis=1, keepdims=True), atol=1e-4)
    assert torch.allclose(out.strips, raw, atol=1e-5)  # the strips stay the window's own max-pooled ones


def test_frame_std_projection_reads_how_much_each_part_moves() -> None:
    torch.manual_seed(0)
    m = GaitModel(profile_config("tiny", num_classes=5)).eval()
    width = m.cfg.channels[-1] * m.cfg.parts
    base = reading(m, "pyramid", mirror=True, frame_mean=True, frame_std=True)
    assert base.cfg.projection_in_dim == 6 * width
    assert reading(m, "pyramid", mirror=False, frame_std=True).cfg.projection_in_dim == 2 * width
    x = (torch.rand((3, 7, 64, 44), generator=torch.Generator().manual_seed(6)) > 0.5).float()
    with torch.inference_mode():
        want = np.concatenate([_pyramid(m, x), _pyramid(m, x, frame_mean=True), _pyramid(m, x, frame_std=True),
                               _pyramid(m, x.flip(-1)), _pyramid(m, x.flip(-1), frame_mean=True),
                               _pyramid(m, x.flip(-1), frame_std=True)], 1)
        feats = base.projection_features(x).numpy()
        # frame order changes nothing; a window that stands still moves by exactly nothing
        shuffled = base.projection_features(x[:, [3, 0, 6, 1, 5, 2, 4]]).numpy()
        still = base.projection_features(x[:, :1].expand(-1, 5, -1, -1).contiguous()).numpy()
        single = base.projection_features(x[:, :1]).numpy()
    assert feats.shape == (3, 6 * width) and np.allclose(feats, want, atol=1e-4)
    assert (want[:, 2 * width:3 * width] > 0).any()
    assert np.allclose(shuffled, feats, atol=1e-4)
    base.mirror_batched = True  # the GPU's way: the mirror image in one batch with the window
    with torch.inference_mode():
        batched = base.projection_features(x).numpy()
    assert np.allclose(batched, feats, atol=1e-5)
    for moving in (still, single):  # one frame gives 0, not NaN
        assert np.isfinite(moving).all()
        assert np.allclose(moving[:, 2 * width:3 * width], 0) and np.allclose(moving[:, 5 * width:], 0)
    ck = with_projection(base, Lda(mean=np.zeros(6 * width, np.float32),
                                   weight=np.random.default_rng(7).normal(0, 1, (6 * width, 4)).astype(np.float32),
                                   ratios=np.ones(4, np.float32)))
    assert ck.cfg.projection_frame_std and ck.cfg.projection_dim == 4


def test_power_projection_reads_signed_roots() -> None:
    torch.manual_seed(0)
    m = GaitModel(profile_config("tiny", num_classes=5)).eval()
    x = (torch.rand((3, 7, 64, 44), generator=torch.Generator().manual_seed(8)) > 0.5).float()
    with torch.inference_mode():
        pooled = reading(m, "pyramid", mirror=True, frame_mean=True, frame_std=True).projection_features(x)
        rooted = reading(m, "pyramid", True, True, True, power=0.5).projection_features(x)
        # the strip FCs' outputs go negative: the sign stays, the magnitude is rooted
        strips = reading(m, "strips", mirror=False).projection_features(x)
        strips_rooted = reading(m, "strips", mirror=False, power=0.5).projection_features(x)
    assert (pooled >= 0).all() and torch.allclose(rooted, pooled.sqrt(), atol=1e-6)
    assert (strips < 0).any() and (strips > 0).any()
    assert torch.allclose(strips_rooted, strips.sign() * strips.abs().sqrt(), atol=1e-6)
    assert not torch.allclose(rooted, pooled, atol=1e-2)
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="projection_power"):
            ModelConfig(projection_power=bad)


def test_auto_falls_back_to_bnneck_and_lda_needs_a_fit(tmp_path: Path) -> None:
    m = GaitModel(profile_config("tiny", num_classes=5)).eval()
    path = save_checkpoint(tmp_path / "plain.pt", m)
    assert get_embedder("checkpoint", path=path, device="cpu", embed_from="auto").name.endswith("+bnneck")
    with pytest.raises(GaitlineError, match="fit-lda"):
        get_embedder("checkpoint", path=path, device="cpu", embed_from="lda")


def test_projection_must_fit_the_strips() -> None:
    m = GaitModel(profile_config("tiny", num_classes=5)).eval()
    wrong = Lda(mean=np.zeros(7, np.float32), weight=np.zeros((7, 2), np.float32), ratios=np.ones(2, np.float32))
    with pytest.raises(ProjectionError, match="strips"):
        with_projection(m, wrong)
