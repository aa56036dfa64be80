"""Export a Hiera classifier (or its feature extractor) to ONNX or a torch.export program.

    hiera-export --model hiera_base_16x224 --checkpoint mae_k400_ft_k400 --format onnx \\
        --dynamic-batch --out hiera_base_16x224.onnx
    hiera-export --model hiera_base_224 --features --format torch-export --out base_features.pt2
    hiera-export --model hiera_tiny_16x224 --set num_classes=174 input_size="(8,224,224)" ...

The file is then run on random inputs (onnxruntime on CPU for ONNX; batch 1, and 1 and 3
with --dynamic-batch) and compared with eager PyTorch; the max abs difference is printed,
and the exit status is 1 when it exceeds --tolerance.
"""
import argparse
import ast
import os
import sys

from hiera_video.models import export
from hiera_video.models.zoo import create_model


def parse_overrides(items):
    """``["num_classes=174", "input_size=(8,224,224)"]`` -> kwargs (values as Python literals)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"error: --set expects KEY=VALUE, got '{item}'")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def run(argv=None) -> dict:
    """``main`` that returns ``{batch: {"max_abs_diff", "max_abs_output"}}`` to a Python caller."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a classifier name of hiera_video.list_models(), e.g. hiera_base_16x224")
    p.add_argument("--checkpoint", default="", help="a checkpoint file or release tag (default: random weights)")
    p.add_argument("--format", required=True, choices=export.FORMATS)
    p.add_argument("--features", action="store_true", help="export forward_features (pooled features) instead of logits")
    p.add_argument("--dynamic-batch", action="store_true", help="a symbolic batch dimension")
    p.add_argument("--out", required=True, help="output file (.onnx or .pt2)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (17 or newer)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="create_model overrides")
    p.add_argument("--tolerance", type=float, default=export.TOLERANCE, help="max abs difference allowed vs eager")
    args = p.parse_args(argv)
    if args.model.startswith("mae_"):
        p.error("export a classifier name (hiera_*); an MAE checkpoint loads into one with --checkpoint")
    if args.opset < 17:
        p.error("--opset must be 17 or newer")
    model = create_model(args.model, pretrained=args.checkpoint or None, **parse_overrides(args.set)).eval()
    module = export.Features(model) if args.features else model
    if os.path.dirname(os.path.abspath(args.out)):
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    if args.format == "onnx":
        export.export_onnx(module, args.out, args.dynamic_batch, args.opset)
    else:
        export.export_program(module, args.out, args.dynamic_batch)
    diffs = export.verify(args.out, args.format, module, (1, 3) if args.dynamic_batch else (1,))
    what = "features" if args.features else "logits"
    for batch, d in diffs.items():
        print(f"{args.out}: batch {batch}: max abs difference of the {what} to eager PyTorch "
              f"{d['max_abs_diff']:.2e} (largest |{what}| {d['max_abs_output']:.2e})")
    worst = max(d["max_abs_diff"] for d in diffs.values())
    if worst > args.tolerance:
        print(f"error: {worst:.2e} exceeds --tolerance {args.tolerance:g}", file=sys.stderr)
        sys.exit(1)
    return diffs


def main(argv=None) -> None:
    """``hiera-export``: exit status 1 when the exported file differs from eager beyond --tolerance."""
    run(argv)
