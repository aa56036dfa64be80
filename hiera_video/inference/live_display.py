"""``--display``: the newest frame with its top-5 in a matplotlib window (no OpenCV needed)."""
from typing import List, Optional, Tuple

import numpy as np

_NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


class FrameWindow:
    """A figure that shows one frame and its labels; closing it stops the demo (as Ctrl-C)."""

    def __init__(self, title: str):
        import matplotlib.pyplot as plt

        self.plt = plt
        plt.ion()
        self.fig, self.ax = plt.subplots(num=title)
        self.ax.axis("off")
        self.image = self.label = None

    def __call__(self, frame: np.ndarray, top5: List[Tuple[int, str, float]]) -> None:
        """Draw ``frame`` uint8 ``[H, W, 3]`` with ``top5`` ``[(class, name, score)]``."""
        if not self.plt.fignum_exists(self.fig.number):
            raise KeyboardInterrupt  # the user closed the window
        text = "\n".join(f"{score * 100:5.1f}% {name}" for _, name, score in top5)
        if self.image is None:
            self.image = self.ax.imshow(frame)
            self.label = self.ax.text(4, 4, text, va="top", family="monospace", color="white",
                                      bbox=dict(facecolor="black", alpha=0.6, pad=3))
        else:
            self.image.set_data(frame)
            self.label.set_text(text)
        self.fig.canvas.draw_idle()
        self.fig.canvas.flush_events()


def open_display(title: str) -> Tuple[Optional[FrameWindow], str]:
    """``(window, "")`` where a screen exists, else ``(None, why not)``."""
    try:
        import matplotlib.pyplot as plt

        backend = plt.get_backend().lower()
        if backend in _NON_INTERACTIVE:
            return None, (f"no screen to draw on (matplotlib chose the '{backend}' backend: DISPLAY / "
                          "WAYLAND_DISPLAY unset or unreachable, or no GUI toolkit such as tkinter)")
        return FrameWindow(title), ""
    except Exception as e:  # noqa: BLE001 - a GUI that fails to start must not stop the predictions
        return None, f"cannot open a window ({type(e).__name__}: {e})"
