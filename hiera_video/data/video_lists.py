"""Kinetics-format video lists (PySlowFast): one ``path<SEP>label`` per line.

``DATA.PATH_TO_DATA_DIR/{train,val,test}.csv``; each path is joined with
``DATA.PATH_PREFIX``. A relative path with an empty PATH_PREFIX is taken relative to the
list's own folder, so a data folder can be moved as a whole. The label is the last field
(paths may contain the separator). Class names come from DATA.CLASS_NAMES_FILE (one name
per line, or PySlowFast's ``{"name": index}`` json) or a ``classnames.txt`` beside the lists;
a 400-class Kinetics model without either gets the built-in Kinetics-400 names.
"""
import json
import os
from typing import List, Optional, Tuple

SPLITS = ("train", "val", "test")


# What the decoders (PyAV / FFmpeg, decord) open; pytorchvideo's from_directory takes mp4 and avi only.
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp",
                    ".ogv", ".ts")


def is_video_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(VIDEO_EXTENSIONS)


def class_folders(data_dir: str, limit: int = 5) -> List[str]:
    """Up to ``limit`` subfolders of ``data_dir`` that hold video files (a class-folder dataset)."""
    found = []
    with os.scandir(data_dir) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_dir() and not entry.name.startswith("."):
                with os.scandir(entry.path) as inner:
                    if any(is_video_name(f.name) for f in inner):
                        found.append(entry.name)
                if len(found) >= limit:
                    break
    return found


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
        folders = class_folders(data_dir)
        if folders:
            raise FileNotFoundError(
                f"video list '{path}' not found, but DATA.PATH_TO_DATA_DIR '{data_dir}' holds class folders "
                f"({', '.join(folders)}, ...): set TRAIN.DATASET folder and TEST.DATASET folder to read them (the "
                "splits come from DATA.VAL_FRACTION / DATA.TEST_FRACTION; docs/own_dataset.md)")
        raise FileNotFoundError(f"video list '{path}' not found: the {split} split needs "
                                "one 'path label' line per video")
    return path


def read_video_list(path: str, separator: str = " ", prefix: str = "", num_classes: Optional[int] = None,
                    bad_lines: Optional[List[str]] = None) -> Tuple[List[str], List[int]]:
    """Parse a list file (UTF-8) into (video paths, integer labels).

    A bad line (no label, a label that is not an integer or is outside [0, num_classes))
    raises ValueError naming the file and line; with ``bad_lines`` given, it is appended
    there instead ("file, line N: 'text': reason") and left out. A list without a single
    good line is always an error."""
    base = prefix if prefix else os.path.dirname(os.path.abspath(path))
    paths, labels = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                continue
            try:
                rel, label = parse_list_line(line, separator, num_classes)
            except ValueError as e:
                message = f"{path}, line {lineno}: '{line[:200]}': {e}"
                if bad_lines is None:
                    raise ValueError(message) from None
                bad_lines.append(message)
                continue
            paths.append(os.path.join(base, rel))
            labels.append(label)
    if not paths:
        what = f"no usable entries; e.g. {bad_lines[0]}" if bad_lines else "no entries"
        raise ValueError(f"video list '{path}' has {what} (expected 'path{separator}label' lines)")
    return paths, labels


def parse_list_line(line: str, separator: str, num_classes: Optional[int]) -> Tuple[str, int]:
    """'path<SEP>label' -> (path, label); the label is the last field, so paths may hold the separator."""
    fields = line.rsplit(separator, 1) if separator.strip() else line.rsplit(None, 1)
    if len(fields) != 2 or not fields[0].strip():
        raise ValueError(f"expected 'path{separator}label' (DATA.PATH_LABEL_SEPARATOR={separator!r})")
    try:
        label = int(fields[1])
    except ValueError:
        raise ValueError(f"label '{fields[1]}' is not an integer class index") from None
    if label < 0 or (num_classes is not None and num_classes > 0 and label >= num_classes):
        raise ValueError(f"label {label} outside [0, MODEL.NUM_CLASSES={num_classes})")
    return fields[0].strip(), label


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


def find_class_names(cfg, checkpoint: str = "") -> Optional[List[str]]:
    """DATA.CLASS_NAMES_FILE if set, else the names stored in ``checkpoint`` (a run of this
    project on class folders), else ``classnames.txt`` beside the lists, else the
    built-in Kinetics-400 names for a 400-class Kinetics model (TRAIN.DATASET and TEST.DATASET
    kinetics, or a release ``*_ft_k400`` ``checkpoint`` tag), else None."""
    from hiera_video.models.class_names import class_names_for
    from hiera_video.models.checkpoints import stored_class_names

    if cfg.DATA.CLASS_NAMES_FILE:
        return read_class_names(cfg.DATA.CLASS_NAMES_FILE)
    stored = stored_class_names(str(checkpoint))
    if stored:
        return stored
    default = os.path.join(cfg.DATA.PATH_TO_DATA_DIR, "classnames.txt")
    if os.path.isfile(default):
        return read_class_names(default)
    dataset = cfg.TEST.DATASET.lower() if cfg.TEST.DATASET.lower() == cfg.TRAIN.DATASET.lower() else ""
    builtin = class_names_for(cfg.MODEL.NUM_CLASSES, dataset, str(checkpoint))
    return list(builtin) if builtin is not None else None
