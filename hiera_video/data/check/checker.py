"""Check a dataset before training: decode every video as the loader does, report, write cleaned lists.

Sources, one per split (``check_dataset``):
  * Kinetics-format lists ``DATA.PATH_TO_DATA_DIR/<split>.csv`` (TRAIN.DATASET / TEST.DATASET kinetics),
  * Something-Something-v2's official json files (ssv2),
  * AVA frame lists and box CSVs (ava): every frame file a keyframe's clip uses must exist and load,
  * a plain folder of videos (``videos_dir``): every file under it.

A video is read twice. First through the dataset's own ``decode`` (DATA.DECODING_BACKEND and the
frame times of its clip sampler: train at the first, middle and last clip start, val the centre
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
import json
import logging
import os
import time
from collections import Counter
from typing import Dict, Optional, Sequence

from .outputs import (TOOL, OutputExists, Progress, default_report_path, fingerprint, not_ours, own_report,
                            progress_path, sha256, write_new)
from .pool import results
from .report import assemble
from .scan import scan_video
from .sources import build_sources

logger = logging.getLogger(__name__)


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
    old = own_report(report_path)
    written = dict(old.get("written", {}))
    for path in [p for s in sources for p in s.outputs()]:
        if os.path.exists(path) and written.get(os.path.abspath(path)) != sha256(path):
            raise not_ours(path, "was not written by the dataset checker (or changed since it was)")
    state = Progress(progress_path(report_path), fingerprint(cfg), restart)
    by_split = {s.split: s for s in sources}
    jobs = [(s.split, i) for s in sources for i, k in enumerate(s.keys) if k not in state.records]
    done = sum(len(s.keys) for s in sources) - len(jobs)
    logger.info("checking %d videos (%d already in %s) with %d worker(s)", len(jobs), done, state.path, workers)
    t0, found = time.time(), Counter()
    try:
        with tqdm(total=len(jobs), unit="video", desc="checking", disable=not progress) as bar:
            for split, i, problems, info in results(jobs, by_split, workers, scan_video):
                src = by_split[split]
                state.add({"key": src.keys[i], "path": src.paths[i], "problems": problems, "info": info})
                found.update(p["kind"] for p in problems)
                bar.set_postfix_str(", ".join(f"{k} {n}" for k, n in found.most_common(3)), refresh=False)
                bar.update()
    finally:
        state.close()
    report = assemble(cfg, sources, state.records, written, videos_dir)
    report["seconds"] = round(time.time() - t0, 1)
    report["checked_now"] = len(jobs)
    write_new(report_path, (json.dumps(report, indent=1) + "\n").encode())
    report["report"] = report_path
    return report
