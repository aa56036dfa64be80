"""Named Hiera configurations and the timm-style ``create_model`` entry point."""
import difflib
import logging
from typing import Dict, List, Optional

import torch.nn as nn

from .hiera import Hiera

logger = logging.getLogger(__name__)

# Paper table 2: channels of stage 1, heads of stage 1, blocks per stage.
SIZES = {
    "tiny": dict(embed_dim=96, num_heads=1, stages=(1, 2, 7, 2)),
    "small": dict(embed_dim=96, num_heads=1, stages=(1, 2, 11, 2)),
    "base": dict(embed_dim=96, num_heads=1, stages=(2, 3, 16, 3)),
    "base_plus": dict(embed_dim=112, num_heads=2, stages=(2, 3, 16, 3)),
    "large": dict(embed_dim=144, num_heads=2, stages=(2, 6, 36, 4)),
    "huge": dict(embed_dim=256, num_heads=4, stages=(2, 6, 36, 4)),
}

IMAGE = dict(input_size=(224, 224), num_classes=1000)
# Appendix A: 2-frame tokens, 2x32x32-pixel mask units, separable position embeddings.
VIDEO = dict(
    input_size=(16, 224, 224), num_classes=400, q_stride=(1, 2, 2), mask_unit_size=(1, 8, 8),
    patch_kernel=(3, 7, 7), patch_stride=(2, 4, 4), patch_padding=(1, 3, 3), sep_pos_embed=True,
)

MODEL_CONFIGS: Dict[str, dict] = {}
for _size, _arch in SIZES.items():
    MODEL_CONFIGS[f"hiera_{_size}_224"] = {**IMAGE, **_arch}
    MODEL_CONFIGS[f"hiera_{_size}_16x224"] = {**VIDEO, **_arch}


def _all_configs() -> Dict[str, dict]:
    from .mae import MAE_CONFIGS  # mae.py builds on this module: import late

    return {**MODEL_CONFIGS, **MAE_CONFIGS}


def list_models(pattern: str = "*") -> List[str]:
    """Names accepted by ``create_model`` (fnmatch ``pattern``): classifiers and ``mae_*`` pretraining models."""
    import fnmatch

    return sorted(n for n in _all_configs() if fnmatch.fnmatch(n, pattern))


def model_config(name: str) -> dict:
    """Constructor arguments of a named model; unknown names list the valid ones."""
    configs = _all_configs()
    if name not in configs:
        close = difflib.get_close_matches(name, configs, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model '{name}'.{hint} Valid names: {', '.join(list_models())}")
    return dict(configs[name])


def create_model(name: str, pretrained: Optional[str] = None, **overrides) -> nn.Module:
    """Build a named Hiera, optionally loading an official-format checkpoint.

    Args:
        name: one of ``list_models()``, e.g. ``"hiera_base_16x224"``.
        name: ``mae_*`` names build the sparse MAE (``models.mae``) instead of a classifier.
        pretrained: local path or iopath URI of a ``{"model_state": state_dict}`` file
            (the public release's format, or this project's checkpoints).
        overrides: any ``Hiera`` argument, e.g. ``num_classes``, ``input_size``,
            ``drop_path_rate``, ``head_dropout``, ``in_chans``, ``act_checkpoint``.
    """
    if name.startswith("mae_"):
        from .mae import create_mae_model

        return create_mae_model(name, pretrained=pretrained, **overrides)
    kwargs = model_config(name)
    kwargs.update(overrides)
    if "input_size" in kwargs:
        kwargs["input_size"] = tuple(kwargs["input_size"])
    model = Hiera(**kwargs)
    if pretrained:
        from .pretrained import load_pretrained

        load_pretrained(model, pretrained)
    return model
