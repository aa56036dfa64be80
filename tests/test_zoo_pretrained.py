"""Release checkpoints by name: torch.hub's cache, offline errors, atomic checked downloads, configs.

Nothing is downloaded: the tests write checkpoint files themselves, into the cache (as a
user who copied the release's files there) or behind file:// URLs.
"""
import hashlib
import logging
import os
import time

import pytest
import torch

from hiera_video import create_model, list_pretrained
from hiera_video.engine.build import checkpoint_exists, load_test_weights, load_train_init
from hiera_video.models import hub, zoo

TINY = dict(embed_dim=16, num_heads=1, stages=(1, 1, 1, 1))
TINY_VIDEO = dict(input_size=(4, 64, 64), **TINY)
URL = "https://dl.fbaipublicfiles.com/hiera/"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty torch.hub cache under tmp_path, and no network: a missing file must fail at once."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv(hub.OFFLINE_ENV, "1")
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


def seed(folder, file_name, model):
    torch.save({"model_state": model.state_dict()}, folder / file_name)
    return model


def test_cache_path_is_torch_hubs(cache):
    url = URL + "hiera_base_16x224.pth"
    assert hub.cache_path(url) == os.path.join(torch.hub.get_dir(), "checkpoints", "hiera_base_16x224.pth")
    assert hub.cache_path(url) == str(cache / "hiera_base_16x224.pth")


def test_pretrained_true_and_tags_load_the_cached_files(cache):
    torch.manual_seed(0)
    finetuned = seed(cache, "hiera_base_16x224.pth", create_model("hiera_base_16x224", **TINY_VIDEO))
    mae = seed(cache, "mae_hiera_base_16x224.pth", create_model("mae_hiera_base_16x224", decoder_embed_dim=32,
                                                                 decoder_depth=1, **TINY_VIDEO))
    default = create_model("hiera_base_16x224", pretrained=True, **TINY_VIDEO)
    torch.testing.assert_close(default.head.projection.weight, finetuned.head.projection.weight, rtol=0, atol=0)
    tagged = create_model("hiera_base_16x224", pretrained="mae_k400_ft_k400", **TINY_VIDEO)
    torch.testing.assert_close(tagged.blocks[1].attn.qkv.weight, finetuned.blocks[1].attn.qkv.weight, rtol=0, atol=0)
    encoder = create_model("hiera_base_16x224", pretrained="mae_k400", num_classes=5, **TINY_VIDEO)
    torch.testing.assert_close(encoder.blocks[1].attn.qkv.weight, mae.blocks[1].attn.qkv.weight, rtol=0, atol=0)
    full = create_model("mae_hiera_base_16x224", pretrained=True, decoder_embed_dim=32, decoder_depth=1, **TINY_VIDEO)
    torch.testing.assert_close(full.decoder_pred.weight, mae.decoder_pred.weight, rtol=0, atol=0)
    dotted = create_model("hiera_base_16x224", pretrained="mae_hiera_base_16x224.mae_k400", **TINY_VIDEO)
    torch.testing.assert_close(dotted.patch_embed.proj.weight, mae.patch_embed.proj.weight, rtol=0, atol=0)


def test_offline_missing_file_fails_at_once_naming_url_and_path(cache):
    start = time.monotonic()
    with pytest.raises(hub.CheckpointUnavailable) as err:
        create_model("hiera_large_16x224", pretrained="mae_k400")
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert URL + "mae_hiera_large_16x224.pth" in message
    assert str(cache / "mae_hiera_large_16x224.pth") in message
    assert os.listdir(cache) == []


def test_unreachable_server_names_url_and_path(cache, monkeypatch):
    monkeypatch.delenv(hub.OFFLINE_ENV)
    url = "http://127.0.0.1:9/hiera_base_224.pth"  # the discard port: refused at once, nothing leaves the machine
    with pytest.raises(hub.CheckpointUnavailable, match="cannot download http://127.0.0.1:9/hiera_base_224.pth") as err:
        hub.cached_checkpoint(url, progress=False)
    assert str(cache / "hiera_base_224.pth") in str(err.value)
    assert os.listdir(cache) == []


def test_download_is_checked_and_atomic(cache, tmp_path, monkeypatch):
    monkeypatch.delenv(hub.OFFLINE_ENV)
    source = tmp_path / "served" / "mae_hiera_tiny_224.pth"
    source.parent.mkdir()
    source.write_bytes(os.urandom(3 << 20))  # several read chunks
    url = source.as_uri()
    good = hashlib.sha256(source.read_bytes()).hexdigest()
    with pytest.raises(hub.CheckpointUnavailable, match="SHA-256"):
        hub.cached_checkpoint(url, sha256="0" * 64, progress=False)
    assert os.listdir(cache) == []  # no half or unchecked file left behind
    path = hub.cached_checkpoint(url, sha256=good, progress=False)
    assert path == str(cache / "mae_hiera_tiny_224.pth") and os.listdir(cache) == ["mae_hiera_tiny_224.pth"]
    assert (cache / "mae_hiera_tiny_224.pth").read_bytes() == source.read_bytes()
    source.unlink()
    assert hub.cached_checkpoint(url, sha256=good, progress=False) == path  # cached: the source is not read


def test_bad_names_list_the_valid_ones(cache):
    with pytest.raises(ValueError, match="'hiera_base_224' has no release checkpoint 'mae_k400'; its checkpoints: "
                                         "mae_in1k_ft_in1k, mae_in1k"):
        create_model("hiera_base_224", pretrained="mae_k400")
    with pytest.raises(ValueError, match="'hiera_tiny_16x224' has no release checkpoint.*hiera_base_16x224"):
        create_model("hiera_tiny_16x224", pretrained=True)


def test_list_pretrained():
    names = list_pretrained()
    assert len(names) == 2 * 6 + 6 + 2 * 4 + 4
    assert names[names.index("hiera_base_16x224.mae_k400_ft_k400") + 1] == "hiera_base_16x224.mae_k400"
    assert list_pretrained("mae_hiera_*_16x224") == [f"mae_hiera_{s}_16x224.mae_k400"
                                                     for s in ("base", "base_plus", "huge", "large")]
    table = zoo.table_of_pretrained("hiera_huge_224")
    assert "mae_in1k_ft_in1k*" in table and URL + "hiera_huge_224.pth" in table and "hub/checkpoints" in table


def test_config_checkpoint_paths_take_tags(cache):
    """TRAIN/TEST.CHECKPOINT_FILE_PATH: the engine's loaders resolve tags of the config's model."""
    torch.manual_seed(0)
    finetuned = seed(cache, "hiera_base_16x224.pth", create_model("hiera_base_16x224", **TINY_VIDEO))
    model = create_model("hiera_base_16x224", **TINY_VIDEO)
    load_test_weights(model, "mae_k400_ft_k400")
    torch.testing.assert_close(model.norm.weight, finetuned.norm.weight, rtol=0, atol=0)
    fresh = create_model("hiera_base_16x224", num_classes=7, **TINY_VIDEO)
    load_train_init(fresh, "mae_k400_ft_k400")  # another class count: head re-initialised, encoder loaded
    torch.testing.assert_close(fresh.blocks[0].mlp.fc1.weight, finetuned.blocks[0].mlp.fc1.weight, rtol=0, atol=0)
    assert checkpoint_exists("mae_k400") and not checkpoint_exists(str(cache / "nothing.pth"))
    with pytest.raises(hub.CheckpointUnavailable, match="mae_hiera_base_16x224.pth"):
        load_train_init(fresh, "mae_k400")


def test_release_mae_with_other_decoder_heads_warns(cache, caplog):
    """HIERA.DECODER_NUM_HEADS 8 (the paper's recipe) with the release's weights (16) loads, but says so."""
    small = dict(decoder_embed_dim=32, decoder_depth=1, **TINY_VIDEO)
    seed(cache, "mae_hiera_base_16x224.pth", create_model("mae_hiera_base_16x224", **small))
    with caplog.at_level(logging.WARNING, logger="hiera_video"):
        create_model("mae_hiera_base_16x224", pretrained="mae_k400", **small)
        assert "decoder heads" not in caplog.text
        create_model("mae_hiera_base_16x224", pretrained="mae_k400", decoder_num_heads=8, **small)
    assert "trained with 16 decoder heads, this model has 8" in caplog.text


def test_one_name_table_for_classifiers_and_maes():
    assert zoo.list_models("mae_*", pretrained=True) == list_pretrained("mae_*")
    assert zoo.list_models("mae_*") == sorted(f"mae_{n}" for n in zoo.list_models("hiera_*"))
    mae = create_model("mae_hiera_tiny_224", input_size=(64, 64), **TINY)
    assert type(mae).__name__ == "MaskedAutoencoderHiera" and mae.model_name == "mae_hiera_tiny_224"
