"""Named Hiera configurations, the release's checkpoints by name, and the timm-style ``create_model``."""
import difflib
import logging
from typing import Dict, List, NamedTuple, Optional, Union

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


class Checkpoint(NamedTuple):
    url: str
    sha256: Optional[str] = None  # the release publishes none; a known one is checked on download


# The public release's checkpoints: model name -> {tag: file}, the first tag the default (as
# in the release's factories: every image size, video from base up; finetuned files carry the
# classifier, mae_* files the encoder and decoder). tests/test_zoo_release.py checks this
# table against the installed release's factories.
_RELEASE = "https://dl.fbaipublicfiles.com/hiera/"
_VIDEO_SIZES = ("base", "base_plus", "large", "huge")
PRETRAINED: Dict[str, Dict[str, Checkpoint]] = {}
for _size in SIZES:
    PRETRAINED[f"hiera_{_size}_224"] = {"mae_in1k_ft_in1k": Checkpoint(f"{_RELEASE}hiera_{_size}_224.pth"),
                                        "mae_in1k": Checkpoint(f"{_RELEASE}mae_hiera_{_size}_224.pth")}
    PRETRAINED[f"mae_hiera_{_size}_224"] = {"mae_in1k": Checkpoint(f"{_RELEASE}mae_hiera_{_size}_224.pth")}
for _size in _VIDEO_SIZES:
    PRETRAINED[f"hiera_{_size}_16x224"] = {"mae_k400_ft_k400": Checkpoint(f"{_RELEASE}hiera_{_size}_16x224.pth"),
                                           "mae_k400": Checkpoint(f"{_RELEASE}mae_hiera_{_size}_16x224.pth")}
    PRETRAINED[f"mae_hiera_{_size}_16x224"] = {"mae_k400": Checkpoint(f"{_RELEASE}mae_hiera_{_size}_16x224.pth")}
TAGS = sorted({tag for tags in PRETRAINED.values() for tag in tags})


def list_pretrained(pattern: str = "*") -> List[str]:
    """``"model.tag"`` for every release checkpoint of a model matching ``pattern``, defaults first.

    ``print(table_of_pretrained())`` shows the same with URLs and cache paths."""
    import fnmatch

    return [f"{name}.{tag}" for name in sorted(PRETRAINED) if fnmatch.fnmatch(name, pattern)
            for tag in PRETRAINED[name]]


def table_of_pretrained(pattern: str = "*") -> str:
    """One line per checkpoint: model, tag (``*`` = the default), URL, where the cache keeps it."""
    from .hub import cache_path

    rows = []
    for entry in list_pretrained(pattern):
        name, tag = entry.split(".")
        url = PRETRAINED[name][tag].url
        default = "*" if tag == next(iter(PRETRAINED[name])) else " "
        rows.append(f"{name:26s} {tag + default:18s} {url}  ->  {cache_path(url)}")
    return "\n".join(rows)


def is_checkpoint_name(value) -> bool:
    """Whether ``pretrained``/``CHECKPOINT_FILE_PATH`` ``value`` names a release checkpoint
    (``True``, a tag, or ``model.tag``) rather than a file."""
    if value is True:
        return True
    return isinstance(value, str) and (value in TAGS or value in set(list_pretrained()))


def resolve_pretrained(name: Optional[str], pretrained, progress: bool = True) -> Optional[str]:
    """``pretrained`` -> a checkpoint path, or None for no weights.

    ``True``: the release's default checkpoint of model ``name``; a tag (``"mae_k400"``) or
    ``"model.tag"``: that checkpoint, from torch.hub's cache (downloaded if missing, see
    ``models.hub``); any other string: a path or iopath URI, returned as is.
    """
    from .hub import cached_checkpoint

    if pretrained is None or pretrained is False or pretrained == "":
        return None
    if not is_checkpoint_name(pretrained):
        if not isinstance(pretrained, str):
            raise TypeError(f"pretrained must be True, a checkpoint tag or a path, got {pretrained!r}")
        return pretrained
    if isinstance(pretrained, str) and "." in pretrained:
        name, tag = pretrained.split(".")
    else:
        tags = PRETRAINED.get(name or "", {})
        if not tags:
            raise ValueError(f"'{name}' has no release checkpoint (pretrained={pretrained!r}); models with one: "
                             f"{', '.join(sorted(PRETRAINED))}. Give a checkpoint file instead.")
        tag = next(iter(tags)) if pretrained is True else pretrained
        if tag not in tags:
            raise ValueError(f"'{name}' has no release checkpoint '{tag}'; its checkpoints: {', '.join(tags)}")
    ckpt = PRETRAINED[name][tag]
    return cached_checkpoint(ckpt.url, ckpt.sha256, progress)


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


def create_model(name: str, pretrained: Union[bool, str, None] = None, **overrides) -> nn.Module:
    """Build a named Hiera, optionally loading an official-format checkpoint.

    Args:
        name: one of ``list_models()``, e.g. ``"hiera_base_16x224"``; ``mae_*`` names build
            the sparse MAE (``models.mae``) instead of a classifier.
        pretrained: ``True`` for the release's default checkpoint of ``name``, a release tag
            (``"mae_k400_ft_k400"``, ``"mae_k400"``, ``"mae_in1k_ft_in1k"``, ``"mae_in1k"``:
            ``list_pretrained()``), or a local path / iopath URI of a
            ``{"model_state": state_dict}`` file (the release's format or this project's).
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
    path = resolve_pretrained(name, pretrained)  # before building: a bad tag fails fast
    model = Hiera(**kwargs)
    model.model_name = name  # lets CHECKPOINT_FILE_PATH tags resolve against this model later
    if path:
        from .pretrained import load_pretrained

        load_pretrained(model, path)
    return model
