"""What one checkpoint lets the app do, loaded the way the tools load it.

* a classifier (top-5, timeline): ``engine.demo_model.load_classifier``, as ``hiera-demo``;
* an encoder (features): that classifier, or else ``engine.build.load_train_init``, as ``hiera-extract``
  (an MAE checkpoint gives its encoder);
* an MAE with its decoder (reconstruction picture): ``inference.mae_reconstruction.load_mae``, as
  ``hiera-visualize-mae --cfg``.

Whatever a checkpoint cannot do is kept as the loader's own error message, shown in its tab.
"""
import logging
from dataclasses import dataclass
from typing import List, Optional

import torch
import torch.nn as nn

from hiera_video.engine.build import build_model, checkpoint_path, load_train_init
from hiera_video.engine.demo_model import load_classifier
from hiera_video.errors import ConfigError, UnsafeCheckpointError
from hiera_video.inference.mae_reconstruction import PictureSettings, load_mae
from hiera_video.inference.precision import for_inference

logger = logging.getLogger(__name__)
LOAD_ERRORS = (ValueError, ConfigError, FileNotFoundError, RuntimeError, KeyError)


@dataclass
class AppModels:
    cfg: object
    checkpoint: str
    classifier: Optional[nn.Module] = None
    names: Optional[List[str]] = None
    classifier_error: str = ""
    encoder: Optional[nn.Module] = None
    encoder_error: str = ""
    mae: Optional[nn.Module] = None
    mae_settings: Optional[PictureSettings] = None
    mae_error: str = ""

    def summary(self) -> str:
        """One line for the top of the page."""
        parts = []
        if self.classifier is not None:
            k = self.cfg.MODEL.NUM_CLASSES
            parts.append(f"classifier of {k} classes" + ("" if self.names else " (no class names: indices shown)"))
        elif self.encoder is not None:
            parts.append("encoder (no classification head)")
        if self.mae is not None:
            parts.append("MAE decoder")
        return " + ".join(parts) or "nothing usable"


def load_app_models(cfg, checkpoint: str, cfg_file: str = "", device: str = "cpu", dtype: str = "auto") -> AppModels:
    """Try each use of ``checkpoint``; keep what loads. Raises ValueError when nothing does."""
    models = AppModels(cfg, checkpoint)
    dev = torch.device(device)
    try:
        model, models.names = load_classifier(cfg, checkpoint)
        models.classifier = models.encoder = for_inference(model, dev, dtype)
    except UnsafeCheckpointError:
        raise  # not another use of the file: nothing in it may run, whatever it is tried as
    except LOAD_ERRORS as e:
        models.classifier_error = str(e)
        logger.info("no classifier in %s (%s); trying it as an MAE / encoder", checkpoint, e)
    if models.classifier is not None:
        return models  # a checkpoint with a head has no MAE decoder: the release's and this project's have one or the other
    resolved = checkpoint
    try:
        model = build_model(cfg, for_test=True)
        resolved = checkpoint_path(model, checkpoint)  # a release tag -> its file, as the tools resolve it
        load_train_init(model, resolved)
        models.encoder = for_inference(model.eval(), dev, dtype)
    except LOAD_ERRORS as e:
        models.encoder_error = str(e)
    try:
        models.mae, models.mae_settings = load_mae(resolved, cfg, cfg_file or "the app's --cfg")
        models.mae.eval()
    except LOAD_ERRORS as e:
        models.mae_error = str(e)
        logger.info("no MAE decoder in %s: %s", checkpoint, e)
    if models.encoder is None and models.mae is None:
        raise ValueError(f"cannot use {checkpoint} with this config: as a classifier: {models.classifier_error}; "
                         f"as an encoder: {models.encoder_error}; as an MAE: {models.mae_error}")
    return models
