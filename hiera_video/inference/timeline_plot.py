"""timeline.png: the top classes' scores over time, with the segments as coloured bands."""
from typing import Dict, List, Optional, Sequence

import numpy as np

from hiera_video.utils.io import atomic_write


def class_name(names: Optional[Sequence[str]], idx: int) -> str:
    """The name of class ``idx``, or its index when there are no names."""
    return names[idx] if names and idx < len(names) else str(idx)


def plot_timeline(path: str, windows: np.ndarray, probs: np.ndarray, classes: List[int], segments: List[Dict],
                  names: Optional[Sequence[str]] = None, title: str = "") -> None:
    """Scores ``probs[:, c]`` ``[N]`` of each class in ``classes`` at the window centres ``windows.mean(1)``."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure  # not pyplot: a file, never a window

    colours = {c: colormaps["tab10"](i % 10) for i, c in enumerate(classes)}
    fig = Figure(figsize=(8, 3.6), dpi=90)
    ax, band = fig.subplots(2, 1, sharex=True, gridspec_kw=dict(height_ratios=[5, 1], hspace=0.08))
    centres = windows.mean(1)
    for c in classes:
        ax.plot(centres, probs[:, c], marker=".", lw=1.5, color=colours[c], label=class_name(names, c))
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("score")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    every = f" every {windows[1, 0] - windows[0, 0]:.2f} s" if len(windows) > 1 else ""
    ax.set_title(f"{title}: {len(windows)} windows of {windows[0, 1] - windows[0, 0]:.2f} s{every}", fontsize=9)
    total = segments[-1]["end"]
    for s in segments:
        band.axvspan(s["start"], s["end"], color=colours.get(s["class_index"], "grey"), alpha=0.8)
        if s["end"] - s["start"] > 0.12 * total:  # the legend names the narrow ones
            band.text((s["start"] + s["end"]) / 2, 0.5, s["class"], ha="center", va="center", fontsize=7)
    band.set_yticks([])
    band.set_ylabel("top-1", rotation=0, ha="right", va="center", fontsize=8)
    band.set_xlabel("time (s)")
    band.set_xlim(0, max(total, float(centres[-1])))
    fig.subplots_adjust(left=0.09, right=0.78, top=0.91, bottom=0.14)
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
