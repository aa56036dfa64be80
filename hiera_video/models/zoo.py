"""The one name table: image, video and MAE models by name, the release's checkpoints by name and
tag, and the timm-style ``create_model`` / ``list_models``.

A name maps to constructor arguments and a builder in ``registry.MODELS`` (``Hiera``,
``MaskedAutoencoderHiera``: each model module registers its class), so this table sits below
the model modules and they may use it.
"""
import difflib
import fnmatch
import logging
import os
from typing import Dict, List, NamedTuple, Optional, Union

import torch.nn as nn

from hiera_video.registry import MODELS

from . import hf_format
from .checkpoints import read_checkpoint
from .hub import cache_path, cached_checkpoint
from .weights import CLASSIFIER_ONLY, MAE_ONLY, load_weights

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


def _mae_config(classifier: dict) -> dict:
    cfg = {k: v for k, v in classifier.items() if k != "num_classes"}
    video = len(cfg["input_size"]) == 3
    # A name builds the release's architecture, so its weights give the release's outputs:
    # decoder 512 wide, 8 blocks, 16 heads for image and video alike. (Paper table 11a gives
    # the video decoder 8 heads; a checkpoint cannot tell, so the recipe in configs/MAE sets
    # HIERA.DECODER_NUM_HEADS 8 itself.) Mask ratio: the paper's 0.9 for video, 0.6 for images.
    cfg.update(q_pool=2, decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16,
               mask_ratio=0.9 if video else 0.6, target="pixel", norm_pix_loss=True)
    return cfg


# name -> constructor arguments: hiera_{size}_224, hiera_{size}_16x224 and their mae_ twins.
MODEL_CONFIGS: Dict[str, dict] = {}
for _size, _arch in SIZES.items():
    for _name, _base in ((f"hiera_{_size}_224", IMAGE), (f"hiera_{_size}_16x224", VIDEO)):
        MODEL_CONFIGS[_name] = {**_base, **_arch}
        MODEL_CONFIGS[f"mae_{_name}"] = _mae_config(MODEL_CONFIGS[_name])


def _builder_name(name: str) -> str:
    """The ``registry.MODELS`` entry that builds model ``name``."""
    return "MaskedAutoencoderHiera" if name.startswith("mae_") else "Hiera"


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
CLASSIFIER_HINT = "is it another Hiera size or an image/video mismatch?"
MAE_HINT = "another size, image/video, decoder width or target?"
TAGS = sorted({tag for tags in PRETRAINED.values() for tag in tags})


def list_pretrained(pattern: str = "*") -> List[str]:
    """``"model.tag"`` for every release checkpoint of a model matching ``pattern``, defaults first.

    ``print(table_of_pretrained())`` shows the same with URLs and cache paths."""
    return [f"{name}.{tag}" for name in sorted(PRETRAINED) if fnmatch.fnmatch(name, pattern)
            for tag in PRETRAINED[name]]


def table_of_pretrained(pattern: str = "*") -> str:
    """One line per checkpoint: model, tag (``*`` = the default), URL, where the cache keeps it."""
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


def list_models(pattern: str = "*", pretrained: bool = False) -> List[str]:
    """Names accepted by ``create_model`` matching fnmatch ``pattern``: classifiers and ``mae_*``
    pretraining models; with ``pretrained``, their release checkpoints as ``"model.tag"``
    (``list_pretrained``), as in timm."""
    if pretrained:
        return list_pretrained(pattern)
    return sorted(n for n in MODEL_CONFIGS if fnmatch.fnmatch(n, pattern))


def model_config(name: str) -> dict:
    """Constructor arguments of a named model; unknown names list the valid ones."""
    if name not in MODEL_CONFIGS:
        close = difflib.get_close_matches(name, MODEL_CONFIGS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model '{name}'.{hint} Valid names: {', '.join(list_models())}")
    return dict(MODEL_CONFIGS[name])


def warn_if_not_release_heads(model: nn.Module, pretrained) -> None:
    """Warn when a release MAE checkpoint goes into a decoder with other head counts: heads leave
    no trace in the weights, so it loads, but the outputs are not the release's."""
    release = MODEL_CONFIGS.get(getattr(model, "model_name", None), {}).get("decoder_num_heads")
    if release is None or not is_checkpoint_name(pretrained) or not model.decoder_blocks:
        return
    heads = model.decoder_blocks[0].attn.heads
    if heads != release:
        logger.warning("release checkpoint %s was trained with %d decoder heads, this model has %d "
                       "(decoder_num_heads / HIERA.DECODER_NUM_HEADS): its outputs will differ from the "
                       "release's", pretrained, release, heads)


def create_model(name: str, pretrained: Union[bool, str, None] = None, **overrides) -> nn.Module:
    """Build a named Hiera classifier or, for ``mae_*`` names, the sparse MAE (``models.mae``),
    optionally loading weights; or the model a Hub id or a Hub-format folder holds.

    Args:
        name: one of ``list_models()``, e.g. ``"hiera_base_16x224"``, ``"mae_hiera_base_16x224"``;
            or ``"hf-hub:owner/repo"`` (e.g. ``"hf-hub:facebook/hiera_base_16x224.mae_k400_ft_k400"``,
            timm's spelling) or a folder written by ``save_pretrained`` / ``hiera-export --format hf``:
            the architecture comes from its ``config.json``, the weights from its ``model.safetensors``.
        pretrained: ``True`` for the release's default checkpoint of ``name``, a release tag
            (``"mae_k400_ft_k400"``, ``"mae_k400"``, ``"mae_in1k_ft_in1k"``, ``"mae_in1k"``:
            ``list_pretrained()``), or any source ``checkpoints.read_checkpoint`` reads: a
            ``.pth``/``.pyth`` file (the release's format or this project's), a ``.safetensors``
            file, a Hub folder or an ``hf-hub:`` id. Files are read as data only. An MAE loads an
            MAE file strictly, a classifier file into its encoder (decoder fresh).
        overrides: any constructor argument, e.g. ``num_classes``, ``input_size``,
            ``drop_path_rate``, ``head_dropout``, ``in_chans``, ``act_checkpoint``; for MAE
            names also ``decoder_depth``, ``decoder_num_heads``, ``mask_ratio``, ``target`` ...
    """
    if is_model_source(name):
        return _create_from_source(name, pretrained, **overrides)
    kwargs = {**model_config(name), **overrides}
    kwargs["input_size"] = tuple(kwargs["input_size"])
    path = resolve_pretrained(name, pretrained)  # before building: a bad tag or missing file fails fast
    model = MODELS.get(_builder_name(name))(**kwargs)
    model.model_name = name  # lets CHECKPOINT_FILE_PATH tags resolve against this model later
    model.model_args = kwargs  # what save_pretrained records
    if path and name.startswith("mae_"):
        warn_if_not_release_heads(model, pretrained)
        load_weights(model, path, drop=CLASSIFIER_ONLY, fresh=MAE_ONLY, hint=MAE_HINT)
    elif path:
        load_weights(model, path, drop=MAE_ONLY, fresh=CLASSIFIER_ONLY, head="reinit", hint=CLASSIFIER_HINT)
    return model


def is_model_source(name) -> bool:
    """Whether ``create_model``'s ``name`` is a Hub id or a Hub-format folder rather than a name."""
    return hf_format.is_hub_id(name) or (isinstance(name, str) and os.path.isdir(name)
                                          and os.path.isfile(os.path.join(name, hf_format.WEIGHTS_FILE)))


_MAE_ONLY_ARGS = ("decoder_embed_dim", "decoder_depth", "decoder_num_heads", "mask_ratio", "target", "norm_pix_loss",
                  "sparse_embed", "q_pool")


def _create_from_source(source: str, pretrained, **overrides) -> nn.Module:
    """The model of a Hub id or folder, with its weights (``pretrained=False`` leaves them out).

    This project's folders name their model. The release's ``config.json`` holds the reference
    constructor's non-default arguments (ours has the same defaults, so they build the same
    architecture) and no name: the repo's (``facebook/<name>.<tag>``) is used, as the release's
    factories do: ``hiera_base_224.mae_in1k`` is a classifier initialised from MAE weights,
    ``mae_hiera_*`` an MAE. An unknown name builds what the weights are (decoder -> MAE)."""
    ckpt = read_checkpoint(source)
    name, args = hf_format.model_from_config(ckpt.meta.get("config", {}), ckpt.state_dict)
    if name in (None, "mae"):
        repo = hf_format.split_hub_id(source)[0] if hf_format.is_hub_id(source) else os.path.basename(source.rstrip("/"))
        guess = repo.split("/")[-1].split(".")[0]
        mae = guess.startswith("mae_") if guess in MODEL_CONFIGS else name == "mae"
        name = guess if guess in MODEL_CONFIGS else None
        if not mae:  # an MAE's config into a classifier: its q_pool and decoder arguments do not apply
            args = {k: v for k, v in args.items() if k not in _MAE_ONLY_ARGS}
        builder = "MaskedAutoencoderHiera" if mae else "Hiera"
    else:
        builder = _builder_name(name)
    args = {**args, **overrides}
    model = MODELS.get(builder)(**args)
    model.model_name, model.model_args = name, args
    if pretrained is not False:
        if builder == "MaskedAutoencoderHiera":
            load_weights(model, ckpt, drop=CLASSIFIER_ONLY, fresh=MAE_ONLY, hint=MAE_HINT)
        else:
            load_weights(model, ckpt, drop=MAE_ONLY, fresh=CLASSIFIER_ONLY, head="reinit", hint=CLASSIFIER_HINT)
    model.class_names = ckpt.class_names
    return model
