"""Side-by-side timing of a sparse MAE training step: this project vs the reference.

Both models hold identical weights and see identical inputs and masks; steps are
interleaved (A B, B A, ...) so drift in machine load hits both sides alike. A step is
``zero_grad`` + forward + ``loss.backward()`` (the optimizer update is the same for both).

    from hiera_video.benchmarking.mae_step import compare_mae_step, mae_step_flops
    compare_mae_step("mae_hiera_base_16x224", batch=1, mask_ratio=0.9, repeats=5)
"""
import statistics
import time
from typing import Dict, Optional

import torch

from ..models.flops import count_flops
from ..models.zoo import create_model, list_models


def reference_mae(name: str, model):
    """The reference (``pip install hiera-transformer``) MAE with ``model``'s weights and
    decoder shape."""
    from hiera import hiera_mae

    size_name = name[len("mae_"):]
    ctor = getattr(hiera_mae, f"mae_{size_name}")
    dec = model.decoder_blocks
    ref = ctor(pretrained=False, decoder_embed_dim=model.decoder_embed.out_features,
               decoder_depth=len(dec), decoder_num_heads=dec[0].attn.heads if len(dec) else 1,
               drop_path_rate=0.0)
    ref.load_state_dict(model.state_dict(), strict=True)
    return ref


def _timed(fn, cuda: bool):
    """(wall seconds, process CPU seconds) of ``fn()``. CPU time (all threads) is the
    steadier figure on a shared machine: it leaves out time spent waiting for a core."""
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    sync()
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    sync()
    return time.perf_counter() - t0, time.process_time() - c0


def _step(model, x, mask, dtype=torch.float32):
    model.zero_grad(set_to_none=True)

    def run():
        with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = model(x, mask=mask)[0]
        loss.backward()
    return _timed(run, x.is_cuda)


def _dense_step(model, x, y):
    model.zero_grad(set_to_none=True)
    return _timed(lambda: torch.nn.functional.cross_entropy(model(x), y).backward(), x.is_cuda)


def compare_mae_step(name: str = "mae_hiera_base_16x224", batch: int = 1, mask_ratio: float = 0.9,
                     repeats: int = 5, warmup: int = 1, seed: int = 0, threads: Optional[int] = None,
                     device: str = "cpu", with_dense: bool = False, dtype: torch.dtype = torch.float32,
                     **overrides) -> Dict[str, float]:
    """Median seconds per training step: our MAE vs the reference MAE (same weights, input
    and mask), and with ``with_dense`` our dense finetuning step of the same encoder
    (``hiera_*`` classifier, cross-entropy) in the same interleaved rotation.

    ``threads`` sets ``torch.set_num_threads`` for the run (default: leave as is);
    ``dtype`` other than float32 runs both MAE steps under ``torch.autocast``."""
    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    torch.manual_seed(seed)
    ours = create_model(name, drop_path_rate=0.0, **overrides).train()
    ref = reference_mae(name, ours).train().to(dev)
    ours.to(dev)
    x = torch.randn(batch, ours.in_chans, *ours.input_size, device=dev)
    runners = {"ours": lambda m: _step(ours, x, m, dtype), "reference": lambda m: _step(ref, x, m, dtype)}
    if with_dense:
        dense = create_model(name[len("mae_"):], drop_path_rate=0.0).train().to(dev)
        y = torch.zeros(batch, dtype=torch.long, device=dev)
        runners["dense_finetune"] = lambda m: _dense_step(dense, x, y)
    times = {k: [] for k in runners}
    cpu = {k: [] for k in runners}
    for r in range(warmup + repeats):
        mask = ours.keep_mask_from_idx(ours.random_keep(batch, mask_ratio, dev))
        order = list(runners)
        if r % 2:
            order.reverse()
        for label in order:
            wall, cpu_s = runners[label](mask)
            if r >= warmup:
                times[label].append(wall)
                cpu[label].append(cpu_s)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    out = dict(model=name, batch=batch, mask_ratio=mask_ratio, threads=torch.get_num_threads(), dtype=str(dtype),
               ours_s=med["ours"], reference_s=med["reference"], speedup=med["reference"] / med["ours"],
               pair_speedups=[round(r / o, 3) for r, o in zip(times["reference"], times["ours"])],
               ours_cpu_s=med_cpu["ours"], reference_cpu_s=med_cpu["reference"],
               speedup_cpu_time=med_cpu["reference"] / med_cpu["ours"])
    if with_dense:
        out.update(dense_finetune_s=med["dense_finetune"], dense_over_mae_time=med["dense_finetune"] / med["ours"],
                   dense_over_mae_cpu_time=med_cpu["dense_finetune"] / med_cpu["ours"])
    out["all_wall_s"], out["all_cpu_s"] = times, cpu
    return out


def mae_step_flops(name: str = "mae_hiera_base_16x224", batch: int = 1, mask_ratio: float = 0.9,
                   classifier: Optional[str] = None) -> Dict[str, float]:
    """Forward FLOPs (fused multiply-adds, attention included) of the sparse MAE at
    ``mask_ratio`` and of the dense classifier it finetunes into (``hiera_*``). A training
    step costs about 3x its forward for both, so the ratio bounds the step-time ratio."""
    mae = create_model(name).eval()
    x = torch.randn(batch, mae.in_chans, *mae.input_size)
    mask = mae.keep_mask_from_idx(mae.random_keep(batch, mask_ratio))
    with torch.no_grad():
        mae_flops = count_flops(_LossOnly(mae, mask), (x,))
    dense = create_model(classifier or name[len("mae_"):]).eval()
    with torch.no_grad():
        dense_flops = count_flops(dense, (x,))
    return dict(model=name, mask_ratio=mask_ratio, mae_gflops=mae_flops / 1e9,
                finetune_gflops=dense_flops / 1e9, finetune_over_mae=dense_flops / mae_flops)


class _LossOnly(torch.nn.Module):
    """Traceable wrapper: the MAE's loss for a fixed keep-mask."""

    def __init__(self, mae, mask):
        super().__init__()
        self.mae = mae
        self.register_buffer("mask", mask)

    def forward(self, x):
        return self.mae(x, mask=self.mask)[0]


def main(argv=None):
    import argparse
    import json
    import warnings

    parser = argparse.ArgumentParser(description="MAE training step: ours vs the reference, and FLOPs")
    parser.add_argument("--model", default="mae_hiera_base_16x224", choices=list_models("mae_*"))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--mask-ratio", type=float, default=0.9)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"],
                        help="autocast dtype of both MAE steps")
    parser.add_argument("--dense", action="store_true", help="also time our dense finetuning step")
    parser.add_argument("--flops", action="store_true", help="also count forward FLOPs, MAE vs dense finetune")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    result = compare_mae_step(args.model, args.batch, args.mask_ratio, args.repeats, threads=args.threads or None,
                              with_dense=args.dense,
                              dtype={"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype])
    if args.flops:
        result.update(mae_step_flops(args.model, 1, args.mask_ratio))
    print(json.dumps(result, indent=1))
    return result


__all__ = ["compare_mae_step", "mae_step_flops", "reference_mae"]

if __name__ == "__main__":
    main()
