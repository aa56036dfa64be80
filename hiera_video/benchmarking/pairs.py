"""Our Hiera and the reference implementation side by side, on identical weights and inputs."""
import os
import tempfile
import warnings
from contextlib import nullcontext
from typing import Callable, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from hiera_video import create_model

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def reference_model(name: str) -> nn.Module:
    """The public release's model of the same name (``pip install hiera-transformer``)."""
    try:
        import hiera
    except ImportError as e:
        raise RuntimeError("--reference needs the reference implementation: pip install hiera-transformer") from e
    if not hasattr(hiera, name):
        raise ValueError(f"the reference implementation has no model '{name}'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(hiera, name)(pretrained=False)


def make_pair(name: str, with_reference: bool) -> Tuple[nn.Module, Optional[nn.Module]]:
    """Ours (and the reference) with the same weights, passed through the official checkpoint format."""
    if not with_reference:
        return create_model(name), None
    ref = reference_model(name)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "official_format.pth")
        torch.save({"model_state": ref.state_dict()}, path)
        ours = create_model(name, pretrained=path)
    return ours, ref


def autocast(device: torch.device, dtype: torch.dtype):
    if dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def inference_step(model: nn.Module, x: torch.Tensor, dtype: torch.dtype) -> Callable[[], object]:
    """One no-grad forward of ``x`` ``[B, C, T, H, W]``."""
    model.eval()

    def step():
        with torch.no_grad(), autocast(x.device, dtype):
            return model(x)
    return step


def training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype) -> Callable[[], object]:
    """Forward, cross-entropy, backward and an AdamW step (dense finetuning)."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    scaler = torch.amp.GradScaler(x.device.type, enabled=dtype == torch.float16 and x.device.type == "cuda")

    def step():
        with autocast(x.device, dtype):
            loss = F.cross_entropy(model(x).float(), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        return loss
    return step
