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
from ..models.mae import MAE_CONFIGS, create_mae_model


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


def _step(model, x, mask) -> float:
    model.zero_grad(set_to_none=True)
    t0 = time.perf_counter()
    loss = model(x, mask=mask)[0]
    loss.backward()
    return time.perf_counter() - t0


def compare_mae_step(name: str = "mae_hiera_base_16x224", batch: int = 1, mask_ratio: float = 0.9,
                     repeats: int = 5, warmup: int = 1, seed: int = 0, **overrides) -> Dict[str, float]:
    """Median seconds per training step, ours vs reference, and their ratio."""
    torch.manual_seed(seed)
    ours = create_mae_model(name, drop_path_rate=0.0, **overrides).train()
    ref = reference_mae(name, ours).train()
    x = torch.randn(batch, ours.in_chans, *ours.input_size)
    times = {"ours": [], "reference": []}
    for r in range(warmup + repeats):
        mask = ours.keep_mask_from_idx(ours.random_keep(batch, mask_ratio))
        order = [("ours", ours), ("reference", ref)]
        if r % 2:
            order.reverse()
        for label, model in order:
            dt = _step(model, x, mask)
            if r >= warmup:
                times[label].append(dt)
    ours_s, ref_s = statistics.median(times["ours"]), statistics.median(times["reference"])
    return dict(model=name, batch=batch, mask_ratio=mask_ratio, threads=torch.get_num_threads(),
                ours_s=ours_s, reference_s=ref_s, speedup=ref_s / ours_s,
                ours_all=times["ours"], reference_all=times["reference"])


def mae_step_flops(name: str = "mae_hiera_base_16x224", batch: int = 1, mask_ratio: float = 0.9,
                   classifier: Optional[str] = None) -> Dict[str, float]:
    """Forward FLOPs (fused multiply-adds, attention included) of the sparse MAE at
    ``mask_ratio`` and of the dense classifier it finetunes into (``hiera_*``). A training
    step costs about 3x its forward for both, so the ratio bounds the step-time ratio."""
    from ..models.zoo import create_model

    mae = create_mae_model(name).eval()
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


__all__ = ["compare_mae_step", "mae_step_flops", "reference_mae"]
assert all(n.startswith("mae_hiera_") for n in MAE_CONFIGS)
