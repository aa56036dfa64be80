"""UCF101 with its official split files (TRAIN.DATASET / TEST.DATASET ``ucf101``, DATA.SPLIT 1|2|3).

Files: ``classInd.txt`` ("1 ApplyEyeMakeup"), ``trainlist0N.txt`` ("ApplyEyeMakeup/v_..._g08_c01.avi 1",
1-based labels) and ``testlist0N.txt`` (paths only) in ``DATA.PATH_TO_DATA_DIR/ucfTrainTestlist/``
(or directly in DATA.PATH_TO_DATA_DIR); videos under ``DATA.PATH_PREFIX`` (default
DATA.PATH_TO_DATA_DIR) as ``<Class>/<video>.avi``. The lists are read with pytorchvideo's
``LabeledVideoPaths.from_csv`` (which gives test lines label -1); a test video's label is its
class folder's index in classInd.txt, and a train line whose label disagrees with its folder is
an error. Splits: train -> trainlist, val and test -> testlist (UCF101 has no validation set).
"""
import os
from typing import List, Tuple

from pytorchvideo.data.labeled_video_paths import LabeledVideoPaths

from hiera_video.registry import DATASETS

from .official_splits import OfficialSplitDataset

SPLIT_DIR = "ucfTrainTestlist"


def split_dir(data_dir: str) -> str:
    """``data_dir/ucfTrainTestlist`` when it exists, else ``data_dir``; must hold classInd.txt."""
    folder = os.path.join(data_dir, SPLIT_DIR)
    folder = folder if os.path.isdir(folder) else data_dir
    if not os.path.isfile(os.path.join(folder, "classInd.txt")):
        raise FileNotFoundError(f"UCF101: classInd.txt not found in '{folder}' (put the official "
                                f"{SPLIT_DIR}/ folder in DATA.PATH_TO_DATA_DIR; see datasets_prep/README.md)")
    return folder


def read_class_index(path: str) -> List[str]:
    """Class names by 0-based index from classInd.txt ("<1-based index> <name>" lines)."""
    names = {}
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[0].isdigit():
                raise ValueError(f"{path}, line {lineno}: expected '<index> <class name>', got '{line.strip()}'")
            names[int(fields[0])] = fields[1]
    if sorted(names) != list(range(1, len(names) + 1)):
        raise ValueError(f"{path}: class indices must be 1..{len(names)}, got {sorted(names)[:5]}...")
    return [names[i] for i in range(1, len(names) + 1)]


def read_ucf101(data_dir: str, split: str, split_number: int, video_dir: str) -> Tuple[List[str], List[int], List[str]]:
    """(video paths, 0-based labels, class names) of ``split`` of official split ``split_number``."""
    folder = split_dir(data_dir)
    names = read_class_index(os.path.join(folder, "classInd.txt"))
    index = {n.lower(): i for i, n in enumerate(names)}
    kind = "train" if split == "train" else "test"
    path = os.path.join(folder, f"{kind}list{split_number:02d}.txt")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"UCF101 split file '{path}' not found")
    try:
        entries = LabeledVideoPaths.from_csv(path)
        entries.path_prefix = video_dir
    except (AssertionError, ValueError) as e:
        raise ValueError(f"{path}: not an official UCF101 list ('<Class>/<video>.avi [label]' lines): {e}") from None
    paths, labels = [], []
    for n in range(len(entries)):
        video, meta = entries[n]
        folder_name = os.path.relpath(video, video_dir).replace("\\", "/").split("/")[0]
        if folder_name.lower() not in index:
            raise ValueError(f"{path}, entry {n + 1}: class folder '{folder_name}' of '{video}' is not in classInd.txt")
        label = index[folder_name.lower()]
        if meta["label"] != -1 and meta["label"] - 1 != label:
            raise ValueError(f"{path}, entry {n + 1}: label {meta['label']} is '{names[meta['label'] - 1]}' in "
                             f"classInd.txt but the video is in the folder '{folder_name}'")
        paths.append(video)
        labels.append(label)
    return paths, labels, names


def ucf101_class_names(cfg) -> List[str]:
    """The class names of classInd.txt."""
    return read_class_index(os.path.join(split_dir(cfg.DATA.PATH_TO_DATA_DIR), "classInd.txt"))


@DATASETS.register()
class Ucf101Dataset(OfficialSplitDataset):
    """UCF101 split DATA.SPLIT; items as in ``clip_dataset``."""

    names, title, classes_from = ("ucf101",), "UCF101", "UCF101's classInd.txt"
    read, read_class_names = staticmethod(read_ucf101), staticmethod(ucf101_class_names)
