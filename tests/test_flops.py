"""FLOPs (attention counted) and parameters reproduce the paper's tables 2 and 4."""
import pytest
import torch

from hiera_video import create_model
from hiera_video.models.flops import count_flops, count_params, model_flops

# name: (GFLOPs, M params) as printed in the paper (whole numbers).
PAPER = {
    "hiera_tiny_224": (5, 28),
    "hiera_small_224": (6, 35),
    "hiera_base_224": (9, 52),
    "hiera_base_plus_224": (13, 70),
    "hiera_large_224": (40, 214),
    "hiera_huge_224": (125, 673),
    "hiera_base_16x224": (102, 51),
    "hiera_base_plus_16x224": (133, 69),
    "hiera_large_16x224": (413, 213),
    "hiera_huge_16x224": (1159, 672),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PAPER))
def test_flops_and_params_match_paper(name):
    model = create_model(name)
    gflops, mparams = PAPER[name]
    assert round(count_params(model) / 1e6) == mparams
    assert round(model_flops(model) / 1e9) == gflops


def test_attention_is_counted():
    """Without the SDPA handle fvcore would miss the attention matmuls entirely."""
    from fvcore.nn import FlopCountAnalysis

    model = create_model("hiera_tiny_224").eval()
    x = torch.randn(1, 3, 224, 224)
    plain = FlopCountAnalysis(model, (x,)).unsupported_ops_warnings(False).total()
    with_attention = count_flops(model, (x,))
    # Stage-1 mask unit attention alone: 49 windows x 64 queries x 64 keys x 96 dims x 2 matmuls.
    assert with_attention - plain >= 49 * 64 * 64 * 96 * 2
