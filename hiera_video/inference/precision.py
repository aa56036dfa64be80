"""The number format inference runs in: ``--dtype auto`` (the default of the demo and the
extractor) is bfloat16 weights on a CPU with native bf16 matrix units (AVX512-BF16 / AMX),
float32 elsewhere. Measured on this project's CPU: Hiera-B 16x224 on one core, 1.78 s fp32 ->
0.59 s bf16 per clip; the main job's model gave the same top-5 for all 120 test videos (5x3
views; largest class-probability difference 0.0011).
"""
import torch
import torch.nn as nn

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def cpu_has_native_bf16() -> bool:
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def inference_dtype(device: torch.device, requested: str = "auto") -> torch.dtype:
    """``requested`` "fp32" / "bf16", or "auto": bf16 on a CPU with native bf16, else fp32."""
    if requested != "auto":
        if requested not in DTYPES:
            raise ValueError(f"--dtype must be auto, fp32 or bf16, got '{requested}'")
        return DTYPES[requested]
    return torch.bfloat16 if device.type == "cpu" and cpu_has_native_bf16() else torch.float32


def for_inference(model: nn.Module, device: torch.device, requested: str = "auto") -> nn.Module:
    """``model`` in eval mode on ``device`` in the chosen format (inputs follow: ``model_dtype``)."""
    return model.to(device=device, dtype=inference_dtype(device, requested)).eval()


def model_dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def add_dtype_argument(parser) -> None:
    """``--dtype auto|fp32|bf16`` for the tools that run a model for inference."""
    parser.add_argument("--dtype", default="auto", choices=["auto", *DTYPES],
                        help="number format (auto: bf16 on a CPU with native bf16 matmuls, about 3x faster there; "
                             "else fp32)")
