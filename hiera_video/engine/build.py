"""Config -> model: ``build_model(cfg)`` and loading weights for training or testing."""
import logging

import torch.nn as nn
from iopath.common.file_io import g_pathmgr

import hiera_video
from hiera_video.errors import ConfigError
from hiera_video.models.hf_format import is_hub_id
from hiera_video.models.weights import CLASSIFIER_ONLY, MAE_ONLY, load_weights
from hiera_video.models.zoo import is_checkpoint_name, model_config, resolve_pretrained

logger = logging.getLogger(__name__)

# HIERA.* key -> create_model kwarg; empty list / negative number = keep the named config.
_SCALARS = {"EMBED_DIM": "embed_dim", "NUM_HEADS": "num_heads", "Q_POOL": "q_pool", "MLP_RATIO": "mlp_ratio"}
_LISTS = {"STAGES": "stages", "Q_STRIDE": "q_stride", "MASK_UNIT_SIZE": "mask_unit_size",
          "MASK_UNIT_ATTN": "mask_unit_attn", "PATCH_KERNEL": "patch_kernel", "PATCH_STRIDE": "patch_stride",
          "PATCH_PADDING": "patch_padding"}


def model_kwargs(cfg, for_test: bool = False) -> dict:
    """``create_model`` overrides from MODEL.*, HIERA.* and the clip shape in DATA.*.

    Video names get ``input_size=(DATA.NUM_FRAMES, crop, crop)``, image names ``(crop, crop)``;
    crop is DATA.TEST_CROP_SIZE for a test-only model, else DATA.TRAIN_CROP_SIZE.
    """
    try:
        base = model_config(cfg.MODEL.MODEL_NAME)
    except ValueError as e:
        raise ConfigError(f"MODEL.MODEL_NAME: {e}") from None
    crop = cfg.DATA.TEST_CROP_SIZE if for_test else cfg.DATA.TRAIN_CROP_SIZE
    video = len(base["input_size"]) == 3
    kw = dict(
        num_classes=cfg.MODEL.NUM_CLASSES,
        input_size=(cfg.DATA.NUM_FRAMES, crop, crop) if video else (crop, crop),
        in_chans=cfg.DATA.INPUT_CHANNEL_NUM[0],
        drop_path_rate=cfg.HIERA.DROP_PATH_RATE,
        head_dropout=cfg.MODEL.DROPOUT_RATE,
        act_checkpoint=cfg.HIERA.ACT_CHECKPOINT,
    )
    for key, arg in _SCALARS.items():
        if cfg.HIERA[key] >= 0:
            kw[arg] = cfg.HIERA[key]
    for key, arg in _LISTS.items():
        if len(cfg.HIERA[key]) > 0:
            kw[arg] = tuple(cfg.HIERA[key])
    return kw


def build_model(cfg, for_test: bool = False) -> nn.Module:
    """``hiera_video.create_model(MODEL.MODEL_NAME, **model_kwargs(cfg))``; bad shapes name the keys."""
    kw = model_kwargs(cfg, for_test)
    try:
        return hiera_video.create_model(cfg.MODEL.MODEL_NAME, **kw)
    except ValueError as e:
        raise ConfigError(f"cannot build {cfg.MODEL.MODEL_NAME} from MODEL.*/HIERA.*/DATA.* ({e})") from None


def checkpoint_path(model: nn.Module, path: str) -> str:
    """TRAIN/TEST.CHECKPOINT_FILE_PATH -> a source ``load_weights`` reads: a release tag (``mae_k400``,
    ``mae_k400_ft_k400``, or ``model.tag``) of the config's model is fetched into torch.hub's cache
    (see ``models.hub``: offline, a missing file is an error naming the URL and where to put it);
    a path, iopath URI, Hub folder or ``hf-hub:`` id is returned unchanged."""
    return resolve_pretrained(getattr(model, "model_name", None), path)


def checkpoint_exists(path: str) -> bool:
    """For checks before loading: a release checkpoint name or a Hub id counts as present (it is
    resolved, or fails with its own message, when loaded)."""
    return is_checkpoint_name(path) or is_hub_id(path) or g_pathmgr.exists(path)


def load_train_init(model: nn.Module, path: str) -> None:
    """Initialise a classifier from any checkpoint source or a release tag: MAE decoder dropped,
    head re-initialised when the class count differs, position embeddings resized."""
    path = checkpoint_path(model, path)
    logger.info("initialising from %s", path)
    load_weights(model, path, drop=MAE_ONLY, fresh=CLASSIFIER_ONLY, head="reinit",
                 hint="is it another Hiera size or an image/video mismatch?")


def load_test_weights(model: nn.Module, path: str) -> None:
    """Weights to test: like ``load_train_init`` but the head must have the model's class count."""
    path = checkpoint_path(model, path)
    load_weights(model, path, drop=MAE_ONLY, head="require", hint="built from the config")
    logger.info("testing weights from %s", path)
