"""onnxruntime vs eager PyTorch on this CPU: one forward of an exported Hiera classifier.

    python benchmarks/onnx_vs_torch.py [--model hiera_base_16x224] [--batch 1] [--repeats 5]

Exports the model (random weights: speed does not depend on them) to ONNX in a temporary
folder, then times eager PyTorch (fp32, no_grad) and onnxruntime (CPUExecutionProvider,
as many intra-op threads as torch uses) on the same input: one warm-up each, then
``--repeats`` rounds that alternate the two, so that load from other processes hits both
alike. Prints the median and the range of each, their ratio and the outputs' max abs difference.
"""
import argparse
import os
import statistics
import tempfile
import time

import torch

from hiera_video.models import export
from hiera_video.models.zoo import create_model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="hiera_base_16x224")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    import onnxruntime as ort

    torch.manual_seed(0)
    model = create_model(args.model).eval()
    torch.nn.init.normal_(model.head.projection.weight, std=1.0)  # logits far from 0: a difference shows
    x = torch.randn(args.batch, model.in_chans, *model.input_size)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        start = time.perf_counter()
        export.export_onnx(model, path, dynamic_batch=args.batch != 1)
        print(f"export: {time.perf_counter() - start:.1f} s")
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: x.numpy()}

        def run_torch():
            with torch.no_grad():
                return model(x)

        def run_ort():
            return torch.from_numpy(session.run(None, feed)[0])

        times = {"pytorch": [], "onnxruntime": []}
        outputs = {"pytorch": run_torch(), "onnxruntime": run_ort()}  # warm-up
        for _ in range(args.repeats):
            for name, fn in (("pytorch", run_torch), ("onnxruntime", run_ort)):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    print(f"{args.model}, batch {args.batch}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"onnxruntime {ort.__version__}, {args.repeats} interleaved repeats after a warm-up:")
    for name, ts in times.items():
        print(f"  {name:12s} median {statistics.median(ts) * 1000:8.0f} ms  (min {min(ts) * 1000:.0f}, "
              f"max {max(ts) * 1000:.0f})")
    ratio = statistics.median(times["pytorch"]) / statistics.median(times["onnxruntime"])
    print(f"  onnxruntime is {ratio:.2f}x PyTorch's speed; outputs differ by at most "
          f"{(outputs['pytorch'] - outputs['onnxruntime']).abs().max().item():.2e} "
          f"(largest |logit| {outputs['pytorch'].abs().max().item():.2f})")


if __name__ == "__main__":
    main()
