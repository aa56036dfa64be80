"""The checker's source for an AVA split: each video's keyframe-clip frame files, loaded as the
loader loads them, and the keyframes the loader skips."""
import os
from collections import Counter, defaultdict
from typing import Dict, List, Tuple

from hiera_video.data.ava import AVADataset

from .outputs import clean_path
from .scan import Scan, file_problem


class AVASource:
    """The videos of an AVA split: each keyframe clip's frame files loaded as the loader loads them."""

    dataset_name = "ava"
    labelled = False

    def __init__(self, cfg, split: str, list_files: List[str]):
        ds = AVADataset.__new__(AVADataset)
        try:
            ds.__init__(cfg, split)
        except ValueError:
            if not hasattr(ds, "keyframes"):  # "no usable keyframe" is raised after the index: report it
                raise
        self.split, self.dataset, self.list_files = split, ds, list_files
        frames = defaultdict(set)
        for vid, _, _, _, paths in ds.keyframes:
            frames[vid].update(paths)
        self.skipped = defaultdict(list)
        for vid, t, reason in ds.skipped:
            self.skipped[vid].append((t, reason))
        self.vids = list(ds.frames) + [v for v in self.skipped if v not in ds.frames]
        self.frames = {v: sorted(frames.get(v, ())) for v in self.vids}
        self.keyframe_counts = Counter(k[0] for k in ds.keyframes)
        self.keys = [f"{split}\t{v}" for v in self.vids]
        self.paths = [os.path.join(ds.frame_dir, v) for v in self.vids]

    def check(self, i: int, scan: Scan) -> Tuple[List[Dict], Dict]:
        paths = self.frames[self.vids[i]]
        bad: Dict[str, List[str]] = defaultdict(list)
        size = None
        for p in paths:
            full = os.path.join(self.dataset.frame_dir, p)
            kind, reason, _ = file_problem(full)
            if kind is None:
                try:
                    size = self.dataset.load_frames([p]).shape[1:3]
                except OSError as e:  # the message names the file
                    kind, reason = "bad_frame", str(e)
            if kind:
                bad[kind].append(reason if kind == "bad_frame" else f"{full}: {reason}")
        problems = [{"kind": k, "reason": f"{len(v)} frame file(s), e.g. {v[0]}"} for k, v in bad.items()]
        info = {"frames_checked": len(paths), "keyframes_used": self.keyframe_counts[self.vids[i]]}
        if size is not None:
            info["height"], info["width"] = int(size[0]), int(size[1])
        return problems, info

    def extra_problems(self, i: int) -> List[Dict]:
        by_kind = defaultdict(list)
        for t, reason in self.skipped.get(self.vids[i], ()):
            kind = ("missing_frames" if reason.startswith("frame file missing") else
                    "missing" if reason.startswith("video not in") else "keyframe_beyond_frames")
            by_kind[kind].append(f"keyframe {t}: {reason}")
        return [{"kind": k, "reason": f"{len(v)} keyframe(s) skipped by the loader, e.g. {v[0]}"}
                for k, v in by_kind.items()]

    def outputs(self) -> List[str]:
        return [clean_path(p) for p in self.list_files]

    def clean_text(self, bad: set) -> Dict[str, bytes]:
        drop = {self.vids[i].encode() for i in bad}
        out = {}
        for path in self.list_files:
            with open(path, "rb") as f:
                lines = f.readlines()
            kept = [line for line in lines if not line.split() or line.split()[0] not in drop]  # header kept
            out[clean_path(path)] = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in kept)
        return out
