"""Results of a run to look at, read back from OUTPUT_DIR.

Reads ``stdout.log`` (its ``json_stats:`` lines) and the test's per-video predictions
(JSON lines with ``label``, ``top5`` and optional names), writes
``training_curves.png``, ``confusion_matrix.png`` and ``per_class_accuracy.csv``.
"""
import csv
import json
import os
from typing import Dict, List, Optional

import numpy as np

MAX_MATRIX_CLASSES = 30  # above this, the confusion matrix shows the most frequent classes


def read_json_stats(log_path: str) -> List[Dict]:
    """Every ``json_stats: {...}`` record of a log, in order."""
    records = []
    with open(log_path) as f:
        for line in f:
            _, sep, payload = line.partition("json_stats: ")
            if sep:
                try:
                    records.append(json.loads(payload))
                except ValueError:
                    continue
    return records


def _epoch(record: Dict) -> int:
    return int(str(record["epoch"]).split("/")[0])


def plot_training_curves(stats: List[Dict], path: str) -> Optional[str]:
    """Loss, learning rate and top-1 if logged (train and val) per epoch; None when there is no epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in stats if r.get("_type") == "train_epoch"]
    val = [r for r in stats if r.get("_type") == "val_epoch"]
    if not train:
        return None
    series = [("loss", "loss"), ("lr", "learning rate")]
    if any("top1" in r for r in train + val):  # classification (MAE pretraining has none)
        series.append(("top1", "top-1 (%)"))
    fig, axes = plt.subplots(1, len(series), figsize=(4.4 * len(series), 3.6))
    for ax, (key, title) in zip(axes, series):
        points = [(_epoch(r), r[key]) for r in train if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points), marker="o", ms=3, label="train")
        vpoints = [(_epoch(r), r[key]) for r in val if r.get(key) is not None]
        if vpoints:
            ax.plot(*zip(*vpoints), marker="s", ms=4, label="val")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if points and vpoints:
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def read_predictions(path: str) -> List[Dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def per_class_accuracy(predictions: List[Dict], path: str) -> List[Dict]:
    """CSV ``class, name, videos, top1, top5`` (percent), one row per class seen in the labels."""
    rows: Dict[int, Dict] = {}
    for p in predictions:
        row = rows.setdefault(p["label"], dict(cls=p["label"], name=p.get("label_name", str(p["label"])),
                                              videos=0, top1=0, top5=0))
        row["videos"] += 1
        row["top1"] += int(p["top5"][0] == p["label"])
        row["top5"] += int(p["label"] in p["top5"])
    table = [dict(r, top1=100.0 * r["top1"] / r["videos"], top5=100.0 * r["top5"] / r["videos"])
             for _, r in sorted(rows.items())]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["cls", "name", "videos", "top1", "top5"])
        writer.writeheader()
        writer.writerows(table)
    return table


def plot_confusion_matrix(predictions: List[Dict], path: str, max_classes: int = MAX_MATRIX_CLASSES) -> str:
    """Row-normalised confusion matrix of true label vs top-1 prediction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names: Dict[int, str] = {}
    for p in predictions:
        names[p["label"]] = p.get("label_name", str(p["label"]))
        for c, n in zip(p["top5"], p.get("top5_names", [str(c) for c in p["top5"]])):
            names.setdefault(c, n)
    counts: Dict[int, int] = {}
    for p in predictions:
        counts[p["label"]] = counts.get(p["label"], 0) + 1
    classes = sorted(sorted(counts, key=lambda c: -counts[c])[:max_classes])
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)))
    for p in predictions:
        if p["label"] in index and p["top5"][0] in index:
            matrix[index[p["label"]], index[p["top5"][0]]] += 1
    matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.35 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    labels = [names[c] for c in classes]
    ax.set_xticks(range(len(classes)), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(classes)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    shown = "" if len(counts) <= max_classes else f" ({len(classes)} most frequent of {len(counts)} classes)"
    ax.set_title("confusion matrix" + shown)
    if len(classes) <= 12:
        for i in range(len(classes)):
            for j in range(len(classes)):
                if matrix[i, j] > 0:
                    ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if matrix[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def make_run_plots(output_dir: str, predictions_path: Optional[str] = None) -> Dict[str, str]:
    """Write every picture/table the run's files allow; returns {what: path}."""
    written = {}
    log = os.path.join(output_dir, "stdout.log")
    if os.path.isfile(log):
        curves = plot_training_curves(read_json_stats(log), os.path.join(output_dir, "training_curves.png"))
        if curves:
            written["training_curves"] = curves
    if predictions_path is None:
        results = os.path.join(output_dir, "test_results.json")
        if os.path.isfile(results):
            with open(results) as f:
                predictions_path = json.load(f).get("predictions_file")
    if predictions_path and os.path.isfile(predictions_path):
        predictions = read_predictions(predictions_path)
        if predictions:
            written["per_class_accuracy"] = os.path.join(output_dir, "per_class_accuracy.csv")
            per_class_accuracy(predictions, written["per_class_accuracy"])
            written["confusion_matrix"] = plot_confusion_matrix(predictions, os.path.join(output_dir, "confusion_matrix.png"))
    return written
