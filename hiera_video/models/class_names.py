"""Class names of the public checkpoints' label spaces, one copy kept here as package data.

``KINETICS400``: the 400 Kinetics-400 classes by label index (``kinetics400_classes.txt``, one a
line), alphabetical: the order of PySlowFast's Kinetics label map and of torchvision's video
models (``_KINETICS400_CATEGORIES``).
"""
from importlib import resources
from typing import Optional, Sequence, Tuple

KINETICS400: Tuple[str, ...] = tuple(
    resources.files(__package__).joinpath("kinetics400_classes.txt").read_text().splitlines())


# Checkpoint tag suffix -> label space of its head.
_BY_TAG_SUFFIX = {"_ft_k400": KINETICS400}


def class_names_for(num_classes: int, dataset: str = "", checkpoint: str = "") -> Optional[Sequence[str]]:
    """The built-in names for a ``num_classes`` head trained on ``dataset`` (e.g. ``"kinetics"``) or
    loaded from the release checkpoint tag ``checkpoint`` (e.g. ``"mae_k400_ft_k400"``); else None."""
    for suffix, names in _BY_TAG_SUFFIX.items():
        if checkpoint.endswith(suffix) and len(names) == num_classes:
            return names
    if dataset == "kinetics" and num_classes == len(KINETICS400):
        return KINETICS400
    return None
