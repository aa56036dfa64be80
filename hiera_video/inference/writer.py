"""Extraction outputs on disk: written atomically, resumable, summarised in index.json.

Per video ``NAME`` (the file name without extension, or with it when two videos of the list
share a stem, e.g. ``clip.mp4`` and ``clip.gif``): ``NAME.npy`` (features
``[num_clips, C]``), optionally ``NAME.logits.npy`` and ``NAME.stage{k}.npy``, and last
``NAME.json``, the record that marks the video done. Every file is written to a temporary
name and renamed, so an interrupted run never leaves a half-written file under a final
name; a video without its record is redone. ``index.json`` lists all records.
"""
import json
import os
from collections import Counter
from typing import Dict, List, Optional

import numpy as np

from hiera_video.utils.io import atomic_write


def video_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def output_names(videos: List[str]) -> Dict[str, str]:
    """Video path -> output name: the stem, or the file name where stems clash; an error when
    two videos still share a name (same file name in two folders)."""
    stems = Counter(video_name(v) for v in videos)
    names: Dict[str, str] = {}
    for v in videos:
        name = video_name(v) if stems[video_name(v)] == 1 else os.path.basename(v)
        other = next((u for u, n in names.items() if n == name), None)
        if other is not None:
            raise ValueError(f"two videos share the output name '{video_name(v)}': {other} and {v}; rename one")
        names[v] = name
    return names


class NpyWriter:
    """One ``.npy`` per array and a ``.json`` record per video in ``out_dir``."""

    def __init__(self, out_dir: str, videos: Optional[List[str]] = None):
        self.out_dir = out_dir
        self.names = output_names(videos) if videos else {}

    def name(self, video: str) -> str:
        return self.names.get(video) or video_name(video)

    def record_path(self, video: str) -> str:
        return os.path.join(self.out_dir, self.name(video) + ".json")

    def done(self, video: str) -> Optional[Dict]:
        """The record of a finished video, or None (missing, unreadable or failed: redo it)."""
        try:
            with open(self.record_path(video)) as f:
                record = json.load(f)
        except (OSError, ValueError):
            return None
        if record.get("status") != "ok" or not os.path.isfile(record.get("features", "")):
            return None
        return record

    def write(self, video: str, arrays: Dict[str, np.ndarray], record: Dict) -> Dict:
        name = self.name(video)
        for key, array in arrays.items():
            suffix = ".npy" if key == "features" else f".{key}.npy"
            path = os.path.join(self.out_dir, name + suffix)
            atomic_write(path, lambda f, a=array: np.save(f, a))
            record["features" if key == "features" else key] = path
        return self.write_record(video, record)

    def write_record(self, video: str, record: Dict) -> Dict:
        record["name"] = self.name(video)
        atomic_write(self.record_path(video), lambda f: f.write(json.dumps(record, indent=1).encode()))
        return record


def write_index(out_dir: str, videos: List[str], writer: NpyWriter) -> List[Dict]:
    """Gather every video's record into ``out_dir/index.json`` (in input order)."""
    records = []
    for video in videos:
        try:
            with open(writer.record_path(video)) as f:
                records.append(json.load(f))
        except (OSError, ValueError):
            records.append(dict(video=video, status="failed", reason="not processed (run interrupted?)"))
    atomic_write(os.path.join(out_dir, "index.json"), lambda f: f.write(json.dumps(records, indent=1).encode()))
    return records


def write_hdf5(out_dir: str, records: List[Dict], filename: str = "features.h5") -> str:
    """Pack the finished videos' arrays into one HDF5 file (one group per video); needs h5py."""
    try:
        import h5py
    except ImportError:
        raise RuntimeError("--format hdf5 needs h5py: pip install h5py") from None
    path = os.path.join(out_dir, filename)

    def write(f):
        with h5py.File(f, "w") as h5:
            for r in records:
                if r["status"] != "ok":
                    continue
                group = h5.create_group(r.get("name") or video_name(r["video"]))
                group.create_dataset("clip_times", data=np.asarray(r["clip_times"]))
                for key in [k for k in r if k == "features" or k == "logits" or k.startswith("stage")]:
                    group.create_dataset(key, data=np.load(r[key]))
                group.attrs.update(fps=r["fps"], duration=r["duration"], padded=r["padded"])
    atomic_write(path, write)
    return path
