"""Every linear layer of the Hiera blocks: ``linear`` (bias, optional GELU) and ``linear_add``
(+ a residual), fused into one oneDNN kernel for float32 on CPU, the plain ops everywhere else.

An eager ``F.linear`` on CPU writes its output twice (the broadcast bias, then the GEMM
on top), and the GELU or residual add after it is one more pass over a large tensor.
oneDNN's ``mkldnn::_linear_pointwise`` (the kernel ``torch.compile`` itself emits on
CPU) applies them in the GEMM's epilogue instead. Hiera-B 16x224 fp32 forward on a
2-core AVX-512 CPU: about 10% faster, outputs equal to rounding.

The op has no autograd formula: with autograd on, ``_FusedLinear`` runs it forward and
the usual matmuls backward (the GELU then stays a separate op, as its backward needs the
pre-activation). It bypasses autocast, so only float32 CPU tensors with autocast off take
it, never under ``torch.compile`` (which fuses by itself), a jit trace (the FLOPs
counter), ``torch.func`` transforms or forward AD, and ``torch.backends.mkldnn.flags(enabled=False)``
turns it off. Layers with hooks, or anything but a plain ``nn.Linear`` (a quantized one, say),
are called as usual.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules import module as nn_module


def _op_available() -> bool:
    try:
        return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    except (AttributeError, RuntimeError):
        return False


_AVAILABLE = _op_available()


def unhooked(*modules: nn.Module) -> bool:
    """True when calling ``modules`` would run nothing but their own forwards: no hooks anywhere,
    so fused calls may bypass them."""
    if (nn_module._global_forward_hooks or nn_module._global_forward_pre_hooks
            or nn_module._global_backward_hooks or nn_module._global_backward_pre_hooks):
        return False
    return not any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks
                   for m in modules)


def _functorch_or_forward_ad() -> bool:
    """Inside vmap/grad/jvp or a forward-AD level, which the oneDNN op has no rules for."""
    return torch._C._functorch.peek_interpreter_stack() is not None or torch.autograd.forward_ad._current_level >= 0


def can_fuse(layer: nn.Module, *tensors: torch.Tensor) -> bool:
    """Whether ``tensors`` may go through the fused kernel with ``layer``'s weights.

    Only a plain ``nn.Linear`` without hooks qualifies, so hooks, quantized or swapped-in
    layers still see their usual call.
    """
    if not _AVAILABLE or type(layer) is not nn.Linear or layer.bias is None or not unhooked(layer):
        return False
    if torch.compiler.is_compiling() or torch.jit.is_tracing() or _functorch_or_forward_ad():
        return False
    if torch.is_autocast_enabled("cpu") or not torch._C._get_mkldnn_enabled():
        return False
    return all(t.device.type == "cpu" and t.dtype == torch.float32 for t in (layer.weight, layer.bias, *tensors))


def _needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _onednn(x, weight, bias, residual=None, gelu=False):
    if residual is not None:
        return torch.ops.mkldnn._linear_pointwise.binary(x, residual.contiguous(), weight, bias, "add")
    if gelu:
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "gelu", [], "none")
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


class _FusedLinear(torch.autograd.Function):
    """``x W^T + b (+ residual)``: oneDNN forward, matmul backward. ``[..., in]`` -> ``[..., out]``."""

    @staticmethod
    def forward(ctx, x, weight, bias, residual):
        ctx.save_for_backward(x, weight)
        ctx.has_residual = residual is not None
        return _onednn(x, weight, bias, residual)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        flat = grad.reshape(-1, grad.shape[-1])
        grad_x = grad @ weight if ctx.needs_input_grad[0] else None
        grad_w = flat.t() @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        grad_b = flat.sum(0) if ctx.needs_input_grad[2] else None
        grad_r = grad if ctx.has_residual and ctx.needs_input_grad[3] else None
        return grad_x, grad_w, grad_b, grad_r


def _fused(x: torch.Tensor, layer: nn.Linear, residual: Optional[torch.Tensor] = None, gelu: bool = False):
    tensors = (x, layer.weight, layer.bias) + ((residual,) if residual is not None else ())
    if not _needs_grad(*tensors):
        return _onednn(x, layer.weight, layer.bias, residual, gelu)
    out = _FusedLinear.apply(x, layer.weight, layer.bias, residual)
    return F.gelu(out) if gelu else out


def linear(x: torch.Tensor, layer: nn.Module, gelu: bool = False) -> torch.Tensor:
    """``layer(x)``, or ``gelu(layer(x))`` (exact erf GELU); ``[..., in]`` -> ``[..., out]``."""
    if can_fuse(layer, x):
        return _fused(x, layer, gelu=gelu)
    out = layer(x)
    return F.gelu(out) if gelu else out


def linear_add(x: torch.Tensor, layer: nn.Module, residual: torch.Tensor) -> torch.Tensor:
    """``layer(x) + residual``; ``x`` ``[..., in]``, ``residual`` ``[..., out]`` (or broadcastable)."""
    if can_fuse(layer, x, residual) and residual.shape == (*x.shape[:-1], layer.out_features):
        return _fused(x, layer, residual=residual)
    return layer(x) + residual
