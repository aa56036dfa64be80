"""Deployable Hiera: ONNX files and ``torch.export`` programs, checked against eager PyTorch.

The classifier exports as ``[B, 3, (T,) H, W] -> logits [B, num_classes]``, the feature
extractor (``features=True``) as ``-> pooled features [B, num_features]``. With
``dynamic_batch`` the batch dimension is symbolic; the traced example then has batch 2, so
the tracer cannot specialise on a batch of 1.
"""
import inspect
import os
from typing import Callable, Iterable, Tuple

import torch
import torch.nn as nn

FORMATS = ("onnx", "torch-export")
TOLERANCE = 1e-4  # max abs difference to eager, float32


class Features(nn.Module):
    """``model.forward_features`` as a module's forward: ``[B, C, (T,) H, W] -> [B, num_features]``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)


def example_input(model: nn.Module, batch: int) -> torch.Tensor:
    """A random ``[batch, in_chans, *input_size]`` float32 input for ``model`` (a Hiera or ``Features``)."""
    hiera = model.model if isinstance(model, Features) else model
    return torch.randn(batch, hiera.in_chans, *hiera.input_size)


def _names(module: nn.Module) -> Tuple[str, str]:
    hiera = module.model if isinstance(module, Features) else module
    return ("video" if len(hiera.input_size) == 3 else "image"), ("features" if isinstance(module, Features) else "logits")


def _dynamic_shapes(dynamic_batch: bool):
    return ({0: torch.export.Dim("batch", min=1, max=4096)},) if dynamic_batch else None


def export_program(module: nn.Module, out: str, dynamic_batch: bool = False) -> str:
    """``torch.export`` ``module`` (in eval mode) and save the program to ``out`` (``.pt2``)."""
    x = example_input(module, 2 if dynamic_batch else 1)
    with torch.no_grad():
        program = torch.export.export(module.eval(), (x,), dynamic_shapes=_dynamic_shapes(dynamic_batch))
    torch.export.save(program, out)
    return out


def export_onnx(module: nn.Module, out: str, dynamic_batch: bool = False, opset: int = 18) -> str:
    """ONNX file of ``module`` (in eval mode) through torch's ``torch.export``-based exporter.

    Weights go inside the file below 2 GB, else into ``out + ".data"`` beside it (ONNX's
    protobuf limit), which must then travel with it."""
    if "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        raise RuntimeError(f"ONNX export needs torch >= 2.5 (torch.onnx.export(dynamo=True)); this is {torch.__version__}")
    in_name, out_name = _names(module)
    x = example_input(module, 2 if dynamic_batch else 1)
    size = sum(p.numel() * p.element_size() for p in module.parameters())
    with torch.no_grad():
        torch.onnx.export(module.eval(), (x,), out, dynamo=True, opset_version=opset, input_names=[in_name],
                          output_names=[out_name], dynamic_shapes=_dynamic_shapes(dynamic_batch), external_data=size >= 2**31 - 2**26,
                          verbose=False)
    return out


def load_exported(path: str, fmt: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function running an exported file: onnxruntime on CPU for ONNX, the loaded program otherwise."""
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda x: torch.from_numpy(session.run(None, {name: x.numpy()})[0])
    program = torch.export.load(path).module()

    def run(x):
        with torch.no_grad():
            return program(x)

    return run


def verify(path: str, fmt: str, module: nn.Module, batches: Iterable[int] = (1,)) -> dict:
    """Exported file vs eager ``module`` on one random input per batch size:
    ``{batch: {"max_abs_diff": d, "max_abs_output": m}}`` (``m`` puts ``d`` in scale)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    run = load_exported(path, fmt)
    diffs = {}
    for batch in batches:
        x = example_input(module, batch)
        with torch.no_grad():
            eager = module.eval()(x)
        got = run(x)
        if got.shape != eager.shape:
            raise ValueError(f"{path}: output {tuple(got.shape)} for batch {batch}, eager gives {tuple(eager.shape)}")
        diffs[batch] = {"max_abs_diff": (got.float() - eager.float()).abs().max().item(),
                        "max_abs_output": eager.abs().max().item()}
    return diffs
