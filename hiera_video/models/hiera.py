"""Hiera: a hierarchical vision transformer without the bells and whistles.

One implementation for images (2-D) and video (3-D): only the patch embedding, the
mask-unit size and the position embedding (joint or separable spatio-temporal) differ.

Token layout. After the patch embedding the tokens of a ``[T, H, W]`` grid are put in
"unrolled" order (see ``unroll_order``): the q-stride offsets of every pooling step come
first, the coarse grid last. A q-pool is then a max over the leading chunk of the
sequence, and the mask units (= windows of mask unit attention) are the innermost,
fastest-varying index. State-dict keys match the public release.
"""
import math
from functools import partial
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath
from torch.utils.checkpoint import checkpoint

from hiera_video.registry import MODELS

from . import fused_linear
from .heads import ClassificationHead


def unroll_order(grid: Sequence[int], q_stride: Sequence[int], num_pools: int) -> torch.Tensor:
    """Spatial (row-major) index of the token held at each position of the unrolled order.

    A token at coordinate ``c`` gets the key ``(c % s, (c // s) % s, ..., c // s**P)``
    (each part over all dims at once); sorting by that key gives the unrolled order.
    Returns a ``[prod(grid)]`` long tensor.
    """
    coords = torch.stack(
        torch.meshgrid(*[torch.arange(g, device="cpu") for g in grid], indexing="ij"), dim=-1
    ).reshape(-1, len(grid))
    stride = torch.tensor(q_stride, device="cpu")
    key = torch.zeros(coords.shape[0], dtype=torch.long, device="cpu")
    for _ in range(num_pools):
        for d in range(len(grid)):
            key = key * stride[d] + coords[:, d] % stride[d]
        coords = coords // stride
    coarse = [g // s**num_pools for g, s in zip(grid, q_stride)]
    for d in range(len(grid)):
        key = key * coarse[d] + coords[:, d]
    return torch.argsort(key)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d)) v`` on ``[N, heads, L, d]`` tensors: the fused kernel everywhere.

    (With torch 2.14 the CPU flash kernel is also the faster one for bfloat16: Hiera-B 16x224
    bf16 forward on one core, 0.74 s with two explicit matmuls and a softmax, 0.60 s fused.)
    """
    return F.scaled_dot_product_attention(q, k, v)


class PatchEmbed(nn.Module):
    """Conv patch embedding. ``[B, C, (T,) H, W]`` -> ``[B, N, D]`` in row-major order."""

    def __init__(self, in_chans, embed_dim, kernel, stride, padding):
        super().__init__()
        conv = nn.Conv3d if len(kernel) == 3 else nn.Conv2d
        self.proj = conv(in_chans, embed_dim, kernel_size=kernel, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor, pixel_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        if pixel_mask is not None:
            # Zero the deleted units so the overlapping kernels cannot see them.
            x = x * pixel_mask
        return self.proj(x).flatten(2).transpose(1, 2)


class MaskUnitAttention(nn.Module):
    """Attention within mask units (windows) or globally, with optional q max-pooling.

    Input ``[B, N, dim]`` in unrolled order, where the window index is the innermost
    one: ``N = tokens_per_window * num_windows``. Output ``[B, N // q_stride, dim_out]``.
    q, k, v reach ``attention`` (fused ``scaled_dot_product_attention``) as 4-D
    ``[B * windows, heads, L, d]`` tensors so the fused kernels can run.
    """

    def __init__(self, dim, dim_out, heads, q_stride=1, window_size=0, use_mask_unit_attn=False):
        super().__init__()
        self.dim_out = dim_out
        self.heads = heads
        self.head_dim = dim_out // heads
        self.q_stride = q_stride
        self.window_size = window_size  # tokens per mask unit after q-pooling
        self.use_mask_unit_attn = use_mask_unit_attn
        self.qkv = nn.Linear(dim, 3 * dim_out)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None) -> torch.Tensor:
        """With ``residual`` ``[B, N // q_stride, dim_out]``, returns output + residual."""
        B, N, _ = x.shape
        windows = N // (self.q_stride * self.window_size) if self.use_mask_unit_attn else 1
        L = N // windows
        qkv = fused_linear.linear(x, self.qkv).view(B, L, windows, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(3, 0, 2, 4, 1, 5).unbind(0)  # each [B, windows, heads, L, d]
        if self.q_stride > 1:
            # The leading q_stride chunks of a window are the pooling neighbours.
            q = q.reshape(B, windows, self.heads, self.q_stride, L // self.q_stride, self.head_dim)
            q = q.amax(dim=3)
        Lq = q.shape[-2]
        q = q.reshape(B * windows, self.heads, Lq, self.head_dim)
        k = k.reshape(B * windows, self.heads, L, self.head_dim)
        v = v.reshape(B * windows, self.heads, L, self.head_dim)
        out = attention(q, k, v)
        out = out.view(B, windows, self.heads, Lq, self.head_dim).permute(0, 3, 1, 2, 4)
        out = out.reshape(B, Lq * windows, self.dim_out)
        if residual is None:
            return fused_linear.linear(out, self.proj)
        return fused_linear.linear_add(out, self.proj, residual)


class Mlp(nn.Module):
    """fc1, exact GELU, fc2: ``[..., dim]`` -> ``[..., dim]``; with ``residual``, output + residual."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None) -> torch.Tensor:
        hidden = fused_linear.linear(x, self.fc1, gelu=True)
        if residual is None:
            return fused_linear.linear(hidden, self.fc2)
        return fused_linear.linear_add(hidden, self.fc2, residual)


class HieraBlock(nn.Module):
    """Pre-norm transformer block; the first block of a stage widens and q-pools.

    ``[B, N, dim]`` -> ``[B, N // q_stride, dim_out]``.
    """

    def __init__(self, dim, dim_out, heads, mlp_ratio=4.0, drop_path=0.0,
                 norm_layer=nn.LayerNorm, q_stride=1, window_size=0, use_mask_unit_attn=False):
        super().__init__()
        self.dim, self.dim_out = dim, dim_out
        self.norm1 = norm_layer(dim)
        self.attn = MaskUnitAttention(dim, dim_out, heads, q_stride, window_size, use_mask_unit_attn)
        self.norm2 = norm_layer(dim_out)
        self.mlp = Mlp(dim_out, int(dim_out * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_norm = self.norm1(x)
        if self.dim != self.dim_out:
            x = fused_linear.linear(x_norm, self.proj)
            q_stride = self.attn.q_stride
            if q_stride > 1:
                x = x.view(x.shape[0], q_stride, -1, self.dim_out).amax(dim=1)
        stochastic_depth = self.training and isinstance(self.drop_path, DropPath)
        if stochastic_depth or not self._fuse_residuals():
            x = x + self.drop_path(self.attn(x_norm))
            return x + self.drop_path(self.mlp(self.norm2(x)))
        # Residual adds inside the output projections (fused into the matmul on CPU fp32).
        x = self.attn(x_norm, residual=x)
        return self.mlp(self.norm2(x), residual=x)

    def _fuse_residuals(self) -> bool:
        """Only for our own attn/mlp without hooks, so a hook still sees the branch output alone."""
        return (type(self.attn) is MaskUnitAttention and type(self.mlp) is Mlp
                and fused_linear.unhooked(self.attn, self.mlp))


class HieraEncoder(nn.Module):
    """The Hiera trunk the classifier (``Hiera``) and the MAE (``MaskedAutoencoderHiera``) share:
    patch embedding, position embeddings and the blocks, tokens in unrolled order. No final norm,
    no head: each model adds its own, so state-dict keys stay the release's (``patch_embed.*``,
    ``pos_embed*``, ``blocks.N.*`` at the top level).

    Input ``[B, in_chans, H, W]`` (image) or ``[B, in_chans, T, H, W]`` (video) of exactly
    ``input_size``; ``forward_encoder`` gives the last stage's tokens ``[B, N', C]``.
    """

    def __init__(
        self,
        input_size: Tuple[int, ...] = (224, 224),
        in_chans: int = 3,
        embed_dim: int = 96,
        num_heads: int = 1,
        stages: Tuple[int, ...] = (2, 3, 16, 3),
        q_pool: int = 3,
        q_stride: Tuple[int, ...] = (2, 2),
        mask_unit_size: Tuple[int, ...] = (8, 8),
        mask_unit_attn: Tuple[bool, ...] = (True, True, False, False),
        dim_mul: float = 2.0,
        head_mul: float = 2.0,
        patch_kernel: Tuple[int, ...] = (7, 7),
        patch_stride: Tuple[int, ...] = (4, 4),
        patch_padding: Tuple[int, ...] = (3, 3),
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.0,
        sep_pos_embed: bool = False,
        act_checkpoint: bool = False,
    ):
        super().__init__()
        _check_geometry(input_size, stages, q_pool, q_stride, mask_unit_size, patch_kernel, patch_stride,
                        patch_padding)
        self.input_size = tuple(input_size)
        self.in_chans = in_chans
        self.patch_stride = tuple(patch_stride)
        self.q_stride = tuple(q_stride)
        self.q_pool = q_pool
        self.mask_unit_size = tuple(mask_unit_size)
        self.sep_pos_embed = sep_pos_embed
        self.act_checkpoint = act_checkpoint
        self.tokens_spatial_shape = [i // s for i, s in zip(input_size, patch_stride)]
        self.mask_spatial_shape = [t // m for t, m in zip(self.tokens_spatial_shape, mask_unit_size)]
        self.num_mask_units = math.prod(self.mask_spatial_shape)
        self.mu_size = math.prod(mask_unit_size)
        self.stage_ends = [sum(stages[: i + 1]) - 1 for i in range(len(stages))]

        self.patch_embed = PatchEmbed(in_chans, embed_dim, patch_kernel, patch_stride, patch_padding)
        self._add_pos_embed(embed_dim)
        self._add_unroll_buffers(len(stages))
        self.blocks = self._make_blocks(embed_dim, num_heads, stages, mask_unit_attn, dim_mul, head_mul, mlp_ratio,
                                        drop_path_rate)
        self.stage_dims = [self.blocks[e].dim_out for e in self.stage_ends]
        self.num_features = self.stage_dims[-1]
        # A subclass adds its own layers, then calls ``_init_weights`` (one pass, in module order).

    def _add_pos_embed(self, embed_dim: int) -> None:
        """Separable (spatial ``[1, H*W, C]`` + temporal ``[1, T, C]``) or joint ``[1, N, C]``."""
        if self.sep_pos_embed:
            t, h, w = self.tokens_spatial_shape
            self.pos_embed_spatial = nn.Parameter(torch.zeros(1, h * w, embed_dim))
            self.pos_embed_temporal = nn.Parameter(torch.zeros(1, t, embed_dim))
        else:
            self.pos_embed = nn.Parameter(torch.zeros(1, math.prod(self.tokens_spatial_shape), embed_dim))

    def _add_unroll_buffers(self, num_stages: int) -> None:
        """Unrolled-order bookkeeping: where each token goes, and per stage how to put it back."""
        num_pools = num_stages - 1
        self.register_buffer("unroll_index", unroll_order(self.tokens_spatial_shape, self.q_stride, num_pools),
                             persistent=False)
        self.stage_grids = []
        for stage in range(num_stages):
            pools = min(stage, self.q_pool)
            grid = [g // s**pools for g, s in zip(self.tokens_spatial_shape, self.q_stride)]
            order = unroll_order(grid, self.q_stride, num_pools - pools)
            self.register_buffer(f"reroll_index_{stage}", torch.argsort(order), persistent=False)
            self.stage_grids.append(grid)

    def _make_blocks(self, embed_dim, num_heads, stages, mask_unit_attn, dim_mul, head_mul, mlp_ratio,
                     drop_path_rate) -> nn.ModuleList:
        """The blocks of every stage: the first of a stage widens (and q-pools for the first
        ``q_pool`` transitions); stochastic depth rises linearly to ``drop_path_rate``."""
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        flat_q_stride = math.prod(self.q_stride)
        window = self.mu_size
        dpr = torch.linspace(0, drop_path_rate, sum(stages), device="cpu").tolist()
        q_pool_blocks = {end + 1 for end in self.stage_ends[: self.q_pool]}
        blocks = nn.ModuleList()
        stage = 0
        dim, heads = embed_dim, num_heads
        for i in range(sum(stages)):
            dim_out = dim
            # Mask unit attention lags one block behind the stage change: the pooling block
            # of a global stage still attends within (now smaller) mask units.
            use_mu_attn = mask_unit_attn[stage]
            if i - 1 in self.stage_ends:
                dim_out = int(dim * dim_mul)
                heads = int(heads * head_mul)
                stage += 1
                if i in q_pool_blocks:
                    window //= flat_q_stride
            blocks.append(HieraBlock(
                dim, dim_out, heads, mlp_ratio, dpr[i], norm_layer,
                q_stride=flat_q_stride if i in q_pool_blocks else 1,
                window_size=window, use_mask_unit_attn=use_mu_attn))
            dim = dim_out
        return blocks

    def _init_weights(self) -> None:
        """The release's init of every layer (``_init_layers``) after the position embeddings'."""
        for p in [getattr(self, n) for n in ("pos_embed", "pos_embed_spatial", "pos_embed_temporal") if hasattr(self, n)]:
            nn.init.trunc_normal_(p, std=0.02)
        _init_layers(self)

    # timm-style hooks used by the optimizer (layer decay, no weight decay).
    @torch.jit.ignore
    def no_weight_decay(self):
        return {"pos_embed", "pos_embed_spatial", "pos_embed_temporal"}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False):
        return dict(stem=r"^pos_embed|^patch_embed", blocks=r"^blocks\.(\d+)")

    def get_pos_embed(self) -> torch.Tensor:
        """``[1, N, C]`` position embedding in row-major token order."""
        if not self.sep_pos_embed:
            return self.pos_embed
        t = self.pos_embed_temporal.shape[1]
        hw = self.pos_embed_spatial.shape[1]
        return (self.pos_embed_spatial.unsqueeze(1) + self.pos_embed_temporal.unsqueeze(2)).reshape(1, t * hw, -1)

    def _check_input(self, x: torch.Tensor):
        expected = (self.in_chans, *self.input_size)
        if x.dim() != len(expected) + 1 or tuple(x.shape[1:]) != expected:
            kind = "video [B, C, T, H, W]" if len(self.input_size) == 3 else "image [B, C, H, W]"
            raise ValueError(
                f"expected a {kind} batch of shape [B, {', '.join(map(str, expected))}], got {list(x.shape)}; "
                f"build the model with input_size=... (a multiple of the {self.mask_unit_size} mask unit of "
                f"{[m * p for m, p in zip(self.mask_unit_size, self.patch_stride)]} px) to change it")

    def keep_indices(self, mask: torch.Tensor) -> torch.Tensor:
        """Keep-mask ``[B, num_mask_units]`` (True = keep) -> sorted kept unit indices ``[B, K]``.

        Every sample must keep the same number of units. Reads the count on the host once;
        callers that know it (the MAE) pass indices to ``forward_encoder`` directly.
        """
        if mask.dim() != 2 or mask.shape[1] != self.num_mask_units:
            raise ValueError(f"keep-mask must be [B, {self.num_mask_units}] (mask units "
                             f"{self.mask_spatial_shape}), got {list(mask.shape)}")
        counts = mask.sum(dim=1)
        if bool((counts != counts[0]).any()) or int(counts[0]) == 0:
            raise ValueError(f"every sample must keep the same, non-zero number of mask units; got {counts.tolist()}")
        order = torch.argsort((~mask.bool()).to(torch.int8), dim=1, stable=True)
        return order[:, : int(counts[0])]

    def forward_encoder(
        self, x: torch.Tensor, keep_idx: Optional[torch.Tensor] = None, return_intermediates: bool = False
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Encoder tokens in unrolled order ``[B, N', C]`` and, optionally, the unrolled
        output of each stage ``[B, N_s, C_s]``. With ``keep_idx`` ``[B, K]`` (sorted kept
        mask-unit indices) only those units are embedded and encoded."""
        self._check_input(x)
        B = x.shape[0]
        pixel_mask = None
        if keep_idx is not None:
            unit_mask = torch.zeros(B, self.num_mask_units, device=x.device, dtype=x.dtype)
            unit_mask.scatter_(1, keep_idx, 1.0)
            pixel_mask = F.interpolate(unit_mask.view(B, 1, *self.mask_spatial_shape), size=x.shape[2:], mode="nearest")
        x = self.patch_embed(x, pixel_mask) + self.get_pos_embed()
        x = x[:, self.unroll_index]
        if keep_idx is not None:
            C, K = x.shape[-1], keep_idx.shape[1]
            x = x.view(B, self.mu_size, self.num_mask_units, C)
            x = torch.gather(x, 2, keep_idx.view(B, 1, K, 1).expand(B, self.mu_size, K, C))
            x = x.reshape(B, self.mu_size * K, C)
        intermediates = []
        for i, blk in enumerate(self.blocks):
            if self.act_checkpoint and self.training:
                x = checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
            if return_intermediates and i in self.stage_ends:
                intermediates.append(x)
        return x, intermediates

    def reroll(self, x: torch.Tensor, stage: int) -> torch.Tensor:
        """Stage output in unrolled order ``[B, N_s, C]`` -> spatial ``[B, T', H', W', C]``."""
        index = getattr(self, f"reroll_index_{stage}")
        return x[:, index].view(x.shape[0], *self.stage_grids[stage], x.shape[-1])

    def reroll_kept(self, x: torch.Tensor, stage: int, num_kept: int) -> torch.Tensor:
        """Masked stage output ``[B, N_s, C]`` -> ``[B, K, *unit_shape_s, C]`` with each kept
        unit's tokens in spatial order."""
        pools = min(stage, self.q_pool)
        unit = [m // s**pools for m, s in zip(self.mask_unit_size, self.q_stride)]
        B, _, C = x.shape
        # Within a unit the order is the unroll of the unit's own grid.
        order = torch.argsort(unroll_order(unit, self.q_stride, len(self.stage_ends) - 1 - pools)).to(x.device)
        x = x.view(B, -1, num_kept, C)[:, order]
        return x.transpose(1, 2).reshape(B, num_kept, *unit, C)


@MODELS.register()
class Hiera(HieraEncoder):
    """Hiera classifier: the trunk, a final LayerNorm of the mean-pooled last stage, and a linear head.

    ``forward`` returns logits ``[B, num_classes]`` (no softmax, train and eval alike); with
    ``return_intermediates=True`` also each stage's map in spatial order, ``[B, T', H', W', C]``
    (video) or ``[B, H', W', C]`` (image). Arguments: ``HieraEncoder``'s, and ``num_classes``,
    ``head_dropout``, ``head_init_scale`` (the head's initial weights are scaled by it, as in the
    release).
    """

    def __init__(self, num_classes: int = 1000, head_dropout: float = 0.0, head_init_scale: float = 0.001,
                 **trunk_args):
        super().__init__(**trunk_args)
        self.num_classes = num_classes
        self.norm = nn.LayerNorm(self.num_features, eps=1e-6)
        self.head = ClassificationHead(self.num_features, num_classes, dropout=head_dropout)
        self._init_weights()
        with torch.no_grad():
            self.head.projection.weight.mul_(head_init_scale)
            self.head.projection.bias.mul_(head_init_scale)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled, normed feature ``[B, num_features]``."""
        x, _ = self.forward_encoder(x)
        return self.norm(x.mean(dim=1))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """``[B, num_features]`` -> logits ``[B, num_classes]``."""
        return self.head(features)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None, return_intermediates: bool = False):
        """Logits ``[B, num_classes]``; with ``return_intermediates`` also the list of stage
        maps in spatial order. With a keep-mask the pooled feature covers kept units only,
        and the intermediates are ``[B, K, *unit_shape_s, C]`` per kept unit."""
        keep_idx = self.keep_indices(mask) if mask is not None else None
        x, stage_outputs = self.forward_encoder(x, keep_idx, return_intermediates)
        logits = self.head(self.norm(x.mean(dim=1)))
        if not return_intermediates:
            return logits
        if keep_idx is None:
            maps = [self.reroll(t, s) for s, t in enumerate(stage_outputs)]
        else:
            maps = [self.reroll_kept(t, s, keep_idx.shape[1]) for s, t in enumerate(stage_outputs)]
        return logits, maps

    def save_pretrained(self, folder: str, class_names: Optional[List[str]] = None) -> List[str]:
        """Write a Hugging Face Hub folder (model.safetensors, config.json, README.md) that
        ``create_model(folder)`` loads back; ``hiera-export --format hf`` adds the run's clip
        shape, config and test results. Returns the paths written."""
        from .hf_format import save_pretrained

        return save_pretrained(self, folder, class_names or getattr(self, "class_names", None))


def _check_geometry(input_size, stages, q_pool, q_stride, mask_unit_size, patch_kernel, patch_stride,
                    patch_padding) -> None:
    """A ValueError naming the argument when the token grid, mask units and pooling do not fit."""
    dims = len(input_size)
    for name, value in [("q_stride", q_stride), ("mask_unit_size", mask_unit_size),
                        ("patch_kernel", patch_kernel), ("patch_stride", patch_stride),
                        ("patch_padding", patch_padding)]:
        if len(value) != dims:
            raise ValueError(f"{name}={tuple(value)} must have {dims} entries like input_size={tuple(input_size)}")
    if not 0 <= q_pool < len(stages):
        raise ValueError(f"q_pool={q_pool} must be in [0, {len(stages) - 1}]")
    unit_px = [m * p for m, p in zip(mask_unit_size, patch_stride)]
    if any(i % u for i, u in zip(input_size, unit_px)):
        raise ValueError(
            f"input_size={tuple(input_size)} must be a multiple of the mask unit in pixels "
            f"{tuple(unit_px)} (mask_unit_size {tuple(mask_unit_size)} x patch_stride {tuple(patch_stride)})")
    num_pools = len(stages) - 1
    if any(m != s**num_pools for m, s in zip(mask_unit_size, q_stride)):
        raise ValueError(f"mask_unit_size {tuple(mask_unit_size)} must equal q_stride {tuple(q_stride)} "
                         f"to the power of the {num_pools} stage transitions")


def _init_layers(module: nn.Module) -> None:
    """The release's init: truncated normal (std 0.02) linear and conv weights, zero biases,
    LayerNorms at identity."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.Conv3d)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
