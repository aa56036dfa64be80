"""--dtype of the demo and the extractor: auto is bf16 exactly where the CPU has native bf16."""
import pytest
import torch

from hiera_video.inference.extract import run_clips
from hiera_video.inference.precision import cpu_has_native_bf16, for_inference, inference_dtype
from hiera_video.models.zoo import create_model

CPU = torch.device("cpu")


def test_auto_is_bf16_only_on_a_cpu_with_native_bf16():
    assert inference_dtype(CPU, "auto") == (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)
    assert inference_dtype(CPU, "fp32") == torch.float32 and inference_dtype(CPU, "bf16") == torch.bfloat16
    with pytest.raises(ValueError, match="auto, fp32 or bf16"):
        inference_dtype(CPU, "fp16")


def test_bf16_model_takes_float_clips_and_gives_float_outputs_close_to_fp32():
    torch.manual_seed(0)
    model = create_model("hiera_tiny_16x224", input_size=(4, 64, 64), embed_dim=32, num_heads=1,
                         stages=(1, 1, 1, 1), num_classes=5)
    clips = torch.randn(2, 1, 3, 4, 64, 64)
    fp32 = run_clips(for_inference(model, CPU, "fp32"), clips, logits=True)
    bf16 = run_clips(for_inference(model, CPU, "bf16"), clips, logits=True)
    assert next(model.parameters()).dtype == torch.bfloat16  # converted in place, as .to() does
    for key in ("features", "logits"):
        assert bf16[key].dtype == torch.float32 and bf16[key].shape == fp32[key].shape
        assert torch.allclose(bf16[key], fp32[key], atol=0.1), key
