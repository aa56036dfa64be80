"""Putting a checkpoint's weights into a model: the parts a caller keeps, position embeddings
resized to the model's token grid, and every key checked.

``checkpoints.read_checkpoint`` reads any source; ``load_weights`` takes what a caller says it
keeps. The callers' choices, one line each:

    classifier, before training   load_weights(m, src, drop=MAE_ONLY, fresh=CLASSIFIER_ONLY, head="reinit")
    classifier, to test           load_weights(m, src, drop=MAE_ONLY, head="require")
    MAE, before training          load_weights(m, src, drop=CLASSIFIER_ONLY, fresh=MAE_ONLY)
    MAE, to test                  load_weights(m, src, drop=CLASSIFIER_ONLY)
    detection backbone            load_weights(m.backbone, src, drop=MAE_ONLY + ("head.",), fresh=("norm.",))
    detector, to test             load_weights(m, src)

Anything missing, unexpected or of another shape is named in one ValueError: nothing is
silently skipped.
"""
import logging
import math
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from hiera_video.errors import BadCheckpoint

from .checkpoints import Checkpoint, read_checkpoint

logger = logging.getLogger(__name__)

MAE_ONLY = ("decoder_", "mask_token", "multi_scale_fusion_heads", "encoder_norm")
CLASSIFIER_ONLY = ("head.", "norm.")


def load_weights(model: nn.Module, source: Union[str, Checkpoint], drop: Sequence[str] = (), fresh: Sequence[str] = (),
                 head: Optional[str] = None, hint: str = "") -> Checkpoint:
    """Load ``source`` (a file, Hub folder or ``hf-hub:`` id, or what ``read_checkpoint`` read from
    one) into ``model``; returns what was read.

    ``drop``: key prefixes of the file the model does not use (logged when present).
    ``fresh``: model key prefixes that stay as initialised when the file lacks them (logged).
    ``head``: ``"reinit"``: a ``head.*`` of another class count is dropped and starts fresh
    (logged); ``"require"``: the file must hold a head of the model's class count.
    """
    ckpt = source if isinstance(source, Checkpoint) else read_checkpoint(source)
    source = ckpt.path
    state = dict(ckpt.state_dict)
    dropped = sorted({k.split(".")[0] for k in state if k.startswith(tuple(drop))})
    if dropped:
        mae = any(k.startswith(MAE_ONLY) for k in state)
        logger.info("%s: %s checkpoint; ignoring its %s parts %s", source, "MAE" if mae else "classifier",
                    "MAE-only" if mae else "unused", dropped)
        state = {k: v for k, v in state.items() if not k.startswith(tuple(drop))}
    if head is not None:
        state, fresh = _fit_head(model, state, source, head, fresh)
    adapt_pos_embed(state, model)
    missing_fresh = sorted({k.split(".")[0] for k in model.state_dict() if k.startswith(tuple(fresh)) and k not in state})
    load_state_dict_checked(model, state, source, fresh=fresh, hint=hint)
    if missing_fresh and set(fresh) & set(MAE_ONLY):
        logger.warning("%s: classifier checkpoint: encoder loaded, decoder initialised fresh %s", source, missing_fresh)
    return ckpt


def _fit_head(model, state, source, head, fresh) -> Tuple[Dict[str, torch.Tensor], Sequence[str]]:
    own = model.state_dict()["head.projection.weight"].shape[0]
    found = state.get("head.projection.weight")
    if head == "require":
        if found is None or found.shape[0] != own:
            what = "no classification head" if found is None else f"a head of {found.shape[0]} classes"
            raise BadCheckpoint(f"{source} has {what}, the model expects {own} (MODEL.NUM_CLASSES); test a finetuned "
                             "checkpoint of the same class count")
        return state, fresh
    if found is not None and found.shape[0] != own:
        logger.info("%s: checkpoint head has %d classes, model has %d; head re-initialised", source, found.shape[0], own)
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
    return state, tuple(fresh) + ("head.",)


def load_state_dict_checked(model: nn.Module, state: Dict[str, torch.Tensor], source: str,
                            fresh: Sequence[str] = (), hint: str = "") -> None:
    """Load ``state`` into ``model``, or raise a ValueError naming every key that does not fit.

    ``fresh``: key prefixes the model may keep as initialised when ``state`` lacks them.
    ``source`` names the file in messages, ``hint`` says what a mismatch usually means.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                  for k in state if k in own and state[k].shape != own[k].shape]
    kept = [k for k in missing if k.startswith(tuple(fresh))]
    missing = [k for k in missing if k not in kept]
    if missing or unexpected or mismatched:
        parts = [f"{what} {len(keys)}: {keys[:10]}" for what, keys in
                 (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)) if keys]
        raise BadCheckpoint(f"{source} does not fit this model ({type(model).__name__}{f'; {hint}' if hint else ''}): "
                         + "; ".join(parts))
    if kept:
        logger.info("%s: initialised fresh (not in checkpoint): %s", source, kept)
    model.load_state_dict(state, strict=not kept)


def _interpolate_spatial(pe: torch.Tensor, new_hw: Tuple[int, int]) -> torch.Tensor:
    """``[1, h*w, C]`` (square grid) -> ``[1, H*W, C]`` by bicubic interpolation."""
    n, c = pe.shape[1], pe.shape[2]
    side = int(round(math.sqrt(n)))
    if side * side != n:
        raise ValueError(f"cannot interpolate a spatial position embedding of {n} tokens (not a square grid)")
    grid = pe.reshape(1, side, side, c).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=new_hw, mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(1, new_hw[0] * new_hw[1], c).to(pe.dtype)


def _interpolate_temporal(pe: torch.Tensor, new_t: int) -> torch.Tensor:
    """``[1, t, C]`` -> ``[1, T, C]`` by linear interpolation."""
    out = F.interpolate(pe.transpose(1, 2).float(), size=new_t, mode="linear", align_corners=False)
    return out.transpose(1, 2).to(pe.dtype)


def adapt_pos_embed(state: Dict[str, torch.Tensor], model: nn.Module) -> None:
    """Resize position embeddings in ``state`` to the model's token grid (in place)."""
    grid = getattr(model, "tokens_spatial_shape", None)
    for key in ("pos_embed", "pos_embed_spatial", "pos_embed_temporal"):
        if grid is None or key not in state or not hasattr(model, key):
            continue
        want = getattr(model, key).shape
        if state[key].shape == want:
            continue
        if key == "pos_embed_temporal":
            state[key] = _interpolate_temporal(state[key], grid[0])
        else:
            state[key] = _interpolate_spatial(state[key], tuple(grid[-2:]))
        logger.info("interpolated %s to %s for input_size %s", key, tuple(want), model.input_size)
