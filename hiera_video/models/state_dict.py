"""The one place a state dict is checked against a model before it is loaded.

Every loader (release weights, MAE weights, train init, test weights, detection) reads its
file, drops or adapts what it means to, then calls ``load_state_dict_checked``: any key
missing from the file, unexpected in it, or of another shape is named in one ValueError.
"""
import logging
from typing import Dict, Sequence

import torch
import torch.nn as nn

logger = logging.getLogger(__name__)


def load_state_dict_checked(model: nn.Module, state: Dict[str, torch.Tensor], source: str,
                            fresh: Sequence[str] = (), hint: str = "") -> None:
    """Load ``state`` into ``model``, or raise a ValueError naming every key that does not fit.

    ``fresh``: key prefixes the model may keep as initialised when the file lacks them (a head
    after an MAE encoder); logged, not an error. ``source`` names the file in messages and
    ``hint`` says what a mismatch usually means.
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
        raise ValueError(f"{source} does not fit this model ({type(model).__name__}{f'; {hint}' if hint else ''}): "
                         + "; ".join(parts))
    if kept:
        logger.info("%s: initialised fresh (not in checkpoint): %s", source, kept)
    model.load_state_dict(state, strict=not kept)
