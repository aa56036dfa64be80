"""Loading official-release and project checkpoint files into a Hiera classifier or MAE.

Official files are ``{"model_state": state_dict}``; MAE files add decoder keys
(``decoder_*``, ``mask_token``, ``multi_scale_fusion_heads``, ``encoder_norm``). Anything
that does not fit is named in the error: nothing is silently skipped. The loaders take
files: a release tag (``"mae_k400"``) is resolved by the caller (``zoo.resolve_pretrained``).
"""
import logging
import math
import os
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from iopath.common.file_io import g_pathmgr

from .state_dict import load_state_dict_checked

logger = logging.getLogger(__name__)

MAE_ONLY_PREFIXES = ("decoder_", "mask_token", "multi_scale_fusion_heads", "encoder_norm")
HEAD_PREFIXES = ("head.",)


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Read the model weights of a checkpoint file (official or this project's)."""
    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with g_pathmgr.open(path, "rb") as f:
            ckpt = torch.load(f, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise ValueError(f"{path} is not a PyTorch checkpoint ({type(e).__name__}: {e}); "
                         "expected a file saved with torch.save({'model_state': state_dict})") from e
    state = ckpt
    if isinstance(ckpt, dict):
        for key in ("model_state", "model", "state_dict"):
            if key in ckpt and isinstance(ckpt[key], dict):
                state = ckpt[key]
                break
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{path} holds no state dict; expected {{'model_state': {{name: tensor}}}}")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}


def stored_class_names(path: str) -> Optional[List[str]]:
    """The "class_names" this project's runs store in their checkpoints (class-folder datasets do),
    or None: for release files, tags, URIs, or a file that cannot be read (its loader says why)."""
    if not path or "://" in path or not os.path.isfile(path):
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except (RuntimeError, OSError, ValueError):  # not a zip checkpoint
        return None
    names = state.get("class_names") if isinstance(state, dict) else None
    return list(names) if names else None


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


def adapt_pos_embed(state: Dict[str, torch.Tensor], model) -> None:
    """Resize position embeddings in ``state`` to the model's token grid (in place)."""
    grid = model.tokens_spatial_shape
    for key, target in (("pos_embed", None), ("pos_embed_spatial", None), ("pos_embed_temporal", None)):
        if key not in state or not hasattr(model, key):
            continue
        want = getattr(model, key).shape
        if state[key].shape == want:
            continue
        if key == "pos_embed_temporal":
            state[key] = _interpolate_temporal(state[key], grid[0])
        else:
            state[key] = _interpolate_spatial(state[key], tuple(grid[-2:]))
        logger.info("interpolated %s to %s for input_size %s", key, tuple(want), model.input_size)


def load_pretrained(model, path: str) -> None:
    """Load the file ``path`` into the Hiera classifier ``model`` (callers resolve a release
    tag such as ``"mae_k400_ft_k400"`` to its cached file first: ``zoo.resolve_pretrained``).

    MAE decoder keys are dropped and the head is re-initialised when the class count
    differs, each with a logged message. Any other missing, unexpected or mis-shaped key
    raises a ValueError that lists them.
    """
    state = read_state_dict(path)
    dropped = sorted({k.split(".")[0] for k in state if k.startswith(MAE_ONLY_PREFIXES)})
    if dropped:
        logger.info("%s: MAE checkpoint; ignoring its MAE-only parts (decoder, fusion, mask token) %s", path, dropped)
        state = {k: v for k, v in state.items() if not k.startswith(MAE_ONLY_PREFIXES)}
    own = model.state_dict()
    head_w = state.get("head.projection.weight")
    if head_w is not None and head_w.shape != own["head.projection.weight"].shape:
        logger.info("%s: checkpoint head has %d classes, model has %d; head re-initialised",
                    path, head_w.shape[0], own["head.projection.weight"].shape[0])
        state = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIXES)}
    adapt_pos_embed(state, model)

    # A head or final norm absent from the checkpoint (MAE encoder, or head dropped above)
    # is expected: those start fresh.
    load_state_dict_checked(model, state, path, fresh=HEAD_PREFIXES + ("norm.",),
                            hint="is it another Hiera size or an image/video mismatch?")


def load_mae_pretrained(model, path: str, require_decoder: bool = False) -> None:
    """Load the file ``path`` into the MAE ``model``. An MAE checkpoint must fit it exactly; a
    classifier checkpoint fills the encoder only and leaves the decoder fresh (logged), or is an
    error with ``require_decoder``. Any key that does not fit is named in a ValueError."""
    state = read_state_dict(path)
    own = model.state_dict()
    if not any(k.startswith(MAE_ONLY_PREFIXES) for k in state):
        if require_decoder:
            raise ValueError(f"{path} has no MAE decoder (a classifier checkpoint?); an MAE checkpoint is needed")
        classifier_only = HEAD_PREFIXES + ("norm.",)
        dropped = sorted({k.split(".")[0] for k in state if k.startswith(classifier_only)})
        state = {k: v for k, v in state.items() if not k.startswith(classifier_only)}
        fresh = sorted({k.split(".")[0] for k in own if k.startswith(MAE_ONLY_PREFIXES)})
        logger.warning("%s: classifier checkpoint: encoder loaded, dropped %s, decoder initialised fresh %s",
                       path, dropped, fresh)
        state.update({k: v for k, v in own.items() if k.startswith(MAE_ONLY_PREFIXES)})
    adapt_pos_embed(state, model)
    load_state_dict_checked(model, state, path, hint="another size, image/video, decoder width or target?")
