"""The Hiera backbone: reference equivalence, layout, masking, compile, autocast, errors."""
import warnings

import pytest
import torch
import torch.nn as nn

from hiera_video import create_model, list_models

TINY_VIDEO = dict(embed_dim=16, num_heads=1, stages=(1, 1, 1, 1), input_size=(4, 64, 64), num_classes=7)


def tiny_video(**kw):
    return create_model("hiera_tiny_16x224", **{**TINY_VIDEO, **kw})


@pytest.mark.parametrize("name,shape", [("hiera_base_224", (2, 3, 224, 224)),
                                        ("hiera_base_16x224", (1, 3, 16, 224, 224))])
@pytest.mark.slow
def test_same_outputs_as_reference(name, shape, tmp_path):
    """Random weights of the release's factory, saved in the official format, give its outputs
    (tests/test_zoo_release.py checks every other name's architecture against its factory)."""
    hiera = pytest.importorskip("hiera", reason="reference implementation (hiera-transformer) not installed")
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(hiera, name)(pretrained=False).eval()
    # A peaked head, so that probabilities differ between classes and a mismatch shows.
    nn.init.normal_(ref.head.projection.weight, std=0.5)
    path = tmp_path / "official.pth"
    torch.save({"model_state": ref.state_dict()}, path)
    ours = create_model(name, pretrained=str(path)).eval()
    x = torch.randn(shape)
    with torch.no_grad():
        ref_probs, ref_maps = ref(x, return_intermediates=True)  # the reference applies softmax in eval
        logits, maps = ours(x, return_intermediates=True)
    assert ref_probs.max() > 5 / ref_probs.shape[-1]  # not uniform
    assert (logits.softmax(-1) - ref_probs).abs().max().item() <= 1e-4
    for ref_map, our_map in zip(ref_maps, maps):
        assert torch.allclose(ref_map.reshape(our_map.shape), our_map, atol=1e-4)


def test_logits_in_train_and_eval():
    model = tiny_video(head_dropout=0.0)
    x = torch.randn(2, 3, 4, 64, 64)
    train_out = model.train()(x)
    eval_out = model.eval()(x)
    assert train_out.shape == (2, 7)
    assert torch.allclose(train_out, eval_out, atol=1e-6)  # no softmax hidden in eval
    assert model.forward_features(x).shape == (2, model.num_features)


def _position_probe(model):
    """Make every block an identity (plus q max-pooling) that carries channel 0 through."""
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.patch_embed.proj.weight[0, 0, 1, 3, 3] = 1.0  # centre tap: token (t,i,j) = pixel (2t, 4i, 4j)
        for blk in model.blocks:
            blk.norm1, blk.norm2 = nn.Identity(), nn.Identity()
            if hasattr(blk, "proj"):
                blk.proj.weight[0, 0] = 1.0


def test_intermediates_are_in_spatial_order():
    """An input whose values encode position survives unroll, q-pooling and reroll."""
    model = create_model("hiera_tiny_16x224", embed_dim=8, num_heads=1, stages=(1, 1, 1, 1), input_size=(4, 128, 96))
    _position_probe(model)
    T, H, W = model.input_size
    code = torch.arange(T * H * W, dtype=torch.float32).view(1, 1, T, H, W).expand(1, 3, T, H, W)
    with torch.no_grad():
        _, maps = model(code.contiguous(), return_intermediates=True)
    tokens = code[0, 0, ::2, ::4, ::4]  # what the patch embedding's centre tap sees
    for stage, stage_map in enumerate(maps):
        f = 2**stage
        t, h, w = tokens.shape
        # q-pooling is a max over each f x f block; codes grow in raster order so it is the bottom-right one.
        expected = tokens.view(t, h // f, f, w // f, f).amax(dim=(2, 4))
        assert stage_map.shape[:4] == (1, t, h // f, w // f)
        assert torch.equal(stage_map[0, ..., 0], expected), f"stage {stage + 1} not in spatial order"


def test_keep_mask_runs_only_on_kept_units():
    model = tiny_video(input_size=(4, 128, 128)).eval()  # 2 x 4 x 4 = 32 mask units of 64 tokens
    seen = []
    model.blocks[0].register_forward_hook(lambda m, i, o: seen.append(i[0].shape[1]))
    mask = torch.zeros(2, model.num_mask_units, dtype=torch.bool)
    mask[0, [1, 5, 9, 30]] = True
    mask[1, [0, 2, 3, 31]] = True
    logits, maps = model(torch.randn(2, 3, 4, 128, 128), mask=mask, return_intermediates=True)
    assert seen == [4 * model.mu_size]
    assert logits.shape == (2, 7)
    assert maps[0].shape == (2, 4, 1, 8, 8, 16)  # [B, kept units, unit t, h, w, C]


def test_keep_mask_matches_reference_encoder():
    hiera = pytest.importorskip("hiera", reason="reference implementation not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the release's factory (its 16x224 geometry), only narrowed
        ref = hiera.hiera_base_16x224(num_classes=5, embed_dim=16, num_heads=1, stages=(1, 1, 1, 1)).eval()
    ours = create_model("hiera_base_16x224", num_classes=5, embed_dim=16, num_heads=1, stages=(1, 1, 1, 1)).eval()
    ours.load_state_dict(ref.state_dict())
    mask = torch.zeros(2, 8 * 7 * 7, dtype=torch.bool)
    mask[0, [3, 7, 8, 20, 200, 391]] = True
    mask[1, [0, 1, 16, 31, 100, 390]] = True
    x = torch.randn(2, 3, 16, 224, 224)
    with torch.no_grad():
        _, ref_maps = ref(x, mask=mask, return_intermediates=True)
        _, maps = ours(x, mask=mask, return_intermediates=True)
    for r, o in zip(ref_maps, maps):
        assert torch.allclose(r.reshape(o.shape), o, atol=1e-5)


def test_compile_fullgraph_matches_eager():
    model = tiny_video().eval()
    x = torch.randn(2, 3, 4, 64, 64)
    try:
        compiled = torch.compile(model, fullgraph=True)
        with torch.no_grad():
            out = compiled(x)
    except Exception as e:  # noqa: BLE001
        if "compiler" in str(e).lower() or "inductor" in type(e).__module__:
            pytest.skip(f"torch.compile unavailable here: {e}")
        raise
    with torch.no_grad():
        assert torch.allclose(out, model(x), atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_outputs_are_finite(dtype):
    model = tiny_video().eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype):
        out = model(torch.randn(2, 3, 4, 64, 64))
    assert torch.isfinite(out).all()


def test_activation_checkpointing_gives_same_gradients():
    torch.manual_seed(0)
    plain = tiny_video()
    ckpt = tiny_video(act_checkpoint=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 4, 64, 64)
    plain(x).sum().backward()
    ckpt(x).sum().backward()
    for (n, a), b in zip(plain.named_parameters(), ckpt.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-6), n


def test_drop_path_schedule_is_linear():
    model = create_model("hiera_base_16x224", drop_path_rate=0.3)
    rates = [getattr(b.drop_path, "drop_prob", 0.0) for b in model.blocks]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.3)
    assert all(b > a for a, b in zip(rates, rates[1:]))


def test_video_layout_matches_paper():
    model = create_model("hiera_base_16x224")
    conv = model.patch_embed.proj
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 7, 7), (2, 4, 4), (1, 3, 3))
    assert model.mask_unit_size == (1, 8, 8) and model.q_stride == (1, 2, 2)
    assert model.pos_embed_spatial.shape == (1, 56 * 56, 96) and model.pos_embed_temporal.shape == (1, 8, 96)
    mu_attn = [b.attn.use_mask_unit_attn for b in model.blocks]
    # Stages 1-2 use mask unit attention (and the first, pooling block of stage 3); stages 3-4 global.
    assert mu_attn[:6] == [True] * 6 and not any(mu_attn[6:])
    assert all(b.norm1.eps == 1e-6 for b in model.blocks)


def test_every_named_model_is_listed():
    names = list_models()
    for size in ("tiny", "small", "base", "base_plus", "large", "huge"):
        assert f"hiera_{size}_224" in names and f"hiera_{size}_16x224" in names


def test_bad_inputs_name_the_problem():
    model = tiny_video()
    with pytest.raises(ValueError, match=r"video \[B, C, T, H, W\]"):
        model(torch.randn(2, 3, 64, 64))
    with pytest.raises(ValueError, match=r"got \[2, 3, 4, 64, 96\]"):
        model(torch.randn(2, 3, 4, 64, 96))
    with pytest.raises(ValueError, match="multiple of the mask unit"):
        tiny_video(input_size=(4, 48, 64))
    with pytest.raises(ValueError, match="multiple of the mask unit"):
        tiny_video(input_size=(3, 64, 64))
    with pytest.raises(ValueError, match="Valid names: .*hiera_base_16x224"):
        create_model("hiera_bsae_16x224")
    with pytest.raises(ValueError, match=r"keep-mask must be \[B, 8\] \(mask units \[2, 2, 2\]\)"):
        model(torch.randn(2, 3, 4, 64, 64), mask=torch.ones(2, 5, dtype=torch.bool))
    uneven = torch.zeros(2, 8, dtype=torch.bool)
    uneven[0, :1], uneven[1, :2] = True, True
    with pytest.raises(ValueError, match="same, non-zero number"):
        model(torch.randn(2, 3, 4, 64, 64), mask=uneven)


def test_bf16_cpu_attention_matches_fused_kernel():
    from hiera_video.models.hiera import attention

    q, k, v = (torch.randn(6, 2, 64, 32) for _ in range(3))
    fused = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    explicit = attention(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert explicit.dtype == torch.bfloat16
    assert (explicit.float() - fused).abs().max() < 0.05
