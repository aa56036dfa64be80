"""ONNX and torch.export: the exported files give eager PyTorch's outputs (onnxruntime on CPU)."""
import os

import pytest
import torch

from hiera_video import create_model
from hiera_video.models import export

pytest.importorskip("onnxruntime", reason="pip install -e '.[dev]' (onnx, onnxruntime, onnxscript)")
onnx = pytest.importorskip("onnx")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(embed_dim=16, num_heads=1, stages=(1, 1, 1, 1))


def tiny(name, seed=0, **kw):
    torch.manual_seed(seed)
    model = create_model(name, **TINY, **kw).eval()
    # Logits far from 0, so that a mismatch cannot hide under the release's 0.001 head scale.
    torch.nn.init.normal_(model.head.projection.weight, std=1.0)
    return model


def assert_close_to_eager(diffs, batches):
    assert sorted(diffs) == list(batches)
    for d in diffs.values():
        assert d["max_abs_output"] > 0.1 and d["max_abs_diff"] <= export.TOLERANCE, d


def test_onnx_video_classifier_dynamic_batch(tmp_path):
    model = tiny("hiera_tiny_16x224", input_size=(4, 64, 64), num_classes=7)
    path = export.export_onnx(model, str(tmp_path / "video.onnx"), dynamic_batch=True)
    graph = onnx.load(path).graph
    assert graph.input[0].name == "video" and graph.output[0].name == "logits"
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic batch
    assert onnx.load(path).opset_import[0].version >= 17
    assert_close_to_eager(export.verify(path, "onnx", model, (1, 3)), (1, 3))
    other = tiny("hiera_tiny_16x224", seed=1, input_size=(4, 64, 64), num_classes=7)
    assert export.verify(path, "onnx", other, (1,))[1]["max_abs_diff"] > 0.1  # the check can fail


def test_onnx_image_features(tmp_path):
    model = tiny("hiera_tiny_224", input_size=(64, 64))
    features = export.Features(model)
    path = export.export_onnx(features, str(tmp_path / "image.onnx"))
    assert onnx.load(path).graph.output[0].name == "features"
    diffs = export.verify(path, "onnx", features, (1,))
    assert diffs[1]["max_abs_diff"] <= export.TOLERANCE and diffs[1]["max_abs_output"] > 0.1
    with pytest.raises(Exception, match="invalid dimensions"):  # static batch: another batch is refused
        export.verify(path, "onnx", features, (2,))


def test_torch_export_video_features_dynamic_batch(tmp_path):
    features = export.Features(tiny("hiera_tiny_16x224", input_size=(4, 64, 64)))
    path = export.export_program(features, str(tmp_path / "video_features.pt2"), dynamic_batch=True)
    diffs = export.verify(path, "torch-export", features, (1, 3))
    assert sorted(diffs) == [1, 3] and all(d["max_abs_diff"] <= export.TOLERANCE for d in diffs.values())
    assert diffs[3]["max_abs_output"] > 0.1


def test_tool_exports_a_checkpoint_and_reports_the_difference(tmp_path, capsys):
    model = tiny("hiera_tiny_224", input_size=(64, 64), num_classes=5)
    ckpt = tmp_path / "model.pth"
    torch.save({"model_state": model.state_dict()}, ckpt)
    from hiera_video.cli import export as tool
    out = tmp_path / "out" / "image.pt2"
    diffs = tool.run(["--model", "hiera_tiny_224", "--checkpoint", str(ckpt), "--format", "torch-export",
                      "--out", str(out), "--set", "embed_dim=16", "num_heads=1", "stages=(1,1,1,1)",
                      "input_size=(64,64)", "num_classes=5"])
    assert_close_to_eager(diffs, (1,))  # > 0.1: the checkpoint's peaked head was loaded
    assert "batch 1: max abs difference of the logits to eager PyTorch" in capsys.readouterr().out
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(torch.export.load(str(out)).module()(x), model(x), atol=1e-5, rtol=1e-5)
    with pytest.raises(SystemExit):
        tool.main(["--model", "mae_hiera_tiny_224", "--format", "onnx", "--out", str(tmp_path / "x.onnx")])
