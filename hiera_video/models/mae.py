"""Sparse masked autoencoder on the Hiera encoder (paper section 4, appendix A).

Masked mask units are deleted before the encoder: only the ``K`` kept units are
patch-embedded (each kept unit's pixels plus the kernel's halo, so the cost scales with
the kept fraction) and encoded. Stage features are fused to the last stage's resolution
by strided convolutions, summed and normed; a plain transformer decoder sees the kept
tokens plus mask tokens and predicts the target of the masked tokens only.

Every sample keeps the same number of units, so the training step is gathers and
scatters with fixed counts: no boolean indexing, no host sync, one graph under
``torch.compile(fullgraph=True)``. State-dict keys match the official MAE checkpoints
(``multi_scale_fusion_heads``, ``encoder_norm``, ``decoder_*``, ``mask_token``).
"""
import logging
import math
from functools import partial
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from hiera_video.registry import MODELS

from .hiera import HieraBlock, HieraEncoder, unroll_order
from .mae_targets import make_target, target_dim

logger = logging.getLogger(__name__)


@MODELS.register()
class MaskedAutoencoderHiera(HieraEncoder):
    """Hiera MAE. ``forward(x, mask_ratio)`` or ``forward(x, mask=keep_mask)`` returns
    ``(loss, pred [B, M, P], label [B, M, P], keep_mask [B, num_mask_units])``, where ``M``
    is the number of masked prediction tokens per sample, in row-major token order.

    The encoder is the classifier's trunk (``HieraEncoder``), with q-pooling stopped before the
    last stage (``q_pool=2``), so the stages can be fused at one resolution.

    Args (besides ``HieraEncoder``'s):
        decoder_embed_dim, decoder_depth, decoder_num_heads: the decoder transformer.
        mask_ratio: default fraction of mask units deleted when ``forward`` gets none.
        target: ``"pixel"`` (per-patch normalised pixels) or ``"hog"``.
        norm_pix_loss: normalise each pixel-target patch (mean 0, var 1).
        sparse_embed: patch-embed only the kept units (exact; dense conv if False).
    """

    def __init__(self, decoder_embed_dim: int = 512, decoder_depth: int = 8, decoder_num_heads: int = 16,
                 mask_ratio: float = 0.6, target: str = "pixel", norm_pix_loss: bool = True,
                 sparse_embed: bool = True, **hiera_kwargs):
        hiera_kwargs.setdefault("q_pool", 2)
        for unused in ("num_classes", "head_dropout", "head_init_scale"):  # a classifier's config may carry them
            hiera_kwargs.pop(unused, None)
        super().__init__(**hiera_kwargs)
        kernel, pstride, padding = self._patch_geometry()
        if len(self.input_size) == 3 and self.q_stride[0] != 1:
            raise ValueError(f"video MAE needs q_stride[0] == 1 (time-strided targets), got {self.q_stride}")
        self.mask_ratio = _check_ratio(mask_ratio)
        self.target = target
        self.norm_pix_loss = norm_pix_loss
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        mlp_ratio = self.blocks[0].mlp.fc1.out_features / self.blocks[0].dim_out

        num_pools = len(self.stage_ends) - 1
        self.unit_shapes = [[m // s ** min(i, self.q_pool) for m, s in zip(self.mask_unit_size, self.q_stride)]
                            for i in range(len(self.stage_ends))]
        self.mu_final = self.unit_shapes[-1]
        self.tokens_final = [t // s ** self.q_pool for t, s in zip(self.tokens_spatial_shape, self.q_stride)]
        # Per stage: spatial position within a unit -> its place in the unrolled order.
        for i, unit in enumerate(self.unit_shapes):
            order = unroll_order(unit, self.q_stride, num_pools - min(i, self.q_pool))
            self.register_buffer(f"unit_order_{i}", order, persistent=False)
            self.register_buffer(f"unit_reroll_{i}", torch.argsort(order), persistent=False)

        # Multi-scale fusion: stages before q-pooling stops, each to the final unit shape.
        enc_dim = self.stage_dims[-1]
        self.encoder_norm = norm_layer(enc_dim)
        conv = nn.Conv3d if len(self.input_size) == 3 else nn.Conv2d
        self.multi_scale_fusion_heads = nn.ModuleList()
        for i in range(self.q_pool):
            k = [u // f for u, f in zip(self.unit_shapes[i], self.mu_final)]
            self.multi_scale_fusion_heads.append(conv(self.stage_dims[i], enc_dim, kernel_size=k, stride=k))
        self.multi_scale_fusion_heads.append(nn.Identity())  # last stage: already at final shape

        self.pred_stride = self.patch_stride[-1] * self.q_stride[-1] ** self.q_pool
        self.time_stride = self.patch_stride[0] if len(self.input_size) == 3 else 1
        self.decoder_embed = nn.Linear(enc_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, math.prod(self.tokens_final), decoder_embed_dim))
        self.decoder_blocks = nn.ModuleList([
            HieraBlock(decoder_embed_dim, decoder_embed_dim, decoder_num_heads, mlp_ratio, 0.0, norm_layer)
            for _ in range(decoder_depth)])
        self.decoder_norm = norm_layer(decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, target_dim(target, self.pred_stride, self.in_chans))

        # Sparse patch embedding: each kept unit's pixels plus the kernel halo.
        self.sparse_embed = sparse_embed
        self._crop = [(m - 1) * s + k for m, s, k in zip(self.mask_unit_size, pstride, kernel)]
        self._step = [m * s for m, s in zip(self.mask_unit_size, pstride)]
        fits = all(i + 2 * p >= (n - 1) * st + c for i, p, n, st, c in
                   zip(self.input_size, padding, self.mask_spatial_shape, self._step, self._crop))
        if sparse_embed and not fits:
            logger.info("padding %s too small for per-unit crops; using the dense patch embedding", padding)
            self.sparse_embed = False
        self._padding = padding
        self._init_mae_weights()

    def _patch_geometry(self):
        proj = self.patch_embed.proj
        return tuple(proj.kernel_size), tuple(proj.stride), tuple(proj.padding)

    def _init_mae_weights(self):
        self._init_weights()
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.decoder_pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        w = self.patch_embed.proj.weight
        with torch.no_grad():
            nn.init.xavier_uniform_(w.view(w.shape[0], -1))  # like a linear layer

    @torch.jit.ignore
    def no_weight_decay(self):
        return super().no_weight_decay() | {"mask_token", "decoder_pos_embed"}

    # ------------------------------------------------------------------ masking
    def num_kept(self, mask_ratio: float) -> int:
        """Units kept per sample at ``mask_ratio`` (same rounding as the reference)."""
        keep = int(self.num_mask_units * (1 - _check_ratio(mask_ratio)))
        if keep == 0 or keep == self.num_mask_units:
            raise ValueError(f"mask_ratio={mask_ratio} keeps {keep} of {self.num_mask_units} mask units; "
                             "it must keep at least one and mask at least one")
        return keep

    def random_keep(self, batch: int, mask_ratio: float, device=None) -> torch.Tensor:
        """Sorted kept unit indices ``[B, K]``: the ``K`` smallest of uniform noise."""
        noise = torch.rand(batch, self.num_mask_units, device=device)
        keep = torch.argsort(noise, dim=1)[:, : self.num_kept(mask_ratio)]
        return torch.sort(keep, dim=1).values

    def _keep_idx(self, x: torch.Tensor, mask_ratio: Optional[float], mask: Optional[torch.Tensor]):
        if mask is None:
            ratio = self.mask_ratio if mask_ratio is None else mask_ratio
            return self.random_keep(x.shape[0], ratio, x.device)
        if mask.dim() != 2 or mask.shape[0] != x.shape[0]:
            raise ValueError(f"keep-mask must be [B={x.shape[0]}, {self.num_mask_units}] (True = keep), "
                             f"got {list(mask.shape)}")
        keep_idx = self.keep_indices(mask)  # validates width and equal, non-zero counts
        if keep_idx.shape[1] == self.num_mask_units:
            raise ValueError("keep-mask keeps every mask unit: nothing to reconstruct")
        return keep_idx

    def keep_mask_from_idx(self, keep_idx: torch.Tensor) -> torch.Tensor:
        """``[B, K]`` -> bool keep-mask ``[B, num_mask_units]`` (True = keep)."""
        mask = torch.zeros(keep_idx.shape[0], self.num_mask_units, dtype=torch.bool, device=keep_idx.device)
        return mask.scatter(1, keep_idx, torch.ones_like(keep_idx, dtype=torch.bool))

    def token_keep_mask(self, keep_mask: torch.Tensor) -> torch.Tensor:
        """Unit keep-mask ``[B, U]`` -> keep-mask of the prediction tokens ``[B, N_pred]``
        (row-major over the final token grid)."""
        B, D = keep_mask.shape[0], len(self.mu_final)
        m = keep_mask.view(B, *self.mask_spatial_shape, *([1] * D))
        m = m.expand(B, *self.mask_spatial_shape, *self.mu_final)
        return _interleave(m.unsqueeze(-1), D).reshape(B, -1)

    # ------------------------------------------------------------------ encoder
    def embed_kept(self, x: torch.Tensor, keep_idx: torch.Tensor) -> torch.Tensor:
        """Patch + position embedding of the kept units: ``[B, C, (T,) H, W]``, ``[B, K]``
        -> ``[B, mu_size * K, D]`` in the backbone's unrolled layout ``[B, mu_size, K, D]``."""
        B, K = keep_idx.shape
        dims = len(self.input_size)
        pt = [i // u for i, u in zip(self.input_size, self.mask_spatial_shape)]  # unit size in px
        unit_mask = self.keep_mask_from_idx(keep_idx).to(x.dtype)
        # Zero deleted units so the overlapping kernel cannot see them (as the dense path does).
        xs = x.view(B, x.shape[1], *[v for u, p in zip(self.mask_spatial_shape, pt) for v in (u, p)])
        ms = unit_mask.view(B, 1, *[v for u in self.mask_spatial_shape for v in (u, 1)])
        x = (xs * ms).view_as(x)
        pad = [p for p in reversed(self._padding) for _ in range(2)]
        x = F.pad(x, pad)
        for d in range(dims):
            x = x.unfold(2 + d, self._crop[d], self._step[d])  # [B, C, *units, *crop]
        coords = _unravel(keep_idx, self.mask_spatial_shape)
        batch = torch.arange(B, device=x.device).view(B, 1)
        crops = x.permute(0, *range(2, 2 + dims), 1, *range(2 + dims, 2 + 2 * dims))[(batch, *coords)]
        crops = crops.reshape(B * K, *crops.shape[2:])  # [B*K, C, *crop]
        proj = self.patch_embed.proj
        conv = F.conv3d if dims == 3 else F.conv2d
        tok = conv(crops, proj.weight, proj.bias, stride=proj.stride)  # [B*K, D, *unit]
        tok = tok.flatten(2)[:, :, self.unit_order_0]  # unit tokens in unrolled order
        tok = tok.view(B, K, -1, self.mu_size).permute(0, 3, 1, 2)  # [B, mu, K, D]
        pos = self.get_pos_embed()[:, self.unroll_index]
        pos = pos.view(1, self.mu_size, self.num_mask_units, -1).expand(B, -1, -1, -1)
        pos = torch.gather(pos, 2, keep_idx.view(B, 1, K, 1).expand(B, self.mu_size, K, pos.shape[-1]))
        return (tok + pos).reshape(B, self.mu_size * K, -1)

    def encode(self, x: torch.Tensor, keep_idx: torch.Tensor) -> torch.Tensor:
        """Fused, normed encoder output ``[B, K, prod(mu_final), C]`` of the kept units."""
        self._check_input(x)
        K = keep_idx.shape[1]
        if not self.sparse_embed:
            _, stage_outs = self.forward_encoder(x, keep_idx, return_intermediates=True)
        else:
            t = self.embed_kept(x, keep_idx)
            stage_outs = []
            for i, blk in enumerate(self.blocks):
                t = checkpoint(blk, t, use_reentrant=False) if self.act_checkpoint and self.training else blk(t)
                if i in self.stage_ends:
                    stage_outs.append(t)
        used = list(range(self.q_pool)) + [len(self.stage_ends) - 1]
        fused = 0
        for head, stage in zip(self.multi_scale_fusion_heads, used):
            fused = fused + self._fuse(head, self._unit_tokens(stage_outs[stage], stage, K), stage)
        return self.encoder_norm(fused)

    def _unit_tokens(self, t: torch.Tensor, stage: int, K: int) -> torch.Tensor:
        """Unrolled stage output ``[B, N_s, C]`` -> ``[B, K, prod(unit_s), C]``, spatial order."""
        B, _, C = t.shape
        t = t.view(B, -1, K, C)[:, getattr(self, f"unit_reroll_{stage}")]
        return t.transpose(1, 2)

    def _fuse(self, head: nn.Module, t: torch.Tensor, stage: int) -> torch.Tensor:
        """Strided conv (kernel = stride) as a matmul over non-overlapping patches:
        ``[B, K, prod(unit_s), C_s]`` -> ``[B, K, prod(mu_final), C]``."""
        if isinstance(head, nn.Identity):
            return t
        B, K, _, C = t.shape
        D = len(self.mu_final)
        k = head.kernel_size
        t = t.reshape(B, K, *[v for f, kk in zip(self.mu_final, k) for v in (f, kk)], C)
        perm = [0, 1, *range(2, 2 + 2 * D, 2), 2 + 2 * D, *range(3, 3 + 2 * D, 2)]
        t = t.permute(perm).reshape(B, K, math.prod(self.mu_final), C * math.prod(k))
        return F.linear(t, head.weight.flatten(1), head.bias)

    # ------------------------------------------------------------------ decoder
    def decode(self, latent: torch.Tensor, keep_idx: torch.Tensor) -> torch.Tensor:
        """``[B, K, Mf, C]`` -> decoder output ``[B, N_pred, D_dec]`` (row-major tokens)."""
        B, K, Mf, _ = latent.shape
        x = self.decoder_embed(latent)
        D = x.shape[-1]
        full = self.mask_token.to(x.dtype).view(1, 1, 1, D).expand(B, self.num_mask_units, Mf, D)
        full = full.scatter(1, keep_idx.view(B, K, 1, 1).expand(B, K, Mf, D), x)
        full = full.view(B, *self.mask_spatial_shape, *self.mu_final, D)
        x = _interleave(full, len(self.mu_final)).reshape(B, -1, D) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        return x

    def predict(self, dec: torch.Tensor) -> torch.Tensor:
        return self.decoder_pred(self.decoder_norm(dec))

    def forward(self, x: torch.Tensor, mask_ratio: Optional[float] = None, mask: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x ``[B, C, (T,) H, W]``; ``mask_ratio`` in (0, 1) draws a random mask with a fixed
        kept count, or ``mask`` ``[B, num_mask_units]`` bool (True = keep, same count per
        sample; read on the host to validate). Returns ``(loss, pred, label, keep_mask)``
        with pred/label ``[B, M, P]`` for the masked tokens, loss their mean squared error."""
        keep_idx = self._keep_idx(x, mask_ratio, mask)
        B, K = keep_idx.shape
        keep_mask = self.keep_mask_from_idx(keep_idx)
        dec = self.decode(self.encode(x, keep_idx), keep_idx)
        num_masked = (self.num_mask_units - K) * math.prod(self.mu_final)
        masked = torch.argsort(self.token_keep_mask(keep_mask).to(torch.int8), dim=1, stable=True)[:, :num_masked]
        dec = torch.gather(dec, 1, masked.unsqueeze(-1).expand(B, num_masked, dec.shape[-1]))
        pred = self.predict(dec)
        label = make_target(x, self.target, self.pred_stride, self.time_stride, self.norm_pix_loss)
        label = torch.gather(label, 1, masked.unsqueeze(-1).expand(B, num_masked, label.shape[-1]))
        loss = (pred - label).pow(2).mean()
        return loss, pred, label, keep_mask

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, mask_ratio: Optional[float] = None, mask: Optional[torch.Tensor] = None):
        """Predictions for every token ``[B, N_pred, P]`` and the token keep-mask ``[B, N_pred]``."""
        keep_idx = self._keep_idx(x, mask_ratio, mask)
        pred = self.predict(self.decode(self.encode(x, keep_idx), keep_idx))
        return pred, self.token_keep_mask(self.keep_mask_from_idx(keep_idx))



def _check_ratio(mask_ratio) -> float:
    if not isinstance(mask_ratio, (float, int)) or not 0.0 < float(mask_ratio) < 1.0:
        raise ValueError(f"mask_ratio must be a number in (0, 1), got {mask_ratio!r}")
    return float(mask_ratio)


def _unravel(idx: torch.Tensor, shape) -> list:
    """Flat indices -> per-dimension coordinates (row-major ``shape``)."""
    coords = []
    for size in reversed(shape):
        coords.append(idx % size)
        idx = idx // size
    return coords[::-1]


def _interleave(x: torch.Tensor, dims: int) -> torch.Tensor:
    """``[B, *n_units, *unit, C]`` -> ``[B, n0, u0, n1, u1, ..., C]`` (undo the windowing)."""
    perm = [0] + [v for d in range(dims) for v in (1 + d, 1 + dims + d)] + [1 + 2 * dims]
    return x.permute(perm)
