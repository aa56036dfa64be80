"""Optimizer (AdamW / SGD with layer-wise lr decay) and the per-update warmup + cosine schedule."""
import logging

import torch
import torch.nn as nn
from timm.optim import param_groups_layer_decay
from timm.scheduler import CosineLRScheduler

logger = logging.getLogger(__name__)


def scaled_lr(cfg) -> float:
    """SOLVER.BASE_LR scaled linearly from SOLVER.BASE_BATCH_SIZE to the batch per update
    (TRAIN.BATCH_SIZE, global, x TRAIN.GRAD_ACCUM_STEPS)."""
    return cfg.SOLVER.BASE_LR * cfg.TRAIN.BATCH_SIZE * cfg.TRAIN.GRAD_ACCUM_STEPS / cfg.SOLVER.BASE_BATCH_SIZE


def param_groups(cfg, model: nn.Module):
    """timm parameter groups: per-layer ``lr_scale`` (SOLVER.LAYER_DECAY, stem first, head last)
    and no weight decay on 1-D parameters (norms, biases) and ``model.no_weight_decay()``
    (position embeddings) when SOLVER.ZERO_WD_1D_PARAM."""
    s = cfg.SOLVER
    skip = set(model.no_weight_decay()) if s.ZERO_WD_1D_PARAM and hasattr(model, "no_weight_decay") else set()
    if hasattr(model, "group_matcher"):
        return param_groups_layer_decay(model, weight_decay=s.WEIGHT_DECAY, no_weight_decay_list=skip,
                                        weight_decay_exclude_1d=s.ZERO_WD_1D_PARAM, layer_decay=s.LAYER_DECAY)
    if s.LAYER_DECAY < 1:
        raise ValueError(f"SOLVER.LAYER_DECAY={s.LAYER_DECAY} needs a model with group_matcher(); "
                         f"{type(model).__name__} has none (set SOLVER.LAYER_DECAY 1.0)")
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if s.ZERO_WD_1D_PARAM and (p.ndim <= 1 or name in skip) else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": s.WEIGHT_DECAY}]


def build_optimizer(cfg, model: nn.Module) -> torch.optim.Optimizer:
    s = cfg.SOLVER
    groups = param_groups(cfg, model)
    lr = scaled_lr(cfg)
    if s.OPTIMIZING_METHOD == "adamw":
        opt = torch.optim.AdamW(groups, lr=lr, betas=tuple(s.BETAS), weight_decay=s.WEIGHT_DECAY)
    else:
        opt = torch.optim.SGD(groups, lr=lr, momentum=s.MOMENTUM, nesterov=s.NESTEROV, weight_decay=s.WEIGHT_DECAY)
    logger.info("%s: lr %.3g (SOLVER.BASE_LR %.3g x batch %d / %d), %d parameter groups", s.OPTIMIZING_METHOD,
                lr, s.BASE_LR, cfg.TRAIN.BATCH_SIZE * cfg.TRAIN.GRAD_ACCUM_STEPS, s.BASE_BATCH_SIZE, len(groups))
    return opt


def build_scheduler(cfg, optimizer: torch.optim.Optimizer, updates_per_epoch: int) -> CosineLRScheduler:
    """Linear warmup over SOLVER.WARMUP_EPOCHS from SOLVER.WARMUP_START_LR, then cosine to
    SOLVER.COSINE_END_LR at SOLVER.MAX_EPOCH; stepped per optimizer update with
    ``step_update(num_updates)``. Each group's lr is multiplied by its ``lr_scale``."""
    s = cfg.SOLVER
    total = s.MAX_EPOCH * updates_per_epoch
    warmup = int(round(s.WARMUP_EPOCHS * updates_per_epoch))
    return CosineLRScheduler(optimizer, t_initial=max(1, total - warmup), lr_min=s.COSINE_END_LR,
                             warmup_t=warmup, warmup_lr_init=s.WARMUP_START_LR, warmup_prefix=True,
                             t_in_epochs=False)
