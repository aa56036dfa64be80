"""The live demo loop: predict on the newest window of a live source as often as the model can.

Each prediction is one JSON line::

    {"time": 3.47, "start": 2.93, "end": 3.47, "window": 40, "top5": [{"class": 1, "name": "move_right",
     "score": 0.97}, ...], "latency_ms": 41.2, "compute_ms": 38.0, "frame_times": [2.93, ...]}

``time`` = ``end`` = the newest frame's time plus one sampling step (seconds since the first
frame, as ``extract_features``' clip times); ``latency_ms`` runs from the decoding of the
window's newest frame to its scores (waiting for the model included), ``compute_ms`` is the
preprocessing and forward pass alone. The run ends with one ``{"summary": ...}`` line.
"""
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import numpy as np
import torch

from hiera_video.data.transforms import build_eval_transform

from .extract import clip_from_frames, run_clips
from .live_source import LiveReader, Window
from .predict import top_k

logger = logging.getLogger(__name__)

@dataclass
class LiveSummary:
    """What a live run saw; ``skipped`` windows completed while the model was busy."""

    windows: int = 0
    predicted: int = 0
    latency_ms: List[float] = field(default_factory=list)
    compute_ms: List[float] = field(default_factory=list)
    stopped_by: str = ""  # "end of stream", "interrupted", "stalled", "error"
    message: str = ""

    @property
    def skipped(self) -> int:
        return self.windows - self.predicted

    def as_dict(self) -> dict:
        mean = lambda xs: round(float(np.mean(xs)), 1) if xs else None  # noqa: E731
        return dict(windows=self.windows, predicted=self.predicted, skipped=self.skipped,
                    skipped_share=round(self.skipped / self.windows, 3) if self.windows else None,
                    mean_latency_ms=mean(self.latency_ms), mean_compute_ms=mean(self.compute_ms),
                    stopped_by=self.stopped_by, message=self.message)


@torch.no_grad()
def predict_window(model, window: Window, transform, size: int) -> torch.Tensor:
    """Class probabilities ``[K]`` of one window (centre crop)."""
    clip = clip_from_frames(np.stack(window.frames), transform, size)
    device = next(model.parameters()).device
    return run_clips(model, clip[None].to(device), logits=True)["logits"][0].float().softmax(-1).cpu()


@torch.no_grad()
def warm_up(model, cfg, passes: int = 2) -> None:
    """A few forward passes on zeros before the stream starts: the first ones pay one-time costs
    (allocation, kernel choice) that would otherwise show as the first windows' latency."""
    size = cfg.DATA.TEST_CROP_SIZE
    x = torch.zeros(1, 1, cfg.DATA.INPUT_CHANNEL_NUM[0], cfg.DATA.NUM_FRAMES, size, size)
    for _ in range(passes):
        run_clips(model, x.to(next(model.parameters()).device), logits=True)


def window_record(window: Window, step: float, top5, latency_ms: float, compute_ms: float) -> dict:
    end = round(window.times[-1] + step, 4)
    return dict(time=end, start=round(window.times[0], 4), end=end, window=window.index,
                top5=[{"class": idx, "name": name, "score": round(score, 4)} for idx, name, score in top5],
                latency_ms=round(latency_ms, 1), compute_ms=round(compute_ms, 1),
                frame_times=[round(t, 4) for t in window.times])


def run_live(model, reader: LiveReader, cfg, class_names: Optional[Sequence[str]] = None,
             emit: Callable[[str], None] = print, show: Optional[Callable] = None) -> LiveSummary:
    """Predict on ``reader``'s newest windows until the stream ends, stalls, fails or Ctrl-C.

    ``emit`` gets each JSON line; ``show(frame [H, W, 3], top5)`` (optional) draws the newest
    frame. The reader is started here (after a warm-up) and stopped on the way out.
    """
    warm_up(model, cfg)
    transform, size = build_eval_transform(cfg), cfg.DATA.TEST_CROP_SIZE
    step = cfg.DATA.SAMPLING_RATE / cfg.DATA.TARGET_FPS
    summary, last = LiveSummary(), -1
    logger.info("reading %s: windows of %d frames at %g fps, every %d frames", reader.source, reader.num_frames,
                cfg.DATA.TARGET_FPS, reader.stride)
    reader.start()
    try:
        while True:
            window, status = reader.take(last)
            if window is None:
                break
            t0 = time.monotonic()
            top5 = top_k(predict_window(model, window, transform, size), class_names)
            done = time.monotonic()
            summary.latency_ms.append((done - window.arrived) * 1000)
            summary.compute_ms.append((done - t0) * 1000)
            summary.predicted += 1
            emit(json.dumps(window_record(window, step, top5, summary.latency_ms[-1], summary.compute_ms[-1])))
            if show is not None:
                show(window.frames[-1], top5)
            last = window.index
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        reader.stop()
    summary.windows = reader.windows
    summary.stopped_by = {"ended": "end of stream"}.get(status, status)
    if status == "error":
        summary.message = reader.error
    elif status == "stalled":
        what = "no frame" if reader.opened else "not opened (no data?)"
        summary.message = f"live source '{reader.source}': {what} for {reader.timeout:g} s; giving up (--timeout)"
    elif status == "ended" and reader.windows == 0:
        summary.message = (f"the stream ended after {reader.frames} frames, before one full window "
                           f"({reader.ring.maxlen} frames at DATA.TARGET_FPS)")
    return summary
