"""AVA action detection on Hiera: an ROI head on the last-stage map (paper appendix A.1).

Person boxes -> RoIAlign on the temporally averaged last-stage map at its stride ->
spatial max-pool -> dropout -> linear, as PySlowFast's ``ResNetRoIHead`` with one pathway.
"""
from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import roi_align

__all__ = ["AVAROIHead", "HieraAVADetector"]


class AVAROIHead(nn.Module):
    """ROI classifier: feature map ``[B, T', H', W', C]`` (spatial order, channels last)
    and boxes ``[N, 5]`` = (batch index, x1, y1, x2, y2) in input pixels -> logits ``[N, K]``.

    Args:
        dim: channels C of the map (768 for the last stage of Hiera-B).
        num_classes: K (80 for AVA; the metric scores the label map's 60).
        resolution: RoIAlign output size ``(h, w)`` before the spatial max-pool.
        spatial_scale: map size / input size, 1/32 for Hiera's last stage.
        sampling_ratio, aligned: as in ``torchvision.ops.roi_align`` (PySlowFast: 0, True).
        dropout: before the linear layer (0.5 in the paper).
        loss: "bce" (multi-label, sigmoid; default) or "cross_entropy" (softmax).

    Box coordinates are clamped to the map's extent in input pixels (W'/spatial_scale,
    H'/spatial_scale): a box partly outside pools its visible part only; a box wholly
    outside (or of zero width or height) pools zeros, so its logits are the bias.
    No sigmoid/softmax in ``forward``: ``loss`` and ``predict`` apply the chosen one.
    """

    def __init__(self, dim: int, num_classes: int = 80, resolution: Union[int, Sequence[int]] = (7, 7),
                 spatial_scale: float = 1.0 / 32, sampling_ratio: int = 0, aligned: bool = True,
                 dropout: float = 0.5, loss: str = "bce"):
        super().__init__()
        if loss not in ("bce", "cross_entropy"):
            raise ValueError(f"loss must be 'bce' (multi-label sigmoid) or 'cross_entropy' (softmax), got {loss!r}")
        self.dim, self.num_classes, self.loss_type = dim, num_classes, loss
        self.resolution: Tuple[int, int] = (resolution, resolution) if isinstance(resolution, int) else tuple(resolution)
        self.spatial_scale, self.sampling_ratio, self.aligned = float(spatial_scale), sampling_ratio, aligned
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.projection = nn.Linear(dim, num_classes)
        nn.init.normal_(self.projection.weight, std=0.01)
        nn.init.zeros_(self.projection.bias)

    def pool(self, x: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """``[B, T', H', W', C]`` and boxes ``[N, 5]`` -> ROI features ``[N, C]``."""
        if x.dim() != 5 or x.shape[-1] != self.dim:
            raise ValueError(f"expected a feature map [B, T', H', W', {self.dim}] (spatial order, channels last), "
                             f"got {tuple(x.shape)}")
        if boxes.dim() != 2 or boxes.shape[1] != 5:
            raise ValueError(f"expected boxes [N, 5] = (batch index, x1, y1, x2, y2) in input pixels, "
                             f"got {tuple(boxes.shape)}")
        B, _, H, W, _ = x.shape
        boxes = boxes.to(device=x.device, dtype=torch.float32)
        if boxes.shape[0] and bool(((boxes[:, 0] < 0) | (boxes[:, 0] >= B) | (boxes[:, 0] != boxes[:, 0].round())).any()):
            raise ValueError(f"box batch indices must be integers in [0, {B - 1}], got {boxes[:, 0].tolist()}")
        extent = boxes.new_tensor([W, H, W, H]) / self.spatial_scale
        coords = torch.minimum(boxes[:, 1:].clamp(min=0), extent)
        boxes = torch.cat([boxes[:, :1], coords], dim=1)
        fmap = x.float().mean(dim=1).permute(0, 3, 1, 2)  # temporal average: [B, C, H', W']
        rois = roi_align(fmap, boxes, self.resolution, self.spatial_scale, self.sampling_ratio, self.aligned)
        return rois.amax(dim=(2, 3)).to(x.dtype)  # spatial max-pool: [N, C, h, w] -> [N, C]

    def forward(self, x: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, num_classes]``."""
        return self.projection(self.dropout(self.pool(x, boxes)))

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean loss of logits ``[N, K]`` against multi-hot ``[N, K]`` or class indices ``[N]``
        (0-based columns). With cross-entropy a multi-hot row becomes a uniform soft target
        over its labels."""
        K = logits.shape[-1]
        if targets.dim() == 1:
            if targets.dtype.is_floating_point:
                raise ValueError("1-D targets must be integer class indices [N]; use [N, K] for multi-hot")
            if self.loss_type == "cross_entropy":
                return F.cross_entropy(logits, targets)
            targets = F.one_hot(targets, K)
        if targets.shape != logits.shape:
            raise ValueError(f"targets must be [N] indices or [N, {K}] multi-hot, got {tuple(targets.shape)}")
        targets = targets.to(logits.dtype)
        if self.loss_type == "bce":
            return F.binary_cross_entropy_with_logits(logits, targets)
        total = targets.sum(dim=1, keepdim=True)
        if bool((total <= 0).any()):
            raise ValueError("cross-entropy needs at least one positive label per box")
        return -(targets / total * F.log_softmax(logits, dim=1)).sum(dim=1).mean()

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """Class scores ``[N, K]``: sigmoid for "bce", softmax for "cross_entropy"."""
        return logits.sigmoid() if self.loss_type == "bce" else logits.softmax(dim=-1)


class HieraAVADetector(nn.Module):
    """Hiera video backbone + ``AVAROIHead``: video ``[B, C, T, H, W]`` and person boxes
    ``[N, 5]`` (batch index, x1, y1, x2, y2 in input pixels) -> logits ``[N, K]``.

    The last-stage tokens go through the backbone's final LayerNorm (per token) before
    pooling when ``norm_features`` (as PySlowFast's MViT does before its ROI head). The
    backbone's classification head is unused; with ``drop_backbone_head`` it is replaced
    by ``nn.Identity`` so every parameter gets a gradient (load Kinetics weights into the
    backbone before wrapping it).
    """

    def __init__(self, backbone: nn.Module, head: AVAROIHead, norm_features: bool = True,
                 drop_backbone_head: bool = True):
        super().__init__()
        for attr in ("forward_encoder", "reroll", "stage_grids", "input_size"):
            if not hasattr(backbone, attr):
                raise TypeError(f"backbone must be a hiera_video Hiera (missing {attr!r}), got {type(backbone).__name__}")
        if len(backbone.input_size) != 3:
            raise ValueError(f"AVA needs a video backbone (input_size (T, H, W)), got {backbone.input_size}")
        self.backbone, self.head, self.norm_features = backbone, head, norm_features
        if drop_backbone_head:
            backbone.head = nn.Identity()
        last = len(backbone.stage_grids) - 1
        stride = backbone.input_size[1] / backbone.stage_grids[last][1]
        if abs(head.spatial_scale * stride - 1) > 1e-6:
            raise ValueError(f"head spatial_scale {head.spatial_scale} does not match the backbone's last-stage "
                             f"stride {stride:g} px (use spatial_scale=1/{stride:g})")
        self.last_stage = last

    @torch.jit.ignore
    def no_weight_decay(self):
        return {"backbone." + n for n in self.backbone.no_weight_decay()}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False):
        """Layer-wise lr decay groups (timm): the backbone's stem, then its blocks; the final
        norm and the ROI head fall in the last group (full lr), as the classifier's head does."""
        return dict(stem=r"^backbone\.(?:pos_embed|patch_embed)", blocks=r"^backbone\.blocks\.(\d+)")

    def features(self, video: torch.Tensor) -> torch.Tensor:
        """Last-stage map in spatial order ``[B, T', H', W', C]``."""
        tokens, _ = self.backbone.forward_encoder(video)
        fmap = self.backbone.reroll(tokens, self.last_stage)
        return self.backbone.norm(fmap) if self.norm_features else fmap

    def forward(self, video: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(video), boxes)
