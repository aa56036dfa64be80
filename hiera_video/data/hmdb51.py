"""HMDB51 with its official split files (TRAIN.DATASET / TEST.DATASET ``hmdb51``, DATA.SPLIT 1|2|3).

Files: ``<class>_test_split<N>.txt`` ("<video>.avi <0|1|2>": 1 train, 2 test, 0 unused) in
``DATA.PATH_TO_DATA_DIR/testTrainMulti_7030_splits/`` (or directly in DATA.PATH_TO_DATA_DIR);
videos under ``DATA.PATH_PREFIX`` (default DATA.PATH_TO_DATA_DIR) as ``<class>/<video>.avi``.
Read with pytorchvideo's ``Hmdb51LabeledVideoPaths`` (labels are class names there; here the
index of the sorted names). Splits: train -> 1, val and test -> 2.
"""
import os
import pathlib
from typing import List, Tuple

from pytorchvideo.data.hmdb51 import Hmdb51LabeledVideoPaths

from hiera_video.registry import DATASETS

from .official_splits import OfficialSplitDataset, split_id

SPLIT_DIR = "testTrainMulti_7030_splits"


def split_files(data_dir: str, split_number: int) -> List[pathlib.Path]:
    """The 51 ``*_test_split<N>.txt`` files, sorted; a missing folder or file set is an error."""
    folder = os.path.join(data_dir, SPLIT_DIR)
    folder = pathlib.Path(folder if os.path.isdir(folder) else data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"DATA.PATH_TO_DATA_DIR '{data_dir}' is not a folder")
    files = sorted(f for f in folder.iterdir() if f.is_file() and f.name.endswith(f"_test_split{split_number}.txt"))
    if not files:
        raise FileNotFoundError(f"HMDB51: no '<class>_test_split{split_number}.txt' in '{folder}' (put the official "
                                f"{SPLIT_DIR}/ folder in DATA.PATH_TO_DATA_DIR; see datasets_prep/README.md)")
    for f in files:
        for lineno, line in enumerate(f.read_text().splitlines(), 1):
            fields = line.split()
            if fields and (len(fields) != 2 or fields[1] not in ("0", "1", "2")):
                raise ValueError(f"{f}, line {lineno}: expected '<video>.avi <0|1|2>', got '{line.strip()}'")
    return files


def class_names_of(files: List[pathlib.Path], split_number: int) -> List[str]:
    return sorted(f.name[: -len(f"_test_split{split_number}.txt")] for f in files)


def read_hmdb51(data_dir: str, split: str, split_number: int, video_dir: str) -> Tuple[List[str], List[int], List[str]]:
    """(video paths, labels, sorted class names) of ``split`` of official split ``split_number``."""
    files = split_files(data_dir, split_number)
    names = class_names_of(files, split_number)
    index = {n: i for i, n in enumerate(names)}
    try:
        entries = Hmdb51LabeledVideoPaths.from_csvs(files, "train" if split == "train" else "test")
    except AssertionError as e:
        raise ValueError(f"HMDB51 split {split_number}: no {split} videos in the split files ({e})") from None
    entries.path_prefix = video_dir
    paths, labels = [], []
    for n in range(len(entries)):
        video, meta = entries[n]
        paths.append(video)
        labels.append(index[meta["label"]])
    return paths, labels, names


def hmdb51_class_names(cfg) -> List[str]:
    """The sorted class names of split DATA.SPLIT's files."""
    return class_names_of(split_files(cfg.DATA.PATH_TO_DATA_DIR, split_id(cfg)), split_id(cfg))


@DATASETS.register()
class Hmdb51Dataset(OfficialSplitDataset):
    """HMDB51 split DATA.SPLIT; items as in ``clip_dataset``."""

    names, title, classes_from = ("hmdb51",), "HMDB51", "HMDB51's split files"
    read, read_class_names = staticmethod(read_hmdb51), staticmethod(hmdb51_class_names)
