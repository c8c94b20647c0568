"""The gait model: shapes, set pooling, determinism, OpenGait parameter names."""

from __future__ import annotations

import copy

import pytest
import torch

from gait.model.network import PROFILES, GaitModel, ModelConfig, fuse_batchnorm_, hpp, profile_config, temporal_pool

torch.set_num_threads(1)


def _windows(n: int = 3, s: int = 6, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((n, s, 64, 44), generator=g) > 0.5).float()  # [n, s, 64, 44]


def _model(name: str = "tiny") -> GaitModel:
    torch.manual_seed(0)
    return GaitModel(profile_config(name)).eval()


@pytest.mark.parametrize("name", ["tiny", "default"])
def test_output_shapes_and_unit_norm(name: str) -> None:
    m = _model(name)
    cfg = m.cfg
    out = m(_windows())
    assert out.embedding.shape == (3, cfg.embed_dim)
    assert out.strips.shape == (3, cfg.strip_dim, cfg.parts)
    assert out.logits is None  # eval mode: no classifier
    assert torch.allclose(out.embedding.norm(dim=1), torch.ones(3), atol=1e-5)
    train_out = m.train()(_windows(), with_logits=True)
    assert train_out.logits is not None and train_out.logits.shape == (3, cfg.num_classes, cfg.parts)


def test_large_profile_is_gaitbase_sized() -> None:
    cfg = PROFILES["large"]
    assert cfg.channels == (64, 128, 256, 512) and cfg.parts == 16 and cfg.strip_dim == 256
    m = GaitModel(cfg).eval()
    with torch.inference_mode():
        out = m(_windows(1, 2))
    assert out.embedding.shape == (1, 16 * 256)


def test_accepts_channel_dim_and_is_deterministic_in_eval() -> None:
    m = _model()
    x = _windows()
    a = m(x).embedding
    b = m(x.unsqueeze(2)).embedding  # [n, s, 1, h, w]
    assert torch.equal(a, b)


def test_temporal_pooling_is_order_free() -> None:
    m = _model()
    x = _windows(2, 8)
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(m(x).embedding, m(x[:, perm]).embedding, atol=1e-6)
    f = torch.randn(2, 5, 4, 3, 3)
    assert torch.equal(temporal_pool(f), temporal_pool(f.flip(1)))


def test_different_windows_give_different_embeddings() -> None:
    m = _model()
    a, b = m(_windows(seed=1)).embedding, m(_windows(seed=2)).embedding
    assert not torch.allclose(a, b)


def test_hpp_strips_mean_plus_max() -> None:
    x = torch.arange(2 * 3 * 8 * 2, dtype=torch.float32).view(2, 3, 8, 2)
    z = hpp(x, (4,))  # [n, c, 4]
    assert z.shape == (2, 3, 4)
    strip0 = x[:, :, 0:2, :].reshape(2, 3, -1)
    assert torch.allclose(z[..., 0], strip0.mean(-1) + strip0.amax(-1))
    assert hpp(torch.randn(1, 2, 8, 6), (16,)).shape == (1, 2, 16)  # uneven: adaptive pooling


def test_fused_batchnorm_matches() -> None:
    m = _model()
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):  # non-trivial statistics
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 2.0)
    x = _windows()
    fused = fuse_batchnorm_(copy.deepcopy(m)).to(memory_format=torch.channels_last)
    assert torch.allclose(m(x).embedding, fused(x).embedding, atol=1e-5)
    with pytest.raises(ValueError):
        fuse_batchnorm_(m.train())


def test_opengait_parameter_names() -> None:
    keys = set(GaitModel(PROFILES["large"]).state_dict())
    for k in ("backbone.conv1.conv.weight", "backbone.bn1.running_var", "backbone.layer1.0.conv1.weight",
              "backbone.layer2.0.downsample.0.weight", "backbone.layer4.0.bn2.weight",
              "fcs.fc_bin", "bnnecks.bn1d.weight", "bnnecks.fc_bin"):
        assert k in keys, k
    assert not any(k.startswith("backbone.stages") for k in keys)


def test_config_roundtrip_and_errors() -> None:
    cfg = profile_config("cpu", num_classes=10)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({**cfg.to_dict(), "chanels": [1]})
    with pytest.raises(KeyError):
        profile_config("huge")
    with pytest.raises(ValueError):
        ModelConfig(channels=(8, 16), layers=(1,), strides=(1, 2))


def test_embedding_source_bnneck_or_strips() -> None:
    m = _model()
    bn = m.bnnecks.bn1d
    bn.running_mean.uniform_(0.5, 1.0)  # a common offset: what raw strips have after training
    x = _windows()
    out = m(x)
    assert m.cfg.embed_from == "strips"
    ref_raw = torch.nn.functional.normalize(out.strips, dim=1).flatten(1) / m.cfg.parts ** 0.5
    assert torch.allclose(out.embedding, ref_raw, atol=1e-6)
    bnm = GaitModel(ModelConfig(**{**m.cfg.to_dict(), "embed_from": "bnneck"})).eval()
    bnm.load_state_dict(m.state_dict())
    ref = torch.nn.functional.normalize(m.bnnecks.normalised(out.strips), dim=1).flatten(1) / m.cfg.parts ** 0.5
    assert torch.allclose(bnm(x).embedding, ref, atol=1e-6)
