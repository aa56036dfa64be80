"""Loading official-format checkpoints: heads, MAE keys, interpolation and clear errors."""
import logging

import pytest
import torch

from hiera_video import create_model

TINY = dict(embed_dim=16, num_heads=1, stages=(1, 1, 1, 1))


def save(model, path, extra=None):
    state = dict(model.state_dict())
    state.update(extra or {})
    torch.save({"model_state": state}, path)
    return str(path)


def test_round_trip_identical_outputs(tmp_path):
    src = create_model("hiera_tiny_16x224", input_size=(4, 64, 64), num_classes=5, **TINY).eval()
    path = save(src, tmp_path / "a.pth")
    dst = create_model("hiera_tiny_16x224", pretrained=path, input_size=(4, 64, 64), num_classes=5, **TINY).eval()
    x = torch.randn(2, 3, 4, 64, 64)
    with torch.no_grad():
        assert torch.equal(src(x), dst(x))


def test_other_class_count_drops_head_with_log(tmp_path, caplog):
    src = create_model("hiera_tiny_16x224", input_size=(4, 64, 64), num_classes=400, **TINY)
    path = save(src, tmp_path / "k400.pth")
    with caplog.at_level(logging.INFO, logger="hiera_video"):
        dst = create_model("hiera_tiny_16x224", pretrained=path, input_size=(4, 64, 64), num_classes=10, **TINY)
    assert "400 classes" in caplog.text and "re-initialised" in caplog.text
    assert torch.equal(dst.blocks[0].attn.qkv.weight, src.blocks[0].attn.qkv.weight)


def test_mae_checkpoint_loads_encoder_and_logs_decoder_dropped(tmp_path, caplog):
    src = create_model("hiera_tiny_16x224", input_size=(4, 64, 64), **TINY)
    encoder = {k: v for k, v in src.state_dict().items() if not k.startswith(("head.", "norm."))}
    path = tmp_path / "mae.pth"
    torch.save({"model_state": {**encoder, "decoder_embed.weight": torch.zeros(8, 128), "mask_token": torch.zeros(1, 1, 8),
                                "encoder_norm.weight": torch.ones(128), "multi_scale_fusion_heads.0.weight": torch.zeros(1)}}, path)
    with caplog.at_level(logging.INFO, logger="hiera_video"):
        dst = create_model("hiera_tiny_16x224", pretrained=str(path), input_size=(4, 64, 64), **TINY)
    assert "MAE checkpoint" in caplog.text and "decoder_embed" in caplog.text
    assert "initialised fresh" in caplog.text and "head.projection.weight" in caplog.text
    assert torch.equal(dst.patch_embed.proj.weight, src.patch_embed.proj.weight)


@pytest.mark.parametrize("input_size", [(8, 224, 224), (16, 320, 320), (32, 256, 256)])
def test_position_embeddings_are_interpolated(tmp_path, input_size):
    src = create_model("hiera_tiny_16x224", **TINY)
    path = save(src, tmp_path / "k400.pth")
    model = create_model("hiera_tiny_16x224", pretrained=path, input_size=input_size, **TINY).eval()
    t, h, w = (input_size[0] // 2, input_size[1] // 4, input_size[2] // 4)
    assert model.pos_embed_temporal.shape == (1, t, 16) and model.pos_embed_spatial.shape == (1, h * w, 16)
    if input_size[1] == 224:  # spatial grid unchanged: copied exactly
        assert torch.equal(model.pos_embed_spatial, src.pos_embed_spatial)
    with torch.no_grad():
        out = model(torch.randn(1, 3, *input_size))
    assert out.shape == (1, 400) and torch.isfinite(out).all()


def test_image_checkpoint_interpolates_to_256(tmp_path):
    src = create_model("hiera_tiny_224", **TINY)
    model = create_model("hiera_tiny_224", pretrained=save(src, tmp_path / "in1k.pth"), input_size=(256, 256), **TINY)
    assert model.pos_embed.shape == (1, 64 * 64, 16)
    assert torch.isfinite(model(torch.randn(1, 3, 256, 256))).all()


def test_other_size_is_rejected_with_the_keys(tmp_path):
    src = create_model("hiera_tiny_16x224", input_size=(4, 64, 64), embed_dim=16, num_heads=1, stages=(1, 1, 2, 1))
    path = save(src, tmp_path / "bigger.pth")
    with pytest.raises(ValueError, match=r"does not fit this model.*missing 2: .*unexpected 14: \['blocks\.4"):
        create_model("hiera_tiny_16x224", pretrained=path, input_size=(4, 64, 64), **TINY)
    wide = create_model("hiera_tiny_16x224", input_size=(4, 64, 64), embed_dim=32, num_heads=1, stages=(1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"wrong shape .*patch_embed\.proj\.weight"):
        create_model("hiera_tiny_16x224", pretrained=save(wide, tmp_path / "wide.pth"), input_size=(4, 64, 64), **TINY)


def test_image_checkpoint_into_video_model_is_rejected(tmp_path):
    src = create_model("hiera_tiny_224", input_size=(64, 64), **TINY)
    with pytest.raises(ValueError, match="image/video"):
        create_model("hiera_tiny_16x224", pretrained=save(src, tmp_path / "img.pth"), input_size=(4, 64, 64), **TINY)


def test_not_a_checkpoint(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
        create_model("hiera_tiny_16x224", pretrained=str(junk), **TINY)
    empty = tmp_path / "empty.pth"
    torch.save({"epoch": 3}, empty)
    with pytest.raises(ValueError, match="holds no state dict"):
        create_model("hiera_tiny_16x224", pretrained=str(empty), **TINY)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        create_model("hiera_tiny_16x224", pretrained=str(tmp_path / "missing.pth"), **TINY)
