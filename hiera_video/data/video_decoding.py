"""Frame-accurate clip decoding with PyAV or decord (DATA.DECODING_BACKEND).

A clip is asked for as *times*: ``num_frames`` instants ``start + k * step`` seconds
(``step = DATA.SAMPLING_RATE / DATA.TARGET_FPS``), and each instant gets the frame shown
at that time (the nearest one). Instants past the end of the video get its last frame,
which pads clips shorter than the sampled span by repeating frames, as PySlowFast does
(it clamps frame indices to the last frame).

Why not ``pytorchvideo.data.encoded_video.EncodedVideo.get_clip``: it converts *every*
frame of the time window to float32 (64 frames for a 16x4 clip at 30 fps, four times the
16 the model sees) and hides the timestamps needed for frame-rate conversion and padding.
Here only the selected frames are converted to RGB, and they stay uint8.

PyAV selects frames by their presentation timestamps, so variable-frame-rate files are
sampled correctly; decord selects by index at the average frame rate (exact for constant
frame rates, approximate otherwise).

Every failure (missing, empty, truncated or corrupt file, no video stream, no decodable
frame) is raised as :class:`VideoDecodeError` naming the path and the reason, so the
dataset can log it and carry on.
"""
import math
import os
from typing import Callable, List, Sequence

import numpy as np
import torch

BACKENDS = ("pyav", "decord")


class VideoDecodeError(RuntimeError):
    """A video that cannot be decoded; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"cannot decode video '{path}': {reason}")
        self.path = path
        self.reason = reason


def clip_times(start_sec: float, num_frames: int, step_sec: float) -> List[float]:
    """The ``num_frames`` instants (seconds) of a clip starting at ``start_sec``."""
    return [start_sec + k * step_sec for k in range(num_frames)]


class _PyAVVideo:
    """One open PyAV container; frames selected by time, decoded after one seek."""

    def __init__(self, path: str):
        import av
        from av.video.reformatter import VideoReformatter

        self.path = path
        self._rgb = VideoReformatter()
        try:
            self._container = av.open(path)
        except Exception as e:  # av.error.* for corrupt / empty files
            raise VideoDecodeError(path, f"{type(e).__name__}: {e}") from None
        if not self._container.streams.video:
            self.close()
            raise VideoDecodeError(path, "no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "SLICE"  # frame threads add latency on tiny clips
        tb = self._stream.time_base
        self._start = float(self._stream.start_time * tb) if self._stream.start_time else 0.0
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else 30.0
        if self._stream.duration:
            self.duration = float(self._stream.duration * tb)
        elif self._container.duration:
            self.duration = self._container.duration / 1e6
        elif self._stream.frames:
            self.duration = self._stream.frames / self.fps
        else:
            self.duration = None  # unknown until decoded; callers treat as 0

    def frames_at(self, times: Sequence[float]) -> np.ndarray:
        """uint8 [T, H, W, 3]: for each time, the frame nearest to it (last one past the end)."""
        half = 0.5 / self.fps
        if times[0] > 1.0:  # seek only when it skips real work
            target = int((times[0] - 1.0 + self._start) / self._stream.time_base)
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        picked: List = [None] * len(times)
        k, prev, count = 0, None, 0
        try:
            for frame in self._container.decode(self._stream):
                t = frame.time - self._start if frame.time is not None else count / self.fps
                count += 1
                while k < len(times) and t > times[k] + half:
                    picked[k] = prev if prev is not None else frame
                    k += 1
                if k == len(times):
                    break
                prev = frame
        except Exception as e:
            if prev is None:
                raise VideoDecodeError(self.path, f"{type(e).__name__}: {e}") from None
            # a truncated tail: keep what decoded, pad with the last good frame
        if prev is None:
            raise VideoDecodeError(self.path, "no decodable video frame")
        for j in range(k, len(times)):
            picked[j] = prev
        arrays = {}
        for f in picked:  # a reused reformatter is ~10x faster than frame.to_ndarray(format=...)
            if id(f) not in arrays:
                arrays[id(f)] = self._rgb.reformat(f, format="rgb24").to_ndarray()
        return np.stack([arrays[id(f)] for f in picked])

    def close(self):
        self._container.close()


class _DecordVideo:
    """decord.VideoReader (video only, so no audio decoding); frames by index."""

    def __init__(self, path: str):
        import decord

        self.path = path
        if not os.path.isfile(path):
            raise VideoDecodeError(path, "file not found")
        try:
            self._reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
            self._n = len(self._reader)
            self.fps = float(self._reader.get_avg_fps()) or 30.0
        except Exception as e:  # decord.DECORDError for corrupt / empty files
            raise VideoDecodeError(path, f"{type(e).__name__}: {str(e).splitlines()[0]}") from None
        if self._n == 0:
            raise VideoDecodeError(path, "no video frames")
        self.duration = self._n / self.fps

    def frames_at(self, times: Sequence[float]) -> np.ndarray:
        idx = [min(max(int(math.floor(t * self.fps + 0.5)), 0), self._n - 1) for t in times]
        try:
            return self._reader.get_batch(idx).asnumpy()
        except Exception as e:
            raise VideoDecodeError(self.path, f"{type(e).__name__}: {str(e).splitlines()[0]}") from None

    def close(self):
        del self._reader


def open_video(path: str, backend: str = "pyav"):
    """An open video with ``.duration`` (seconds or None), ``.fps``, ``.frames_at(times)``, ``.close()``."""
    if backend == "pyav":
        if not os.path.isfile(path):
            raise VideoDecodeError(path, "file not found")
        return _PyAVVideo(path)
    if backend == "decord":
        return _DecordVideo(path)
    raise ValueError(f"DATA.DECODING_BACKEND must be one of {BACKENDS}, got '{backend}'")


def decode_frames(path: str, backend: str, make_times: Callable[[float, float], Sequence[float]]) -> torch.Tensor:
    """Decode the frames at the times ``make_times(duration_sec, fps)`` chooses.

    Returns uint8 [T, C, H, W] (C = 3, RGB), T = len(times).
    """
    video = open_video(path, backend)
    try:
        times = list(make_times(video.duration or 0.0, video.fps))
        frames = video.frames_at(times)
    finally:
        video.close()
    return torch.from_numpy(frames).permute(0, 3, 1, 2)


def decode_clip(path: str, backend: str, num_frames: int, step_sec: float, start_sec=None,
                position: float = 0.5) -> torch.Tensor:
    """Decode one clip of ``num_frames`` frames, ``step_sec`` apart.

    Args:
        start_sec: clip start in seconds; if None, the start is ``position`` (0 = first
            possible, 1 = last possible start) of the room the video leaves around the clip.
    Returns:
        uint8 tensor [T, C, H, W] (T = num_frames, C = 3, RGB).
    """
    def make_times(duration, fps):
        start = start_sec
        if start is None:
            start = max(duration - num_frames * step_sec, 0.0) * position
        return clip_times(start, num_frames, step_sec)

    return decode_frames(path, backend, make_times)
