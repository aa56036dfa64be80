"""Which frames a clip takes: one strategy object shared by the datasets, the demo
(``inference/predict``) and feature extraction (``inference/extract``), so that all three
sample a video the same way.

A sampler turns a video's duration (s) and frame rate into frame times (s):
  * ``random_clip(duration, fps)``: a training clip; it draws from torch's global RNG, which
    the dataset seeds per item (``samplers.seeded``);
  * ``view(duration, fps, j, n)``: temporal view ``j`` of ``n`` of the multi-view test
    (``n = 1``: the centre clip, as validation takes);
  * ``windows(duration, fps, stride_sec)``: the clips that cover a whole video, for extraction
    and the demo's timeline, as ``[(start, end, frame times)]``.

``UniformClipSampler`` (Kinetics and every list or folder dataset): DATA.NUM_FRAMES frames
DATA.SAMPLING_RATE apart at DATA.TARGET_FPS; the start is uniform over the room the video
leaves (random in training, views spread from the first to the last possible start).
``SegmentSampler`` (SSv2, as PySlowFast): the whole video cut into DATA.NUM_FRAMES equal
segments, one frame of each: random in training, at ``(j + 0.5) / n`` of each segment for view
``(j, n)``; a whole video is one window.
"""
import math
from dataclasses import dataclass
from typing import List, Tuple

import torch

from .video_decoding import clip_times

Window = Tuple[float, float, List[float]]  # start s, end s, frame times s


def sliding_windows(duration: float, span: float, stride: float = 0.0) -> List[Tuple[float, float]]:
    """Start/end seconds of windows of ``span`` seconds every ``stride`` (0 = ``span``, no overlap).

    Windows start at 0 and, when ``stride <= span``, cover the whole video; every window starts
    inside the video, and the last one may run past the end (its frames are padded by
    repeating the last frame). A video shorter than one window (or of unknown duration,
    ``duration <= 0``) gets exactly one window.
    """
    if span <= 0:
        raise ValueError(f"window span must be positive, got {span}")
    stride = stride or span
    if stride < 0:
        raise ValueError(f"window stride must be >= 0 seconds (0 = no overlap), got {stride}")
    if duration <= span:
        return [(0.0, span)]
    # Enough windows that the last one reaches the end of the video, none starting past it
    # (with a stride longer than the span, windows leave gaps, and the last must still start inside).
    count = min(1 + math.ceil((duration - span) / stride - 1e-9), math.ceil(duration / stride - 1e-9))
    return [(i * stride, i * stride + span) for i in range(count)]


@dataclass(frozen=True)
class UniformClipSampler:
    """``num_frames`` frames ``step_sec`` apart, the start uniform over the video."""

    num_frames: int
    step_sec: float

    @classmethod
    def from_cfg(cls, cfg) -> "UniformClipSampler":
        return cls(cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE / cfg.DATA.TARGET_FPS)

    @property
    def span(self) -> float:
        """Seconds one clip covers."""
        return self.num_frames * self.step_sec

    def random_clip(self, duration: float, fps: float) -> List[float]:
        return self._at(duration, float(torch.rand(())))

    def view(self, duration: float, fps: float, j: int, n: int) -> List[float]:
        return self._at(duration, j / (n - 1) if n > 1 else 0.5)

    def _at(self, duration: float, position: float) -> List[float]:
        """The clip starting at ``position`` (0 = first, 1 = last possible start)."""
        return clip_times(max(duration - self.span, 0.0) * position, self.num_frames, self.step_sec)

    def windows(self, duration: float, fps: float, stride_sec: float = 0.0) -> List[Window]:
        return [(s, e, clip_times(s, self.num_frames, self.step_sec))
                for s, e in sliding_windows(duration, self.span, stride_sec)]

    def pads(self, duration: float, fps: float) -> bool:
        """Whether a clip of this video repeats its last frame (the video is shorter than a clip)."""
        return duration < self.span


@dataclass(frozen=True)
class SegmentSampler:
    """One frame of each of ``num_frames`` equal segments of the whole video."""

    num_frames: int

    @classmethod
    def from_cfg(cls, cfg) -> "SegmentSampler":
        return cls(cfg.DATA.NUM_FRAMES)

    def random_clip(self, duration: float, fps: float) -> List[float]:
        return self._at(duration, fps, torch.rand(self.num_frames).tolist())

    def view(self, duration: float, fps: float, j: int, n: int) -> List[float]:
        return self._at(duration, fps, [(j + 0.5) / n] * self.num_frames)

    def _at(self, duration: float, fps: float, offsets: List[float]) -> List[float]:
        """Frame ``offsets[k]`` (0..1) into segment ``k``, as a time."""
        total = max(int(round(duration * fps)), 1)
        seg = total / self.num_frames
        return [min(int(seg * (k + o)), total - 1) / fps for k, o in enumerate(offsets)]

    def windows(self, duration: float, fps: float, stride_sec: float = 0.0) -> List[Window]:
        """The whole video as one window (its centre view); ``stride_sec`` does not apply."""
        return [(0.0, duration, self.view(duration, fps, 0, 1))]

    def pads(self, duration: float, fps: float) -> bool:
        return round(duration * fps) < self.num_frames
