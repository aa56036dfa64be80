"""Something-Something-v2 from the official annotation files, with segment-based sampling.

Files in DATA.PATH_TO_DATA_DIR: ``something-something-v2-labels.json`` ({template: "index"}),
``something-something-v2-train.json`` and ``-validation.json`` (lists of {"id", "label",
"template", "placeholders"}; the template's "[something]" matches the labels' "something").
Videos: ``<PATH_PREFIX or PATH_TO_DATA_DIR>/<id>.<DATA.SSV2_VIDEO_EXT>`` (an ``<id>.mp4``
is used when that file is missing, e.g. after ``datasets_prep/resize_videos.py``).
Splits: train -> train json; val and test -> validation json (the paper reports on it).

Sampling (as PySlowFast's SSv2, ``clip_sampling.SegmentSampler``): the whole video is cut into
DATA.NUM_FRAMES equal segments; training takes a random frame of each segment, testing takes,
for temporal view j of NUM_ENSEMBLE_VIEWS, the frame at (j + 0.5) / NUM_ENSEMBLE_VIEWS of each
segment. Paper views: 1 temporal x 3 spatial (x3x1) or 2 x 3.

No horizontal flip by default (a mirror swaps "left to right" and "right to left"
classes). DATA.SSV2_LABEL_AWARE_FLIP flips and relabels: a class whose name changes when
"left" and "right" are swapped maps to that class; a class naming left/right without a
mirrored twin is never flipped; all others keep their label.
"""
import json
import logging
import os
import re
from typing import List, Optional, Sequence, Tuple

from hiera_video.registry import DATASETS

from . import transforms as T
from .clip_dataset import ClipDataset
from .clip_sampling import SegmentSampler

logger = logging.getLogger(__name__)

FILES = {"labels": "something-something-v2-labels.json", "train": "something-something-v2-train.json",
         "val": "something-something-v2-validation.json", "test": "something-something-v2-validation.json"}


def _template_name(template: str) -> str:
    return template.replace("[", "").replace("]", "")


def read_ssv2(data_dir: str, split: str, video_dir: str, ext: str = "webm") -> Tuple[List[str], List[int], List[str]]:
    """(video paths, labels, class names) of a split from the official json files."""
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"DATA.PATH_TO_DATA_DIR '{data_dir}' is not a folder (it should hold the "
                                f"official {FILES['labels']}, {FILES['train']}, {FILES['val']})")
    paths = {k: os.path.join(data_dir, v) for k, v in FILES.items()}
    for key in ("labels", split):
        if not os.path.isfile(paths[key]):
            raise FileNotFoundError(f"SSv2 annotation file '{paths[key]}' not found")
    with open(paths["labels"]) as f:
        index = {name: int(i) for name, i in json.load(f).items()}
    class_names = [""] * len(index)
    for name, i in index.items():
        class_names[i] = name
    with open(paths[split]) as f:
        entries = json.load(f)
    videos, labels = [], []
    for n, e in enumerate(entries):
        if "id" not in e or "template" not in e:
            raise ValueError(f"{paths[split]}, entry {n}: expected {{'id', 'template', ...}}, got {str(e)[:200]}")
        name = _template_name(e["template"])
        if name not in index:
            raise ValueError(f"{paths[split]}, entry {n} (id {e['id']}): template '{name}' is not in {paths['labels']}")
        videos.append(os.path.join(video_dir, f"{e['id']}.{ext}"))
        labels.append(index[name])
    return videos, labels, class_names


def mirror_label_map(class_names: Sequence[str]) -> List[Optional[int]]:
    """label -> label of the mirrored video (None: a left/right class without a mirrored twin)."""
    index = {name: i for i, name in enumerate(class_names)}
    swap = {"left": "right", "right": "left"}
    out: List[Optional[int]] = []
    for i, name in enumerate(class_names):
        mirrored = re.sub(r"\b(left|right)\b", lambda m: swap[m.group(1)], name)
        out.append(i if mirrored == name else index.get(mirrored))
    return out


@DATASETS.register()
class SSv2Dataset(ClipDataset):
    """SSv2 videos with segment-based sampling; items as in ``clip_dataset``."""

    names = ("ssv2",)
    sampler_class = SegmentSampler

    def _read_index(self, cfg, split):
        video_dir = cfg.DATA.PATH_PREFIX or cfg.DATA.PATH_TO_DATA_DIR
        paths, labels, names = read_ssv2(cfg.DATA.PATH_TO_DATA_DIR, split, video_dir, cfg.DATA.SSV2_VIDEO_EXT)
        if cfg.MODEL.NUM_CLASSES != len(names):
            raise ValueError(f"MODEL.NUM_CLASSES={cfg.MODEL.NUM_CLASSES} but the SSv2 labels file has "
                             f"{len(names)} classes (174 in the official release)")
        return paths, labels, names

    def _build_transforms(self) -> None:
        if self.train:
            if self.cfg.DATA.RANDOM_FLIP and not self.cfg.DATA.SSV2_LABEL_AWARE_FLIP:
                logger.info("SSv2: DATA.RANDOM_FLIP ignored (a mirror swaps left/right classes); "
                            "set DATA.SSV2_LABEL_AWARE_FLIP True for a label-aware flip")
            self.transform = T.build_train_transform(self.cfg, flip=False)
            if self.cfg.DATA.SSV2_LABEL_AWARE_FLIP:
                self.flip_label_map = mirror_label_map(self.class_names)
        else:
            self.transform = T.build_eval_transform(self.cfg)

    def video_path(self, index):
        """``<id>.<ext>``, or ``<id>.mp4`` when only that exists (kept in ``video_paths``)."""
        path = self.video_paths[index]
        if not os.path.exists(path) and os.path.exists(os.path.splitext(path)[0] + ".mp4"):
            self.video_paths[index] = path = os.path.splitext(path)[0] + ".mp4"
        return path
