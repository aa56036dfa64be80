"""MAE reconstruction targets: normalised pixels and HOG (paper table 3c).

Both return one target vector per prediction token of the decoder's grid, in row-major
token order: ``[B, N_pred, P]``. Video targets are time-strided: only the first frame
of each ``time_stride``-frame token is reconstructed.

Pixel target layout follows the reference implementation so released decoders fit:
images flatten a patch as ``(C, p, p)``, videos as ``(p, p, C)`` (channel last, the
release's training-time quirk).
"""
import math
from typing import Sequence

import torch
import torch.nn.functional as F


def _frames(x: torch.Tensor, time_stride: int) -> torch.Tensor:
    """``[B, C, T, H, W]`` -> first frame of each token ``[B, C, T // time_stride, H, W]``;
    images pass through."""
    return x[:, :, ::time_stride] if x.dim() == 5 else x


def pixel_target(x: torch.Tensor, patch: int, time_stride: int = 1, norm: bool = True) -> torch.Tensor:
    """Per-patch pixels ``[B, N_pred, patch * patch * C]``.

    Args:
        x: image ``[B, C, H, W]`` or video ``[B, C, T, H, W]``.
        patch: side in pixels of one prediction token.
        time_stride: frames per token (video).
        norm: subtract each patch's mean and divide by its std (unbiased var + 1e-6).
    """
    x = _frames(x, time_stride)
    B, C = x.shape[:2]
    h, w = x.shape[-2] // patch, x.shape[-1] // patch
    if x.dim() == 4:
        t = x.reshape(B, C, h, patch, w, patch).permute(0, 2, 4, 1, 3, 5)  # [B, h, w, C, p, p]
    else:
        T = x.shape[2]
        t = x.reshape(B, C, T, h, patch, w, patch).permute(0, 2, 3, 5, 4, 6, 1)  # [B, T, h, w, p, p, C]
    t = t.reshape(B, -1, C * patch * patch)
    if norm:
        t = normalize_patches(t)
    return t


def normalize_patches(t: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Zero mean, unit (unbiased) variance along the last dim."""
    mean = t.mean(dim=-1, keepdim=True)
    var = t.var(dim=-1, keepdim=True)
    return (t - mean) / (var + eps) ** 0.5


def hog_cells(img: torch.Tensor, cell: int = 8, nbins: int = 9) -> torch.Tensor:
    """Histograms of oriented gradients per colour channel.

    ``[B, C, H, W]`` -> ``[B, C, nbins, H // cell, W // cell]``. Gradients are Sobel
    filters (reflect padding); orientation is unsigned, ``atan2(gy, gx) mod pi``, bin
    ``k`` covering ``[k, k + 1) * pi / nbins`` (bin 0 holds horizontal gradients, i.e.
    vertical edges); each pixel votes its gradient magnitude; each cell's histogram is
    L2-normalised (as in MaskFeat, which the paper's HOG target follows).
    """
    B, C, H, W = img.shape
    if H % cell or W % cell:
        raise ValueError(f"HOG needs H and W divisible by the cell size {cell}, got {H}x{W}")
    sobel = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], device=img.device, dtype=img.dtype)
    kx = (-sobel).view(1, 1, 3, 3).expand(C, 1, 3, 3)  # d/dx: right minus left
    ky = kx.transpose(2, 3)  # d/dy: down minus up
    padded = F.pad(img, (1, 1, 1, 1), mode="reflect")
    gx = F.conv2d(padded, kx, groups=C)
    gy = F.conv2d(padded, ky, groups=C)
    magnitude = torch.sqrt(gx * gx + gy * gy)
    angle = torch.remainder(torch.atan2(gy, gx), math.pi)  # [0, pi)
    bins = torch.clamp((angle * (nbins / math.pi)).long(), max=nbins - 1)
    hist = torch.zeros(B, C, nbins, H, W, device=img.device, dtype=img.dtype)
    hist.scatter_add_(2, bins.unsqueeze(2), magnitude.unsqueeze(2))
    hist = hist.view(B, C, nbins, H // cell, cell, W // cell, cell).sum(dim=(4, 6))
    return F.normalize(hist, p=2, dim=2)


def hog_target(x: torch.Tensor, patch: int, time_stride: int = 1, cell: int = 8, nbins: int = 9) -> torch.Tensor:
    """HOG of each prediction token ``[B, N_pred, C * nbins * (patch // cell) ** 2]``
    (order ``C, nbins, cell_y, cell_x``); image ``[B, C, H, W]`` or video ``[B, C, T, H, W]``."""
    if patch % cell:
        raise ValueError(f"prediction patch {patch} must be a multiple of the HOG cell {cell}")
    x = _frames(x, time_stride)
    B, C = x.shape[:2]
    frames = x if x.dim() == 4 else x.transpose(1, 2).reshape(-1, C, *x.shape[-2:])  # [B*T, C, H, W]
    hist = hog_cells(frames, cell, nbins)  # [B*T, C, nb, H/cell, W/cell]
    k = patch // cell
    h, w = hist.shape[-2] // k, hist.shape[-1] // k
    hist = hist.view(-1, C, nbins, h, k, w, k).permute(0, 3, 5, 1, 2, 4, 6)  # [B*T, h, w, C, nb, k, k]
    return hist.reshape(B, -1, C * nbins * k * k)


def target_dim(target: str, patch: int, in_chans: int, cell: int = 8, nbins: int = 9) -> int:
    """Width of one prediction token's target vector."""
    if target == "pixel":
        return patch * patch * in_chans
    if target == "hog":
        return in_chans * nbins * (patch // cell) ** 2
    raise ValueError(f"unknown MAE target '{target}'; expected 'pixel' or 'hog'")


def make_target(x: torch.Tensor, target: str, patch: int, time_stride: int, norm_pix: bool = True) -> torch.Tensor:
    """``[B, N_pred, P]`` target for ``target`` in {'pixel', 'hog'} (no gradient)."""
    with torch.no_grad():
        if target == "pixel":
            return pixel_target(x, patch, time_stride, norm=norm_pix)
        if target == "hog":
            # HOG's gradient convolutions would run in bf16/fp16 under autocast and the
            # histogram scatter needs one dtype: compute the target in fp32.
            with torch.autocast(x.device.type, enabled=False):
                return hog_target(x.float(), patch, time_stride)
    raise ValueError(f"unknown MAE target '{target}'; expected 'pixel' or 'hog'")


__all__: Sequence[str] = ["pixel_target", "hog_target", "hog_cells", "make_target", "target_dim", "normalize_patches"]
