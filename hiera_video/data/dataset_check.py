"""Check a dataset before training: decode every video as the loader does, report, write cleaned lists.

Sources, one per split (``check_dataset``):
  * Kinetics-format lists ``DATA.PATH_TO_DATA_DIR/<split>.csv`` (TRAIN.DATASET / TEST.DATASET kinetics),
  * Something-Something-v2's official json files (ssv2),
  * AVA frame lists and box CSVs (ava): every frame file a keyframe's clip uses must exist and load,
  * a plain folder of videos (``videos_dir``): every file under it.

A video is read twice. First through the dataset's own ``_decode`` (DATA.DECODING_BACKEND and the
frame times of its ``_clip_times``: train at the first, middle and last clip start, val the centre
clip, test every temporal view), so what fails here fails in training. Then once from end to end
with PyAV, which finds what the loader hides: it pads a clip whose file breaks part-way with the
last good frame. A video with a kind from ``PROBLEMS`` is left out of the cleaned list; one with
only ``WARNINGS`` stays in it. Kinetics list lines the loader skips (no label, a label that is
not an integer) are reported as bad lines; a label >= MODEL.NUM_CLASSES is a problem of its video.

Outputs: the report (json), its progress file ``<report>.progress.jsonl`` (one record per
video, appended as they come; a rerun checks only the videos not in it) and a cleaned list
``<name>.clean<ext>`` beside each original. A file is written only when it does not exist or
this checker wrote it (the report lists what it wrote with a sha256) and it is unchanged since;
anything else raises ``OutputExists``. Originals are only read.
"""
import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from hiera_video.utils.io import atomic_write

from .kinetics import KineticsDataset
from .video_decoding import VideoDecodeError, open_video
from .video_lists import SPLITS, parse_list_line

logger = logging.getLogger(__name__)

TOOL = "hiera_video dataset check"
VERSION = 1

PROBLEMS = {
    "missing": "file not found (or, for AVA, a video annotated but absent from the frame lists)",
    "unreadable": "cannot be read (no read permission or an I/O error)",
    "empty": "zero bytes",
    "not_a_video": "not a video file (no video container signature; FFmpeg cannot open it)",
    "corrupt": "a video container FFmpeg cannot open (truncated or damaged download)",
    "no_video_stream": "no video stream (e.g. audio only)",
    "no_frames": "no decodable video frame",
    "decode_error": "decoding fails part-way (the PyAV loader pads with the last good frame)",
    "truncated": "fewer frames decode than the header declares",
    "loader_error": "the loader's backend (DATA.DECODING_BACKEND) fails on it",
    "crashed": "reading it killed the worker process (e.g. a segfault in the decoder)",
    "label_out_of_range": "label outside [0, MODEL.NUM_CLASSES)",
    "bad_line": "a list line the loader skips (no label, or a label that is not an integer)",
    "bad_frame": "an AVA frame file that does not load as an image (the loader drops its keyframes)",
}
WARNINGS = {
    "too_short": "shorter than a sampled clip: the loader pads it by repeating the last frame",
    "missing_frames": "AVA keyframes whose clip has missing frame files (the loader skips them)",
    "keyframe_beyond_frames": "AVA keyframes past the listed frames (the loader skips them)",
}

# First bytes of containers FFmpeg reads: a file starting so that it cannot open is a damaged
# video ("corrupt"), anything else is "not_a_video" (a text or image file renamed .mp4, ...).
_SIGNATURES = (b"\x1aE\xdf\xa3", b"RIFF", b"OggS", b"GIF8", b"FLV", b"0&\xb2u", b"\x00\x00\x01\xba",
               b"\x00\x00\x01\xb3", b".RMF")
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


class OutputExists(RuntimeError):
    """An output path holds a file this checker did not write (or that changed since)."""


def _looks_like_video(head: bytes) -> bool:
    return (head.startswith(_SIGNATURES) or head[4:8] in _MP4_BOXES
            or (len(head) > 188 and head[0] == head[188] == 0x47))  # MPEG-TS sync bytes


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


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_new(path: str, data: bytes) -> str:
    """Write ``data`` atomically; returns its sha256."""
    atomic_write(path, lambda f: f.write(data))
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------- one video
def _file_problem(path: str) -> Tuple[Optional[str], str, bytes]:
    """(kind, reason, b"") for a path that cannot be a readable file, else (None, "", its first bytes)."""
    if not os.path.exists(path):
        return "missing", "broken symbolic link" if os.path.islink(path) else "file not found", b""
    if not os.path.isfile(path):
        return "not_a_video", "not a regular file", b""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except PermissionError as e:
        return "unreadable", f"no read permission ({e.strerror})", b""
    except OSError as e:
        return "unreadable", f"{type(e).__name__}: {e}", b""
    if not head:
        return "empty", "zero bytes", b""
    return None, "", head


def scan_video(path: str) -> Tuple[List[Dict], Dict]:
    """Problems and header info of a video file, from a PyAV decode of every frame.

    Info: format, codec, width, height, pix_fmt, fps and duration (as the loader sees them),
    header_frames, decoded_frames, decoded_until (s, the last decoded frame's time).
    """
    import av

    kind, reason, head = _file_problem(path)
    if kind:
        return [{"kind": kind, "reason": reason}], {}
    try:
        container = av.open(path)
    except Exception as e:  # av.error.*: FFmpeg could not open it
        kind = "corrupt" if _looks_like_video(head) else "not_a_video"
        return [{"kind": kind, "reason": f"{type(e).__name__}: {e}"}], {}
    with container:
        if not container.streams.video:
            found = ", ".join(f"{s.type} ({s.codec_context.name})" for s in container.streams) or "none"
            return [{"kind": "no_video_stream", "reason": f"no video stream; streams: {found}"}], {}
        stream = container.streams.video[0]
        cc = stream.codec_context
        info = {"format": container.format.name, "codec": cc.name, "width": cc.width, "height": cc.height,
                "pix_fmt": cc.pix_fmt, "header_frames": stream.frames or None}
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        decoded, last, error = 0, None, None
        try:
            for frame in container.decode(stream):
                decoded += 1
                last = frame.time - start if frame.time is not None else last
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
    try:  # the duration and frame rate the loader's clip times are computed from
        video = open_video(path, "pyav")
        info["fps"], info["duration"] = video.fps, video.duration
        video.close()
    except VideoDecodeError as e:
        error = error or e.reason
    info.update(decoded_frames=decoded, decoded_until=last)
    if decoded == 0:
        return [{"kind": "no_frames", "reason": error or "no decodable video frame"}], info
    if error:
        return [{"kind": "decode_error", "reason": f"decoding stopped after {decoded} frames "
                 f"({last or 0:.2f} s of {info.get('duration') or 0:.2f} s): {error}"}], info
    header = info["header_frames"]
    if header and decoded < 0.9 * header:
        return [{"kind": "truncated", "reason": f"{decoded} of the {header} frames the header declares "
                 "decode"}], info
    return [], info


# ---------------------------------------------------------------------------------- sources
class _VideoSource:
    """The videos of one split of a clip dataset (Kinetics, SSv2, a folder), read by its loader."""

    dataset_name = "kinetics"

    def __init__(self, split: str, dataset, list_file: str, views: Sequence[Tuple[int, int]]):
        self.split, self.dataset, self.list_file, self.views = split, dataset, list_file, list(views)
        self.keys = [f"{split}\t{i}\t{p}" for i, p in enumerate(dataset.video_paths)]
        self.paths = list(dataset.video_paths)

    def check(self, i: int) -> Tuple[List[Dict], Dict]:
        ds = self.dataset
        loader_error = None
        try:
            for view in self.views:
                ds._decode(i, view)
        except VideoDecodeError as e:
            loader_error = e.reason
        path = ds.video_paths[i]
        problems, info = scan_video(path)
        if path != self.paths[i]:  # SSv2's loader took <id>.mp4 for a missing <id>.webm
            info["path"] = path
        if not problems and loader_error:
            problems = [{"kind": "loader_error", "reason": f"{ds.backend}: {loader_error}"}]
        if not problems and info.get("decoded_until") is not None:
            end = info["decoded_until"] + 1.0 / info["fps"]  # the last frame is shown until then
            need = max(max(ds._clip_times(info["duration"] or 0.0, info["fps"], v)) for v in self.views)
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

    def __init__(self, dataset, report: str):
        super().__init__("videos", dataset, "", [(j, dataset.num_temporal) for j in range(dataset.num_temporal)])
        self.clean_file = folder_clean_path(report)

    def outputs(self):
        return [self.clean_file]

    def clean_text(self, bad):
        return {self.clean_file: "".join(p + "\n" for i, p in enumerate(self.paths) if i not in bad).encode()}


class _FilesDataset(KineticsDataset):
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


class _AVASource:
    """The videos of an AVA split: each keyframe clip's frame files loaded as the loader loads them."""

    dataset_name = "ava"

    def __init__(self, cfg, split: str, list_files: List[str]):
        from .ava import AVADataset

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

    def check(self, i: int) -> Tuple[List[Dict], Dict]:
        paths = self.frames[self.vids[i]]
        bad: Dict[str, List[str]] = defaultdict(list)
        size = None
        for p in paths:
            full = os.path.join(self.dataset.frame_dir, p)
            kind, reason, _ = _file_problem(full)
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


def _dataset_name(cfg, split: str) -> str:
    return (cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET).lower()


def _views(split: str, dataset) -> List[Tuple[int, int]]:
    """Temporal views checked: the loader's random train start at its extremes and middle."""
    if split == "train":
        return [(0, 3), (1, 3), (2, 3)]
    if split == "val":
        return [(0, 1)]
    return [(j, dataset.num_temporal) for j in range(dataset.num_temporal)]


def _index_files(cfg, split: str) -> Tuple[str, ...]:
    """The files the split's dataset reads its index from."""
    name = _dataset_name(cfg, split)
    if name == "ava":
        from .ava import ava_path

        lists = cfg.AVA.TRAIN_LISTS if split == "train" else cfg.AVA.TEST_LISTS
        return tuple(ava_path(cfg, cfg.AVA.FRAME_LIST_DIR, n) for n in lists)
    if name == "ssv2":
        from .ssv2 import FILES

        return (os.path.join(cfg.DATA.PATH_TO_DATA_DIR, FILES[split]),)
    return (os.path.join(cfg.DATA.PATH_TO_DATA_DIR, f"{split}.csv"),)


def _source(cfg, split: str, files: Tuple[str, ...]):
    from .loader import build_dataset

    name = _dataset_name(cfg, split)
    if name == "ava":
        return _AVASource(cfg, split, list(files))
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
        name = _dataset_name(cfg, split)
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


# ---------------------------------------------------------------------------------- workers
_SOURCES: Dict[str, object] = {}
_STARTED = None  # in a worker: a queue told each job before it runs (to find one that kills the process)


def _exit_with_parent(parent: int) -> None:
    """A worker's watch: its parent killed (kill -9), it would otherwise wait for jobs forever."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _init_worker(sources: Dict[str, object], started) -> None:
    import signal
    import threading

    import torch

    global _STARTED
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, lambda *_: os._exit(1))  # Ctrl-C: no traceback per worker
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _SOURCES.clear()
    _SOURCES.update(sources)
    _STARTED = started


def _work(job: Tuple[str, int]) -> Tuple[str, int, List[Dict], Dict]:
    if _STARTED is not None:
        _STARTED.put(job)
    split, i = job
    problems, info = _SOURCES[split].check(i)
    return split, i, problems, info


def _results(jobs: List[Tuple[str, int]], sources: Dict[str, object], workers: int):
    """(split, index, problems, info) of each job, in worker processes when ``workers`` > 0.

    A video that kills its worker (a decoder crash) breaks the pool: the jobs that had started
    and not finished are then run one per process, the one that kills it again is reported as
    "crashed", and the rest go on in a new pool.
    """
    if workers <= 0:
        _SOURCES.clear()
        _SOURCES.update(sources)
        yield from map(_work, jobs)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # fork: the workers inherit the datasets instead of unpickling them; spawn elsewhere
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    pending = list(jobs)
    while pending:
        started, done, broken = ctx.SimpleQueue(), set(), False
        running = set()
        pool = ProcessPoolExecutor(min(workers, len(pending)), mp_context=ctx, initializer=_init_worker,
                                   initargs=(sources, started))
        try:
            futures = {pool.submit(_work, j): j for j in pending}
            for f in as_completed(futures):
                while not started.empty():  # drained as results come, so the pipe never fills
                    running.add(started.get())
                try:
                    result = f.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                done.add(futures[f])
                yield result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        while not started.empty():
            running.add(started.get())
        suspects = [j for j in pending if j in running and j not in done] if broken else []
        for job in suspects:
            yield _alone(job, ctx, sources)
        pending = [j for j in pending if j not in done and j not in suspects]


def _alone(job: Tuple[str, int], ctx, sources) -> Tuple[str, int, List[Dict], Dict]:
    """``_work(job)`` in a process of its own; a "crashed" problem when that process dies."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(1, mp_context=ctx, initializer=_init_worker, initargs=(sources, None)) as pool:
        try:
            return pool.submit(_work, job).result()
        except BrokenProcessPool:
            return (*job, [{"kind": "crashed", "reason": "reading it killed the worker process (a decoder "
                            "crash); the loader would die on it too"}], {})


# ---------------------------------------------------------------------------------- outputs
def _not_ours(path: str, why: str) -> OutputExists:
    return OutputExists(f"'{path}' exists and {why}: the dataset checker never overwrites a file it did not "
                        "write; move it away or choose another --out")


def _own_report(path: str) -> Dict:
    """The earlier report at ``path`` ({} when there is none); refuses a file that is not one."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("tool") != TOOL:
        raise _not_ours(path, "is not a report of the dataset checker")
    return data


class _Progress:
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
                raise _not_ours(path, "is not a progress file of the dataset checker")
            if restart or old.get("fingerprint") != fingerprint:
                logger.info("%s: %s; checking every video again", path, "--restart" if restart else
                            "made with other DATA / AVA / TEST view settings")
                lines = []
        complete = [json.loads(line) for line in lines[1:-1]]  # lines[-1]: b"" or a line cut by a kill
        self.records = {r["key"]: r for r in complete}
        if not lines or lines[-1]:
            _write_new(path, "".join(json.dumps(r) + "\n" for r in [header] + complete).encode())
        self._file = open(path, "a")

    def add(self, record: Dict) -> None:
        self.records[record["key"]] = record
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _fingerprint(cfg) -> str:
    """What decides a video's result: DATA.*, AVA.*, the test views and the datasets."""
    keys = {"DATA": cfg.DATA, "AVA": cfg.AVA, "views": [cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS],
            "datasets": [cfg.TRAIN.DATASET, cfg.TEST.DATASET]}
    return hashlib.sha256(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()[:16]


def default_report_path(cfg, videos_dir: str = "") -> str:
    """``<folder>.check.json`` beside a checked folder, else ``DATA.PATH_TO_DATA_DIR/dataset_check.json``."""
    if videos_dir:
        return os.path.normpath(os.path.abspath(videos_dir)) + ".check.json"
    return os.path.join(cfg.DATA.PATH_TO_DATA_DIR, "dataset_check.json")


# ---------------------------------------------------------------------------------- the run
def _status(problems: List[Dict]) -> str:
    if any(p["kind"] not in WARNINGS for p in problems):
        return "problem"
    return "warning" if problems else "ok"


def check_dataset(cfg, splits: Optional[Sequence[str]] = None, videos_dir: str = "", out: str = "",
                  workers: int = 0, restart: bool = False, progress: bool = True) -> Dict:
    """Check every video of ``splits`` (or of ``videos_dir``); returns the report (also written to ``out``).

    Raises OutputExists before any work when an output would replace a file this checker did
    not write. Interrupted, it keeps the finished videos in the progress file; the same call
    then checks only the others.
    """
    from tqdm import tqdm

    report_path = out or default_report_path(cfg, videos_dir)
    sources = build_sources(cfg, splits, videos_dir, report_path)
    old = _own_report(report_path)
    written = dict(old.get("written", {}))
    for path in [p for s in sources for p in s.outputs()]:
        if os.path.exists(path) and written.get(os.path.abspath(path)) != _sha256(path):
            raise _not_ours(path, "was not written by the dataset checker (or changed since it was)")
    state = _Progress(progress_path(report_path), _fingerprint(cfg), restart)
    by_split = {s.split: s for s in sources}
    jobs = [(s.split, i) for s in sources for i, k in enumerate(s.keys) if k not in state.records]
    done = sum(len(s.keys) for s in sources) - len(jobs)
    logger.info("checking %d videos (%d already in %s) with %d worker(s)", len(jobs), done, state.path, workers)
    t0, found = time.time(), Counter()
    try:
        with tqdm(total=len(jobs), unit="video", desc="checking", disable=not progress) as bar:
            for split, i, problems, info in _results(jobs, by_split, workers):
                src = by_split[split]
                state.add({"key": src.keys[i], "path": src.paths[i], "problems": problems, "info": info})
                found.update(p["kind"] for p in problems)
                bar.set_postfix_str(", ".join(f"{k} {n}" for k, n in found.most_common(3)), refresh=False)
                bar.update()
    finally:
        state.close()
    report = _assemble(cfg, sources, state.records, written, videos_dir)
    report["seconds"] = round(time.time() - t0, 1)
    report["checked_now"] = len(jobs)
    _write_new(report_path, (json.dumps(report, indent=1) + "\n").encode())
    report["report"] = report_path
    return report


def _assemble(cfg, sources, records: Dict[str, Dict], written: Dict[str, str], videos_dir: str) -> Dict:
    """Build the report from the records and write the cleaned lists (recorded in ``written``)."""
    videos, splits, total = [], {}, Counter()
    for s in sources:
        bad, counts, status = set(), Counter(), Counter()
        for i, key in enumerate(s.keys):
            r = records[key]
            problems = r["problems"] + s.extra_problems(i)
            entry = {"split": s.split, "path": r["path"], "status": _status(problems), "problems": problems,
                     "info": r["info"]}
            if isinstance(s, (_KineticsSource, _SSv2Source)):
                entry["label"] = s.dataset.labels[i]
            if entry["status"] == "problem":
                bad.add(i)
            status[entry["status"]] += 1
            counts.update(p["kind"] for p in problems)
            videos.append(entry)
        bad_lines = getattr(s, "bad_lines", [])
        if bad_lines:
            counts["bad_line"] = len(bad_lines)
        clean = s.clean_text(bad)
        for path, data in clean.items():
            written[os.path.abspath(path)] = _write_new(path, data)
        splits[s.split] = {"lists": getattr(s, "list_files", None) or [s.list_file or videos_dir],
                           "clean_lists": sorted(clean), "videos": len(s.keys), "ok": status["ok"],
                           "warnings": status["warning"], "problems": status["problem"],
                           "bad_lines": len(bad_lines), "counts": dict(counts), "bad_line_list": bad_lines}
        total.update(counts)
    summary = {k: sum(v[k] for v in splits.values()) for k in ("videos", "ok", "warnings", "problems", "bad_lines")}
    summary["counts"] = dict(total)
    kinds = {k: {**PROBLEMS, **WARNINGS}[k] for k in sorted(total)}
    return {"tool": TOOL, "version": VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "dataset": sources[0].dataset_name, "backend": cfg.DATA.DECODING_BACKEND,
            "data_dir": videos_dir or cfg.DATA.PATH_TO_DATA_DIR, "summary": summary, "kinds": kinds,
            "splits": splits, "videos": videos, "written": written}
