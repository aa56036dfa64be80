"""Your own videos as a dataset: a folder of class folders (TRAIN.DATASET / TEST.DATASET ``folder``).

Layouts of DATA.PATH_TO_DATA_DIR (``root``):
  * ``root/<class>/<video>``: one pool, split per class by DATA.VAL_FRACTION / DATA.TEST_FRACTION
    (each class's sorted videos shuffled by a generator seeded with RNG_SEED and the class name,
    so adding videos to one class leaves the other classes' splits alone);
  * ``root/{train,val,test}/<class>/<video>``: the splits as given (a missing val or test folder is
    split off train by its fraction); a val/test class that train lacks is an error naming it;
  * lists (``root/train.csv``, e.g. a copy of an earlier run's ``OUTPUT_DIR/splits/``, or the
    synthetic demo's output): the lists win, read as Kinetics lists, and the log says so.

Classes are the sorted folder names that hold at least one video (an empty one is named in a
warning and left out; fewer than 2 left is an error). Files that are not videos (by extension)
and hidden entries (``.name``) are skipped and listed; a folder inside a class folder is an error. Rank 0 writes
``OUTPUT_DIR/classnames.txt`` (also stored in checkpoints, see ``engine/checkpoint.py``) and
``OUTPUT_DIR/splits/{train,val,test}.csv`` (absolute ``path label`` lines: Kinetics lists that
``TRAIN.DATASET kinetics`` and ``pytorchvideo.data.Kinetics`` read) plus ``skipped.txt``.

Paths are read with pytorchvideo's ``LabeledVideoPaths``; items and sampling as in ``clip_dataset``.
"""
import logging
import os
import zlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from pytorchvideo.data.labeled_video_paths import LabeledVideoPaths
from torchvision.datasets.folder import make_dataset

from hiera_video.errors import ConfigError
from hiera_video.registry import DATASETS
from hiera_video.utils.collectives import is_main_process
from hiera_video.utils.io import write_lines

from .clip_dataset import check_num_classes
from .kinetics import KineticsDataset
from .lookup import dataset_class
from .video_lists import SPLITS, VIDEO_EXTENSIONS, find_class_names, is_video_name

logger = logging.getLogger(__name__)

class ClassFolderPaths(LabeledVideoPaths):
    """``LabeledVideoPaths`` of ``root/<class>/<video>`` plus ``classes``, ``skipped`` and ``empty``."""

    classes: List[str]
    skipped: List[str]  # files that are not videos
    empty: List[str]  # class folders without a video

    @classmethod
    def from_directory(cls, dir_path: str, classes: Optional[Sequence[str]] = None) -> "ClassFolderPaths":
        """As ``LabeledVideoPaths.from_directory`` (sorted folder names, torchvision's ``make_dataset``),
        but with every container of ``VIDEO_EXTENSIONS``, empty class folders left out instead of an
        error, non-videos reported and nested folders refused (the base walks into them silently).
        ``classes`` fixes the label order (val/test follow train); a folder not in it is an error."""
        skipped, found = [], []
        for entry in sorted(os.scandir(dir_path), key=lambda e: e.name):
            if not entry.is_dir() or entry.name.startswith("."):
                skipped.append(entry.path)
                continue
            videos = 0
            for sub in sorted(os.scandir(entry.path), key=lambda e: e.name):
                if sub.name.startswith("."):  # .DS_Store, .ipynb_checkpoints, ...
                    skipped.append(sub.path)
                elif sub.is_dir():
                    raise ValueError(f"'{sub.path}' is a folder inside the class folder '{entry.path}': expected "
                                     f"{dir_path}/<class>/<video> (one level of class folders, videos directly "
                                     "inside); move its videos up or give it its own class folder")
                elif is_video_name(sub.name):
                    videos += 1
                else:
                    skipped.append(sub.path)
            found.append((entry.name, videos))
        if classes is not None:
            unknown = [n for n, _ in found if n not in classes]
            if unknown:
                raise ValueError(f"'{dir_path}' has class folder(s) {unknown} that the training split does not "
                                 f"have (training classes: {list(classes)})")
        empty = [n for n, k in found if k == 0]
        if classes is None:
            classes = [n for n, k in found if k > 0]
            if len(classes) < 2:
                raise ValueError(f"'{dir_path}' has {len(classes)} class folder(s) with videos ({classes}); a "
                                 f"classifier needs at least 2 (expected {dir_path}/<class>/<video>; video "
                                 f"extensions: {' '.join(VIDEO_EXTENSIONS)})")
        present = {n: i for i, n in enumerate(classes) if n in dict(found) and n not in empty}
        top = os.path.abspath(dir_path)  # make_dataset walks sub-folders (hidden ones here): only take class/video
        pairs = make_dataset(dir_path, present, allow_empty=True, is_valid_file=lambda p: is_video_name(
            os.path.basename(p)) and os.path.dirname(os.path.dirname(os.path.abspath(p))) == top) if present else []
        paths = cls(pairs)
        paths.classes, paths.skipped, paths.empty = list(classes), skipped, empty
        return paths


@dataclass
class FolderSplits:
    """The splits of a class-folder dataset: ``lists[split]`` = [(absolute path, label)]."""

    classes: List[str]
    lists: Dict[str, List[Tuple[str, int]]]
    skipped: List[str] = field(default_factory=list)


def _pairs(paths: LabeledVideoPaths) -> List[Tuple[str, int]]:
    return [(os.path.abspath(p), meta["label"]) for p, meta in (paths[i] for i in range(len(paths)))]


def stratified_split(pairs: Sequence[Tuple[str, int]], classes: Sequence[str], fractions: Dict[str, float],
                     seed: int) -> Dict[str, List[Tuple[str, int]]]:
    """Split [(path, label)] per class: ``round(n * fraction)`` videos (at least 1 when the fraction
    is > 0) to each split of ``fractions``, the rest to "train", which always keeps one (a class too
    small for that gives fewer held-out videos, first from the first split, with a warning).
    Deterministic from ``seed``, the class name and the sorted paths."""
    out = {s: [] for s in ("train", *fractions)}
    for label, name in enumerate(classes):
        videos = sorted(p for p, lab in pairs if lab == label)
        want = {s: max(1, round(len(videos) * f)) if f > 0 else 0 for s, f in fractions.items()}
        for split in want:
            while sum(want.values()) >= len(videos) and want[split] > 0:
                want[split] -= 1
        short = [s for s, f in fractions.items() if f > 0 and want[s] == 0]
        if short:
            logger.warning("class '%s' has %d video(s), too few for every split: none in %s", name, len(videos),
                           " or ".join(short))
        order = np.random.default_rng([seed, zlib.crc32(name.encode())]).permutation(len(videos))
        start = 0
        for split, k in want.items():
            out[split] += [(videos[i], label) for i in order[start:start + k]]
            start += k
        out["train"] += [(videos[i], label) for i in order[start:]]
    return {s: sorted(v, key=lambda pl: (pl[1], pl[0])) for s, v in out.items()}


def read_folder_splits(root: str, val_fraction: float, test_fraction: float, seed: int) -> FolderSplits:
    """Classes and splits of ``root`` in one of the two folder layouts (see the module docstring)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"DATA.PATH_TO_DATA_DIR '{root}' is not a folder (expected <class>/<video> "
                                "or {train,val,test}/<class>/<video> inside)")
    subdirs = {e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")}
    if "train" in subdirs and subdirs <= set(SPLITS):
        train = ClassFolderPaths.from_directory(os.path.join(root, "train"))
        lists, skipped, fractions = {"train": _pairs(train)}, list(train.skipped), {}
        for split, fraction in (("val", val_fraction), ("test", test_fraction)):
            if split not in subdirs:
                if fraction <= 0:
                    raise ValueError(f"'{root}' has no {split}/ folder and DATA.{split.upper()}_FRACTION is 0: add "
                                     f"{root}/{split}/<class>/<video> or set a fraction to split off train")
                fractions[split] = fraction
                continue
            held = ClassFolderPaths.from_directory(os.path.join(root, split), classes=train.classes)
            lists[split], skipped = _pairs(held), skipped + held.skipped
        if fractions:
            lists.update(stratified_split(lists.pop("train"), train.classes, fractions, seed))
        _warn_empty(train)
        return FolderSplits(train.classes, lists, skipped)
    pool = ClassFolderPaths.from_directory(root)
    _warn_empty(pool)
    lists = stratified_split(_pairs(pool), pool.classes, {"val": val_fraction, "test": test_fraction}, seed)
    if not lists["val"] or not lists["test"]:
        raise ValueError(f"'{root}' is one pool of class folders: DATA.VAL_FRACTION and DATA.TEST_FRACTION must "
                         f"be > 0 (got {val_fraction}, {test_fraction}), or use {root}/{{train,val,test}}/<class>/")
    return FolderSplits(pool.classes, lists, pool.skipped)


def _warn_empty(paths: ClassFolderPaths) -> None:
    if paths.empty:
        logger.warning("class folder(s) without videos left out: %s", ", ".join(paths.empty))


def has_lists(root: str) -> bool:
    return os.path.isfile(os.path.join(root, "train.csv"))


def write_splits(output_dir: str, splits: FolderSplits) -> str:
    """``output_dir/classnames.txt`` and ``output_dir/splits/`` (lists, classnames, skipped); the splits folder."""
    out = os.path.join(output_dir, "splits")
    os.makedirs(out, exist_ok=True)
    for split, pairs in splits.lists.items():
        write_lines(os.path.join(out, f"{split}.csv"), [f"{p} {lab}" for p, lab in pairs])
    write_lines(os.path.join(out, "skipped.txt"), splits.skipped)
    for folder in (out, output_dir):
        write_lines(os.path.join(folder, "classnames.txt"), splits.classes)
    return out


@DATASETS.register()
class FolderDataset(KineticsDataset):
    """Videos of a class-folder tree (or of lists beside it); items as in ``clip_dataset``."""

    names = ("folder",)

    def _read_index(self, cfg, split):
        root = cfg.DATA.PATH_TO_DATA_DIR
        if has_lists(root):
            logger.info("%s holds train.csv: using its lists (Kinetics format), not its folders", root)
            paths, labels, names = super()._read_index(cfg, split)
            if names is not None:
                check_num_classes(cfg, names, f"{root}/classnames.txt")
            return paths, labels, names
        try:
            splits = read_folder_splits(root, cfg.DATA.VAL_FRACTION, cfg.DATA.TEST_FRACTION, cfg.RNG_SEED)
        except ValueError as e:  # a layout problem: run_net reports it as a config error, without a traceback
            raise ConfigError(f"DATA.PATH_TO_DATA_DIR: {e}") from None
        check_num_classes(cfg, splits.classes, f"'{root}'")
        if is_main_process():
            written = write_splits(cfg.OUTPUT_DIR, splits)
            if split == "train":
                if splits.skipped:
                    logger.warning("%d file(s) that are not videos skipped (listed in %s/skipped.txt): %s",
                                   len(splits.skipped), written, ", ".join(splits.skipped[:10]))
                logger.info("class folders of %s: %d classes, %s; lists written to %s", root, len(splits.classes),
                            ", ".join(f"{s} {len(v)}" for s, v in splits.lists.items()), written)
        pairs = splits.lists[split]
        return [p for p, _ in pairs], [lab for _, lab in pairs], splits.classes


def num_classes_from_data(cfg) -> int:
    """The class count of the configured dataset (for MODEL.NUM_CLASSES 0); ConfigError if unknown."""
    name = (cfg.TRAIN.DATASET if cfg.TRAIN.ENABLE else cfg.TEST.DATASET).lower()
    try:
        if name == "folder" and not has_lists(cfg.DATA.PATH_TO_DATA_DIR):
            return len(read_folder_splits(cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.VAL_FRACTION, cfg.DATA.TEST_FRACTION,
                                          cfg.RNG_SEED).classes)
        if name in ("ucf101", "hmdb51"):
            return len(dataset_class(name).read_class_names(cfg))
        names = find_class_names(cfg) if name in ("folder", "kinetics") else None
    except (OSError, ValueError) as e:
        raise ConfigError(f"MODEL.NUM_CLASSES=0 (take it from the data): {e}") from None
    if not names:
        raise ConfigError(f"MODEL.NUM_CLASSES=0 takes the class count from the data, but TRAIN.DATASET/TEST.DATASET "
                          f"'{name}' under '{cfg.DATA.PATH_TO_DATA_DIR}' names no classes (a classnames.txt or "
                          "DATA.CLASS_NAMES_FILE); set MODEL.NUM_CLASSES")
    return len(names)
