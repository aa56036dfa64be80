"""The classifier the demo (``hiera-demo``) and the web app (``hiera-app``) run, with its class names.

One function, so that both load any checkpoint the tools accept (a release tag, a release file,
a project checkpoint, a safetensors file, a Hub folder or an ``hf-hub:`` id) the same way and name
the classes the same way.
"""
import logging
from typing import List, Optional, Tuple

import torch.nn as nn

from hiera_video.data.video_lists import find_class_names
from hiera_video.models.checkpoints import stored_class_names

from .build import build_model, load_test_weights

logger = logging.getLogger(__name__)


def load_classifier(cfg, checkpoint: str) -> Tuple[nn.Module, Optional[List[str]]]:
    """(model on the CPU in float32, eval mode; class names or None) for ``checkpoint``.

    MODEL.NUM_CLASSES 0 takes the class count of the names stored in the checkpoint (``cfg`` is
    changed in place). Names: the checkpoint's, DATA.CLASS_NAMES_FILE, the dataset's classnames.txt
    or the built-in Kinetics-400 names (``find_class_names``); a list of the wrong length is dropped
    with a warning (indices are shown instead). Raises ValueError when the checkpoint has no head
    of the model's class count (``load_test_weights``).
    """
    saved_names = stored_class_names(checkpoint)
    if cfg.MODEL.NUM_CLASSES == 0 and saved_names:  # "from the data": the checkpoint of such a run knows
        cfg.defrost()
        cfg.MODEL.NUM_CLASSES = len(saved_names)
    model = build_model(cfg, for_test=True)
    load_test_weights(model, checkpoint)
    names = find_class_names(cfg, checkpoint)
    if names is not None and len(names) != cfg.MODEL.NUM_CLASSES:
        logger.warning("the class-name file has %d names but the model has %d classes; printing indices",
                       len(names), cfg.MODEL.NUM_CLASSES)
        names = None
    return model.eval(), names
