"""Kinetics-format lists (TRAIN.DATASET / TEST.DATASET ``kinetics``, and ``synthetic``, the
generated demo data): videos of ``DATA.PATH_TO_DATA_DIR/<split>.csv`` ("path label" lines,
DATA.PATH_LABEL_SEPARATOR, DATA.PATH_PREFIX), class names from ``classnames.txt`` or
DATA.CLASS_NAMES_FILE; items and sampling as in ``clip_dataset``."""
from hiera_video.registry import DATASETS

from .clip_dataset import ClipDataset
from .video_lists import find_class_names, list_path, read_video_list


@DATASETS.register()
class KineticsDataset(ClipDataset):
    """Videos of ``DATA.PATH_TO_DATA_DIR/<split>.csv``; see ``clip_dataset`` for items."""

    names = ("kinetics", "synthetic")

    def _read_index(self, cfg, split):
        lst = list_path(cfg.DATA.PATH_TO_DATA_DIR, split)
        paths, labels = read_video_list(lst, cfg.DATA.PATH_LABEL_SEPARATOR, cfg.DATA.PATH_PREFIX,
                                        cfg.MODEL.NUM_CLASSES, bad_lines=self.skipped_lines)
        return paths, labels, find_class_names(cfg)
