"""The checker's files: the report, its progress file (one record per video, resumable), the cleaned
lists; a file is written only when it is new or this checker wrote it and it is unchanged since."""
import hashlib
import json
import logging
import os
from typing import Dict

from hiera_video.utils.io import atomic_write

logger = logging.getLogger(__name__)

TOOL = "hiera_video dataset check"
VERSION = 1


class OutputExists(RuntimeError):
    """An output path holds a file this checker did not write (or that changed since)."""


def clean_path(path: str) -> str:
    """``train.csv`` -> ``train.clean.csv``."""
    root, ext = os.path.splitext(path)
    return f"{root}.clean{ext}"


def progress_path(report: str) -> str:
    """``check.json`` -> ``check.progress.jsonl``."""
    return os.path.splitext(report)[0] + ".progress.jsonl"


def folder_clean_path(report: str) -> str:
    """The cleaned list of a folder check: ``check.json`` -> ``check.clean.txt``."""
    return os.path.splitext(report)[0] + ".clean.txt"


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_new(path: str, data: bytes) -> str:
    """Write ``data`` atomically; returns its sha256."""
    atomic_write(path, lambda f: f.write(data))
    return hashlib.sha256(data).hexdigest()


def not_ours(path: str, why: str) -> OutputExists:
    return OutputExists(f"'{path}' exists and {why}: the dataset checker never overwrites a file it did not "
                        "write; move it away or choose another --out")


def own_report(path: str) -> Dict:
    """The earlier report at ``path`` ({} when there is none); refuses a file that is not one."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("tool") != TOOL:
        raise not_ours(path, "is not a report of the dataset checker")
    return data


class Progress:
    """``{key: record}`` of checked videos, appended to a jsonl file as each one finishes."""

    def __init__(self, path: str, fingerprint: str, restart: bool):
        self.path, self.records = path, {}
        header = {"tool": TOOL, "version": VERSION, "fingerprint": fingerprint}
        lines = []
        if os.path.exists(path):
            with open(path, "rb") as f:
                lines = f.read().split(b"\n")
            try:
                old = json.loads(lines[0])
            except ValueError:
                old = None
            if not isinstance(old, dict) or old.get("tool") != TOOL:
                raise not_ours(path, "is not a progress file of the dataset checker")
            if restart or old.get("fingerprint") != fingerprint:
                logger.info("%s: %s; checking every video again", path, "--restart" if restart else
                            "made with other DATA / AVA / TEST view settings")
                lines = []
        complete = [json.loads(line) for line in lines[1:-1]]  # lines[-1]: b"" or a line cut by a kill
        self.records = {r["key"]: r for r in complete}
        if not lines or lines[-1]:
            write_new(path, "".join(json.dumps(r) + "\n" for r in [header] + complete).encode())
        self._file = open(path, "a")

    def add(self, record: Dict) -> None:
        self.records[record["key"]] = record
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def fingerprint(cfg) -> str:
    """What decides a video's result: DATA.*, AVA.*, the test views and the datasets."""
    keys = {"DATA": cfg.DATA, "AVA": cfg.AVA, "views": [cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS],
            "datasets": [cfg.TRAIN.DATASET, cfg.TEST.DATASET]}
    return hashlib.sha256(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()[:16]


def default_report_path(cfg, videos_dir: str = "") -> str:
    """``<folder>.check.json`` beside a checked folder, else ``DATA.PATH_TO_DATA_DIR/dataset_check.json``."""
    if videos_dir:
        return os.path.normpath(os.path.abspath(videos_dir)) + ".check.json"
    return os.path.join(cfg.DATA.PATH_TO_DATA_DIR, "dataset_check.json")
