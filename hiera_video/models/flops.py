"""FLOPs and parameter counts on fvcore, counting attention the way the paper does.

fvcore counts one fused multiply-add as one flop and has no handle for
``aten::scaled_dot_product_attention``; without one it silently skips the attention
matmuls (Hiera-B 16x224: 71G instead of the paper's 102G). The handle below adds the
two matmuls ``q @ k^T`` and ``attn @ v``: ``2 * batch * heads * Lq * Lk * d``.
"""
import math
from typing import Any, Tuple

import torch
import torch.nn as nn
from fvcore.nn import FlopCountAnalysis


def _shape(value) -> list:
    return value.type().sizes()


def sdpa_flop_handle(inputs: list, outputs: list) -> int:
    """fvcore handle for ``aten::scaled_dot_product_attention`` (q, k, v: [..., L, d])."""
    q, k, v = (_shape(t) for t in inputs[:3])
    batch = math.prod(q[:-2])
    return batch * q[-2] * k[-2] * q[-1] + batch * q[-2] * k[-2] * v[-1]


def count_flops(model: nn.Module, inputs: Tuple[Any, ...]) -> int:
    """Total FLOPs (fused multiply-adds) of ``model(*inputs)``, attention included."""
    analysis = FlopCountAnalysis(model, inputs)
    analysis.set_op_handle("aten::scaled_dot_product_attention", sdpa_flop_handle)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return int(analysis.total())


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_flops(model: nn.Module, batch: int = 1) -> int:
    """FLOPs of one forward of a Hiera at its own ``input_size`` (random input)."""
    x = torch.randn(batch, model.in_chans, *model.input_size)
    with torch.no_grad():
        return count_flops(model.eval(), (x,))
