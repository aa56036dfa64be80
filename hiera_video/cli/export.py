"""Export a Hiera classifier (or its feature extractor): ONNX, a torch.export program, a safetensors
file, or a Hugging Face Hub folder to share.

    hiera-export --model hiera_base_16x224 --checkpoint mae_k400_ft_k400 --format onnx \\
        --dynamic-batch --out hiera_base_16x224.onnx
    hiera-export --model hiera_base_224 --features --format torch-export --out base_features.pt2
    hiera-export --model hiera_base_16x224 --checkpoint hiera_base_16x224.pth --format safetensors --out b16.safetensors
    hiera-export --checkpoint runs/my_run/checkpoints/checkpoint_epoch_00050.pyth --format hf --out my_model/
    hiera-export --model hiera_tiny_16x224 --set num_classes=174 input_size="(8,224,224)" ...

The model: ``--model`` (a name, with ``--set`` constructor overrides), else ``--cfg`` (a run's
config), else the checkpoint's own (this project's checkpoints store their config; a Hub folder or
``hf-hub:`` id its config.json). ``--format hf`` writes model.safetensors, config.json (model and
its arguments, class names, clip shape, sampling, mean/std, the run's config) and a README.md model
card (test top-1/top-5 from ``--results`` or the run's test_results.json, the command that trained
it); ``create_model(OUT)`` loads it back, and ``huggingface_hub.upload_folder`` publishes it.

The written file is then run (ONNX with onnxruntime on CPU; batch 1, and 1 and 3 with
--dynamic-batch) or read back into a fresh model, and compared with eager PyTorch; the max abs
difference is printed, and the exit status is 1 when it exceeds --tolerance.
"""
import argparse
import ast
import json
import os
import sys
from typing import Optional, Tuple

import torch

from hiera_video.models import export
from hiera_video.models.checkpoints import read_checkpoint
from hiera_video.models.hf_format import is_hub_id, model_card, model_config, save_pretrained
from hiera_video.models.zoo import create_model, is_model_source
from hiera_video.cli.common import user_errors

WEIGHT_FORMATS = ("safetensors", "hf")


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


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="", help="a classifier name of hiera_video.list_models(), e.g. hiera_base_16x224")
    p.add_argument("--cfg", default="", help="a run's config to build the model from (instead of --model)")
    p.add_argument("--checkpoint", default="", help="a checkpoint file, release tag, Hub folder or hf-hub: id "
                                                    "(default with --model: random weights)")
    p.add_argument("--format", required=True, choices=export.FORMATS + WEIGHT_FORMATS)
    p.add_argument("--features", action="store_true", help="export forward_features (pooled features) instead of logits")
    p.add_argument("--dynamic-batch", action="store_true", help="a symbolic batch dimension")
    p.add_argument("--out", required=True, help="output file (.onnx, .pt2, .safetensors) or folder (hf)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (17 or newer)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="create_model overrides")
    p.add_argument("--results", default="", help="hf: the test results JSON for the model card "
                                                 "(default: test_results.json of the checkpoint's run)")
    p.add_argument("--tolerance", type=float, default=export.TOLERANCE, help="max abs difference allowed vs eager")
    args = p.parse_args(argv)
    if args.model.startswith("mae_"):
        p.error("export a classifier name (hiera_*); an MAE checkpoint loads into one with --checkpoint")
    if args.opset < 17:
        p.error("--opset must be 17 or newer")
    if not (args.model or args.cfg or args.checkpoint):
        p.error("give --model NAME, --cfg FILE, or a --checkpoint that carries its config")
    if args.format in WEIGHT_FORMATS and (args.features or args.dynamic_batch):
        p.error(f"--features and --dynamic-batch apply to onnx and torch-export, not {args.format}")
    return args


def build(args) -> Tuple[torch.nn.Module, Optional[object]]:
    """(classifier with its weights, the run config it was built from or None)."""
    if args.model:
        return create_model(args.model, pretrained=args.checkpoint or None, **parse_overrides(args.set)), None
    if not args.cfg and is_model_source(args.checkpoint):
        return create_model(args.checkpoint, **parse_overrides(args.set)), None
    from hiera_video.config.loading import cfg_from_dump, load_config
    from hiera_video.engine.build import build_model, load_test_weights

    if args.cfg:
        cfg = load_config(argparse.Namespace(cfg_file=args.cfg, opts=[]), validate=False)
    else:
        text = read_checkpoint(args.checkpoint).meta.get("cfg")
        if not text:
            raise SystemExit(f"error: {args.checkpoint} carries no config: give --model NAME (and --set) or --cfg FILE")
        cfg = cfg_from_dump(text, args.checkpoint)
    model = build_model(cfg, for_test=True)
    if args.checkpoint:
        load_test_weights(model, args.checkpoint)
    return model, cfg


def export_weights(args, model, cfg) -> None:
    """``--format safetensors`` (the weights, class names in the header) or ``hf`` (a Hub folder)."""
    from hiera_video.data.video_lists import find_class_names
    from hiera_video.models.checkpoints import stored_class_names

    names = (find_class_names(cfg, args.checkpoint) if cfg is not None else None) or \
        stored_class_names(args.checkpoint) or getattr(model, "class_names", None)
    if args.format == "safetensors":
        from safetensors.torch import save

        from hiera_video.models.hf_format import encode_metadata
        from hiera_video.utils.io import atomic_write

        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        meta = encode_metadata({"model_name": model.model_name, "model_args": model.model_args, "class_names": names})
        folder = os.path.dirname(os.path.abspath(args.out))
        os.makedirs(folder, exist_ok=True)
        atomic_write(args.out, lambda f: f.write(save(state, metadata=meta)), fsync=True)
        return
    data = run_data(cfg) if cfg is not None else {}
    cfg_yaml = cfg.dump() if cfg is not None else None
    config = model_config(model, names, data, cfg_yaml)
    card = model_card(config, read_results(args), training_command(args.checkpoint))
    for path in save_pretrained(model, args.out, names, data, cfg_yaml, card):
        print(f"wrote {path}")


def run_data(cfg) -> dict:
    """The clip a run's model expects, for config.json."""
    d, t = cfg.DATA, cfg.TEST
    return {"clip": {"num_frames": d.NUM_FRAMES, "sampling_rate": d.SAMPLING_RATE, "target_fps": d.TARGET_FPS,
                     "crop_size": d.TEST_CROP_SIZE, "test_views": [t.NUM_ENSEMBLE_VIEWS, t.NUM_SPATIAL_CROPS]},
            "mean": list(d.MEAN), "std": list(d.STD)}


def read_results(args) -> Optional[dict]:
    """Test top-1 / top-5 for the card: ``--results``, else the run's test_results.json beside
    ``OUTPUT_DIR/checkpoints/`` (None when neither is there)."""
    path = args.results
    if not path and args.checkpoint and os.path.isfile(args.checkpoint):
        run_dir = os.path.dirname(os.path.dirname(os.path.abspath(args.checkpoint)))
        path = os.path.join(run_dir, "test_results.json")
    if not path or not os.path.isfile(path):
        return None
    with open(path) as f:
        res = json.load(f)
    return {k: res[k] for k in ("top1", "top5", "num_videos", "num_views", "mAP") if k in res}


def training_command(checkpoint: str) -> str:
    if not checkpoint or is_hub_id(checkpoint) or not os.path.isfile(checkpoint):
        return ""
    return str(read_checkpoint(checkpoint).meta.get("command") or "")


def verify_weights(args, model) -> dict:
    """The written weights read back into a fresh model: ``{1: {"max_abs_diff", "max_abs_output"}}``."""
    from hiera_video.models.weights import load_weights

    if args.format == "hf":
        fresh = create_model(args.out)
    else:
        fresh = create_model(model.model_name, **model.model_args) if model.model_name else None
        if fresh is None:
            raise SystemExit("error: cannot rebuild this model to check the file")
        load_weights(fresh, args.out)
    x = export.example_input(model, 1)
    with torch.no_grad():
        want, got = model.eval()(x), fresh.eval()(x)
    return {1: {"max_abs_diff": (got - want).abs().max().item(), "max_abs_output": want.abs().max().item()}}


def run(argv=None) -> dict:
    """``main`` that returns ``{batch: {"max_abs_diff", "max_abs_output"}}`` to a Python caller."""
    args = parse_args(argv)
    model, cfg = build(args)
    model = model.eval()
    if args.format in WEIGHT_FORMATS:
        export_weights(args, model, cfg)
        diffs, what = verify_weights(args, model), "logits (read back)"
    else:
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


@user_errors("hiera-export")
def main(argv=None) -> None:
    """``hiera-export``: exit status 1 when the exported file differs from eager beyond --tolerance."""
    run(argv)
