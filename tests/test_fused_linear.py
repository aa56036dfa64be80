"""fp32 on CPU runs the linear layers through oneDNN's fused kernels, with the same outputs and gradients."""
import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from hiera_video import create_model
from hiera_video.models import fused_linear

pytestmark = pytest.mark.skipif(not fused_linear._AVAILABLE, reason="this torch build has no oneDNN linear kernels")

TINY = dict(embed_dim=16, num_heads=1, stages=(1, 2, 1, 1), input_size=(4, 64, 64), num_classes=7)


def _fused_calls(fn) -> int:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return sum(e.count for e in prof.key_averages() if e.key.startswith("mkldnn::_linear_pointwise"))


def _expected_fused_calls(model) -> int:
    """Per block: qkv, proj + residual, fc1 + GELU, fc2 + residual; plus each widening proj."""
    return 4 * len(model.blocks) + sum(b.dim != b.dim_out for b in model.blocks)


def test_no_grad_forward_is_fused_and_equal_to_the_plain_path():
    torch.manual_seed(0)
    model = create_model("hiera_tiny_16x224", **TINY).eval()
    x = torch.randn(2, 3, 4, 64, 64)
    with torch.no_grad():
        fused = model(x)
        calls = _fused_calls(lambda: model(x))
        with torch.backends.mkldnn.flags(enabled=False):
            plain = model(x)
            assert _fused_calls(lambda: model(x)) == 0
    assert calls == _expected_fused_calls(model)
    torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-5)


def test_training_forward_is_fused_and_gradients_match_the_plain_path():
    torch.manual_seed(0)
    model = create_model("hiera_tiny_16x224", **TINY).train()
    x = torch.randn(2, 3, 4, 64, 64)
    y = torch.tensor([1, 5])

    def grads():
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters()}

    assert _fused_calls(grads) == _expected_fused_calls(model)
    fused = grads()
    with torch.backends.mkldnn.flags(enabled=False):
        plain = grads()
    for name, grad in plain.items():
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(fused[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_autocast_and_other_dtypes_use_the_plain_path():
    model = create_model("hiera_tiny_16x224", **TINY).eval()
    x = torch.randn(2, 3, 4, 64, 64)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert _fused_calls(lambda: model(x)) == 0
    with torch.no_grad():
        assert _fused_calls(lambda: model.double()(x.double())) == 0


def test_linear_helpers_match_torch():
    torch.manual_seed(0)
    layer = torch.nn.Linear(24, 40)
    x, residual = torch.randn(3, 5, 24), torch.randn(3, 5, 40)
    with torch.no_grad():
        torch.testing.assert_close(fused_linear.linear(x, layer, gelu=True), torch.nn.functional.gelu(layer(x)))
        torch.testing.assert_close(fused_linear.linear_add(x, layer, residual), layer(x) + residual)
        torch.testing.assert_close(fused_linear.linear(x.transpose(0, 1), layer), layer(x.transpose(0, 1)))


def test_hooks_and_swapped_modules_see_their_usual_calls():
    torch.manual_seed(0)
    model = create_model("hiera_tiny_16x224", **TINY).eval()
    x = torch.randn(2, 3, 4, 64, 64)
    block = model.blocks[2]
    with torch.no_grad():
        expected = model(x)
        seen = {}
        hooks = [module.register_forward_hook(lambda m, i, o, name=name: seen.setdefault(name, o))
                 for name, module in (("attn", block.attn), ("mlp", block.mlp), ("fc2", block.mlp.fc2))]
        hooked = model(x)
        for h in hooks:
            h.remove()
        # The branch outputs alone, without the residual folded in.
        torch.testing.assert_close(seen["mlp"], seen["fc2"])
        block_in = {}
        h = block.register_forward_pre_hook(lambda m, args: block_in.setdefault("x", args[0]))
        model(x)
        h.remove()
        assert seen["attn"].shape == block_in["x"].shape
        assert seen["attn"].norm() < 0.5 * block_in["x"].norm()
        zeroed = block.mlp.fc2.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
        changed = model(x)
        zeroed.remove()
    torch.testing.assert_close(hooked, expected, rtol=1e-5, atol=1e-5)
    assert (changed - expected).abs().max() > 0.05 * expected.abs().max()  # the hook's output was used


def test_forward_ad_takes_the_plain_path():
    torch.manual_seed(0)
    mlp = create_model("hiera_tiny_16x224", **TINY).blocks[0].mlp
    x, t = torch.randn(2, 5, 16), torch.randn(2, 5, 16)
    with torch.no_grad():
        _, tangent = torch.func.jvp(mlp, (x,), (t,))
        with torch.backends.mkldnn.flags(enabled=False):
            _, plain = torch.func.jvp(mlp, (x,), (t,))
    assert tangent.norm() > 0
    torch.testing.assert_close(tangent, plain)
