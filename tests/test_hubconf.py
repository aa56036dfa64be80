"""hubconf.py: ``torch.hub.load`` of every model name, with overrides and release checkpoints."""
import importlib.util
import os

import pytest
import torch

from hiera_video import create_model, list_models
from hiera_video.models import hub

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_VIDEO = dict(embed_dim=16, num_heads=1, stages=(1, 1, 1, 1), input_size=(4, 64, 64))


def test_every_model_name_is_an_entry_point():
    spec = importlib.util.spec_from_file_location("hubconf", os.path.join(REPO, "hubconf.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # torch.hub offers every public callable of hubconf.py: exactly the model names.
    public = sorted(n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_"))
    assert public == list_models()
    assert all(importlib.util.find_spec(d) for d in module.dependencies)


def test_load_local_with_overrides():
    model = torch.hub.load(REPO, "hiera_tiny_224", source="local", num_classes=3, embed_dim=16, input_size=(64, 64))
    assert model.head.projection.out_features == 3 and model.input_size == (64, 64)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 3)


def test_load_local_pretrained_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv(hub.OFFLINE_ENV, "1")
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    saved = create_model("hiera_base_16x224", **TINY_VIDEO)
    torch.save({"model_state": saved.state_dict()}, folder / "hiera_base_16x224.pth")
    model = torch.hub.load(REPO, "hiera_base_16x224", source="local", pretrained=True, **TINY_VIDEO)
    torch.testing.assert_close(model.blocks[2].attn.proj.weight, saved.blocks[2].attn.proj.weight, rtol=0, atol=0)
    with pytest.raises(hub.CheckpointUnavailable, match="mae_hiera_base_16x224.pth"):
        torch.hub.load(REPO, "mae_hiera_base_16x224", source="local", pretrained=True)
