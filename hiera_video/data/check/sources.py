"""What the checker reads, one source per split: the split's dataset built as the loader builds it
(Kinetics lists, SSv2 json files, a plain folder, AVA frame lists); each source checks one of its
videos (``check``) and writes its cleaned list (``clean_text``)."""
import json
import logging
import os
from typing import Dict, List, Optional, Sequence, Tuple

from hiera_video.data import lookup
from hiera_video.data.ava import ava_path
from hiera_video.data.clip_dataset import ClipDataset
from hiera_video.data.loader import build_dataset
from hiera_video.data.ssv2 import FILES
from hiera_video.data.video_decoding import VideoDecodeError
from hiera_video.data.video_lists import SPLITS, parse_list_line

from .ava_source import AVASource
from .outputs import clean_path, folder_clean_path, progress_path
from .scan import Scan

logger = logging.getLogger(__name__)


class _VideoSource:
    """The videos of one split of a clip dataset (Kinetics, SSv2, a folder), read by its loader."""

    dataset_name = "kinetics"
    labelled = True  # the report gives each video's label

    def __init__(self, split: str, dataset, list_file: str, views: Sequence[Tuple[int, int]]):
        self.split, self.dataset, self.list_file, self.views = split, dataset, list_file, list(views)
        self.keys = [f"{split}\t{i}\t{p}" for i, p in enumerate(dataset.video_paths)]
        self.paths = list(dataset.video_paths)

    def check(self, i: int, scan: Scan) -> Tuple[List[Dict], Dict]:
        ds = self.dataset
        loader_error = None
        try:
            for view in self.views:
                ds.decode(i, view)
        except VideoDecodeError as e:
            loader_error = e.reason
        path = ds.video_paths[i]
        problems, info = scan(path)
        if path != self.paths[i]:  # SSv2's loader took <id>.mp4 for a missing <id>.webm
            info["path"] = path
        if not problems and loader_error:
            problems = [{"kind": "loader_error", "reason": f"{ds.backend}: {loader_error}"}]
        if not problems and info.get("decoded_until") is not None:
            end = info["decoded_until"] + 1.0 / info["fps"]  # the last frame is shown until then
            need = max(max(ds.clip_times(info["duration"] or 0.0, info["fps"], v)) for v in self.views)
            if need > end + 1e-6:
                problems = [{"kind": "too_short", "reason": f"frames decode until {info['decoded_until']:.2f} s, "
                             f"a clip samples up to {need:.2f} s: padded with the last frame"}]
        return problems, info

    def extra_problems(self, i: int) -> List[Dict]:
        return []

    def outputs(self) -> List[str]:
        return [clean_path(self.list_file)]

    def clean_text(self, bad: set) -> Dict[str, bytes]:
        """{cleaned list path: its contents} without the entries ``bad`` (indices)."""
        raise NotImplementedError


class _KineticsSource(_VideoSource):
    """A Kinetics-format list. Its good lines are the dataset's videos, in order; the others (no
    label, a label that is not an integer: the loader skips them) are reported as bad lines."""

    def __init__(self, split, dataset, list_file, views, cfg):
        super().__init__(split, dataset, list_file, views)
        self.num_classes = cfg.MODEL.NUM_CLASSES
        self.lines: List[bytes] = []  # as in the file, so the cleaned list keeps the user's text
        self.bad_lines: List[Dict] = []
        with open(list_file, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                line = raw.decode("utf-8", errors="replace").strip()  # as read_video_list reads it
                if not line:
                    continue
                try:
                    parse_list_line(line, cfg.DATA.PATH_LABEL_SEPARATOR, None)
                    self.lines.append(raw if raw.endswith(b"\n") else raw + b"\n")
                except ValueError as e:
                    self.bad_lines.append({"line": lineno, "text": line[:200], "reason": str(e)})
        if len(self.lines) != len(self.keys):
            raise RuntimeError(f"{list_file}: {len(self.lines)} good lines but the dataset read {len(self.keys)}")

    def extra_problems(self, i):
        label = self.dataset.labels[i]
        if self.num_classes > 0 and label >= self.num_classes:
            return [{"kind": "label_out_of_range",
                     "reason": f"label {label} outside [0, MODEL.NUM_CLASSES={self.num_classes})"}]
        return []

    def clean_text(self, bad):
        return {clean_path(self.list_file): b"".join(line for i, line in enumerate(self.lines) if i not in bad)}


class _SSv2Source(_VideoSource):
    dataset_name = "ssv2"

    def clean_text(self, bad):
        with open(self.list_file) as f:
            entries = json.load(f)
        if len(entries) != len(self.keys):
            raise RuntimeError(f"{self.list_file}: {len(entries)} entries but the dataset read {len(self.keys)}")
        kept = [e for i, e in enumerate(entries) if i not in bad]
        return {clean_path(self.list_file): json.dumps(kept, indent=1).encode()}


class _FolderSource(_VideoSource):
    """Every file under a folder, sampled as the multi-view test samples; the cleaned list is
    ``<report>.clean.txt`` (one path per line: ``tools/extract_features.py --videos`` reads it)."""

    dataset_name = "folder"
    labelled = False

    def __init__(self, dataset, report: str):
        super().__init__("videos", dataset, "", [(j, dataset.num_temporal) for j in range(dataset.num_temporal)])
        self.clean_file = folder_clean_path(report)

    def outputs(self):
        return [self.clean_file]

    def clean_text(self, bad):
        return {self.clean_file: "".join(p + "\n" for i, p in enumerate(self.paths) if i not in bad).encode()}


class _FilesDataset(ClipDataset):
    """The files under a folder as a test split (label 0), so they get the dataset's own clip times."""

    def __init__(self, cfg, files: List[str]):
        self.files = list(files)
        super().__init__(cfg, "test")

    def _read_index(self, cfg, split):
        return list(self.files), [0] * len(self.files), None


def folder_files(folder: str) -> List[str]:
    """Every non-hidden file under ``folder``, sorted (videos or not: the check says which)."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".")]
    return out


def _views(split: str, dataset) -> List[Tuple[int, int]]:
    """Temporal views checked: the loader's random train start at its extremes and middle."""
    if split == "train":
        return [(0, 3), (1, 3), (2, 3)]
    if split == "val":
        return [(0, 1)]
    return [(j, dataset.num_temporal) for j in range(dataset.num_temporal)]


def _index_files(cfg, split: str) -> Tuple[str, ...]:
    """The files the split's dataset reads its index from."""
    name = lookup.dataset_name(cfg, split)
    if name == "ava":
        lists = cfg.AVA.TRAIN_LISTS if split == "train" else cfg.AVA.TEST_LISTS
        return tuple(ava_path(cfg, cfg.AVA.FRAME_LIST_DIR, n) for n in lists)
    if name == "ssv2":
        return (os.path.join(cfg.DATA.PATH_TO_DATA_DIR, FILES[split]),)
    return (os.path.join(cfg.DATA.PATH_TO_DATA_DIR, f"{split}.csv"),)


def _source(cfg, split: str, files: Tuple[str, ...]):
    name = lookup.dataset_name(cfg, split)
    if name == "ava":
        return AVASource(cfg, split, list(files))
    if name == "ssv2":
        ds = build_dataset(cfg, split)
        return _SSv2Source(split, ds, files[0], _views(split, ds))
    unchecked = cfg.clone()  # labels are checked per line here, not all-or-nothing as the loader does
    unchecked.defrost()
    unchecked.MODEL.NUM_CLASSES = 0
    ds = build_dataset(unchecked, split)
    return _KineticsSource(split, ds, files[0], _views(split, ds), cfg)


def build_sources(cfg, splits: Optional[Sequence[str]] = None, videos_dir: str = "", report: str = ""):
    """One source per split (or one for ``videos_dir``); splits default to those whose files exist.

    Splits reading the same files (SSv2's and AVA's val and test) are checked once.
    """
    if videos_dir:
        if not os.path.isdir(videos_dir):
            raise FileNotFoundError(f"--videos '{videos_dir}' is not a folder")
        own = {os.path.abspath(p) for p in (report, progress_path(report), folder_clean_path(report))}
        files = [f for f in folder_files(videos_dir) if os.path.abspath(f) not in own]
        if not files:
            raise ValueError(f"--videos '{videos_dir}' holds no files")
        return [_FolderSource(_FilesDataset(cfg, files), report)]
    sources, seen = [], {}
    for split in splits or SPLITS:
        name = lookup.dataset_name(cfg, split)
        if name not in ("kinetics", "synthetic", "ssv2", "ava"):
            raise ValueError(f"the {split} split is a '{name}' dataset: the checker reads Kinetics-format lists, "
                             "SSv2 and AVA; for any folder of videos (class folders too) use --videos DIR")
        files = _index_files(cfg, split)
        if not splits and not all(os.path.isfile(f) for f in files):
            continue
        if files in seen:
            logger.info("%s reads the same files as %s (%s): checked once, as %s", split, seen[files],
                        ", ".join(files), seen[files])
            continue
        seen[files] = split
        sources.append(_source(cfg, split, files))  # an asked-for split without its files fails here
    if not sources:
        raise FileNotFoundError(f"no split to check under DATA.PATH_TO_DATA_DIR '{cfg.DATA.PATH_TO_DATA_DIR}' "
                                f"(looked for {', '.join(f for s in SPLITS for f in _index_files(cfg, s))})")
    return sources
