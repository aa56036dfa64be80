"""What happens when in a long video: class scores of sliding windows, and segments.

The windows and their clips are ``extract_features``' (decoded once per window, batched);
this module adds softmax scores, the runs of the same top class (segments) and the files
``timeline.jsonl``, ``timeline.csv``, ``segments.json`` and ``timeline.png``.

Segments tile the video: a window stands for the time closer to its centre than to its
neighbours' centres, so two runs meet halfway between the centres of the last window of
one and the first window of the next (with non-overlapping windows, at a window start).
"""
import csv
import io
import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .extract import extract_features
from .timeline_plot import class_name, plot_timeline
from hiera_video.utils.io import atomic_write, check_writable


def predict_timeline(model, path: str, cfg, stride_sec: float = 0.0, batch_size: int = 8,
                     num_crops: int = 1) -> Dict[str, object]:
    """``probs`` float ``[N, K]`` softmax scores, ``windows`` ``[N, 2]`` (start, end s), ``duration``."""
    result = extract_features(model, path, cfg, stride_sec=stride_sec, num_crops=num_crops, logits=True,
                              batch_size=batch_size)
    probs = torch.from_numpy(result["logits"]).softmax(-1).numpy()
    return dict(probs=probs, windows=result["clip_times"], duration=result["duration"], padded=result["padded"])


def find_segments(probs: np.ndarray, windows: np.ndarray, duration: float,
                  names: Optional[Sequence[str]] = None) -> List[Dict]:
    """Runs of windows with the same top class: ``start``, ``end`` (s), ``class``, ``class_index``,
    ``mean_score`` (its mean probability over the run), ``windows`` ``[first, last]``."""
    top = probs.argmax(1)
    centres = windows.mean(1)
    edges = [0.0] + [float(c) for c in (centres[1:] + centres[:-1]) / 2]
    edges.append(duration if duration > 0 else float(windows[-1, 1]))
    segments, first = [], 0
    for i in range(1, len(top) + 1):
        if i == len(top) or top[i] != top[first]:
            k = int(top[first])
            segments.append({"start": round(edges[first], 4), "end": round(edges[i], 4), "class": class_name(names, k),
                             "class_index": k, "mean_score": round(float(probs[first:i, k].mean()), 4),
                             "windows": [first, i - 1]})
            first = i
    return segments


def top_classes(probs: np.ndarray, k: int = 5) -> List[int]:
    """Every class that is top-1 somewhere, then the best by mean score, up to ``k`` (more if needed)."""
    winners = list(dict.fromkeys(int(c) for c in probs.argmax(1)))
    rest = [int(c) for c in np.argsort(-probs.mean(0)) if int(c) not in winners]
    return winners + rest[:max(0, k - len(winners))]


def write_timeline(out_dir: str, video: str, timeline: Dict, names: Optional[Sequence[str]] = None,
                   num_classes: int = 5, plot: bool = True) -> Tuple[Dict[str, str], List[Dict]]:
    """Write the four files into ``out_dir``; returns their paths by kind and the segments."""
    check_writable(out_dir)
    probs, windows, duration = timeline["probs"], timeline["windows"], timeline["duration"]
    segments = find_segments(probs, windows, duration, names)
    shown = top_classes(probs, num_classes)
    paths = {kind: os.path.join(out_dir, f"timeline.{kind}") for kind in ("jsonl", "csv", "png")}
    paths["segments"] = os.path.join(out_dir, "segments.json")

    lines = []
    for (start, end), p in zip(windows, probs):
        best = np.argsort(-p)[:5]
        lines.append(json.dumps(dict(start=round(float(start), 4), end=round(float(end), 4), top5=[
            {"class": int(c), "name": class_name(names, int(c)), "score": round(float(p[c]), 4)} for c in best])))
    atomic_write(paths["jsonl"], lambda f: f.write(("\n".join(lines) + "\n").encode()))

    table = io.StringIO()
    rows = csv.writer(table)
    rows.writerow(["start", "end"] + [class_name(names, c) for c in shown])
    for (start, end), p in zip(windows, probs):
        rows.writerow([f"{start:.4f}", f"{end:.4f}"] + [f"{p[c]:.4f}" for c in shown])
    atomic_write(paths["csv"], lambda f: f.write(table.getvalue().encode()))

    record = dict(video=video, duration=duration, num_windows=len(windows), segments=segments)
    atomic_write(paths["segments"], lambda f: f.write(json.dumps(record, indent=1).encode()))
    if plot:
        plot_timeline(paths["png"], windows, probs, shown, segments, names, title=os.path.basename(video))
    else:
        del paths["png"]
    return paths, segments
