"""Kinetics-format video lists (PySlowFast): one ``path<SEP>label`` per line.

``DATA.PATH_TO_DATA_DIR/{train,val,test}.csv``; each path is joined with
``DATA.PATH_PREFIX``. A relative path with an empty PATH_PREFIX is taken relative to the
list's own folder, so a data folder can be moved as a whole. The label is the last field
(paths may contain the separator). Class names come from DATA.CLASS_NAMES_FILE (one name
per line, or PySlowFast's ``{"name": index}`` json) or a ``classnames.txt`` beside the lists.
"""
import json
import os
from typing import List, Optional, Tuple

SPLITS = ("train", "val", "test")


def list_path(data_dir: str, split: str) -> str:
    """``data_dir/<split>.csv`` after checking both exist, with an error naming what is missing."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
    if not data_dir:
        raise ValueError("DATA.PATH_TO_DATA_DIR is empty: set it to the folder holding "
                         "train.csv / val.csv / test.csv")
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"DATA.PATH_TO_DATA_DIR '{data_dir}' is not a folder (it should hold "
                                "train.csv / val.csv / test.csv)")
    path = os.path.join(data_dir, f"{split}.csv")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"video list '{path}' not found: the {split} split needs "
                                "one 'path label' line per video")
    return path


def read_video_list(path: str, separator: str = " ", prefix: str = "",
                    num_classes: Optional[int] = None) -> Tuple[List[str], List[int]]:
    """Parse a list file into (video paths, integer labels); bad lines raise ValueError naming file and line."""
    base = prefix if prefix else os.path.dirname(os.path.abspath(path))
    paths, labels = [], []
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                continue
            fields = line.rsplit(separator, 1) if separator.strip() else line.rsplit(None, 1)
            where = f"{path}, line {lineno}: '{line[:200]}'"
            if len(fields) != 2 or not fields[0].strip():
                raise ValueError(f"{where}: expected 'path{separator}label' "
                                 f"(DATA.PATH_LABEL_SEPARATOR={separator!r})")
            try:
                label = int(fields[1])
            except ValueError:
                raise ValueError(f"{where}: label '{fields[1]}' is not an integer class index") from None
            if label < 0 or (num_classes is not None and num_classes > 0 and label >= num_classes):
                raise ValueError(f"{where}: label {label} outside [0, MODEL.NUM_CLASSES={num_classes})")
            paths.append(os.path.join(base, fields[0].strip()))
            labels.append(label)
    if not paths:
        raise ValueError(f"video list '{path}' has no entries (expected 'path{separator}label' lines)")
    return paths, labels


def read_class_names(path: str) -> List[str]:
    """Class names by index from a text file (one per line) or a ``{"name": index}`` json."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"DATA.CLASS_NAMES_FILE '{path}' not found")
    with open(path) as f:
        text = f.read()
    if path.endswith(".json"):
        mapping = json.loads(text)
        names = [None] * len(mapping)
        for name, idx in mapping.items():
            if not 0 <= int(idx) < len(mapping):
                raise ValueError(f"{path}: index {idx} of '{name}' outside [0, {len(mapping)})")
            names[int(idx)] = name
        return names
    return [line.strip() for line in text.splitlines() if line.strip()]


def find_class_names(cfg) -> Optional[List[str]]:
    """DATA.CLASS_NAMES_FILE if set, else ``classnames.txt`` beside the lists, else None."""
    if cfg.DATA.CLASS_NAMES_FILE:
        return read_class_names(cfg.DATA.CLASS_NAMES_FILE)
    default = os.path.join(cfg.DATA.PATH_TO_DATA_DIR, "classnames.txt")
    return read_class_names(default) if os.path.isfile(default) else None
