"""Frame-accurate clip decoding with PyAV, decord or torchcodec (DATA.DECODING_BACKEND).

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
sampled correctly, and turns frames of files with rotation metadata upright; decord selects
by index at the average frame rate (exact for constant frame rates, approximate otherwise)
and returns frames as coded (no rotation).

Every failure (missing, empty, truncated or corrupt file, no video stream, no decodable
frame) is raised as :class:`VideoDecodeError` naming the path and the reason, so the
dataset can log it and carry on.
"""
import itertools
import math
import os
from typing import Callable, List, Sequence

import numpy as np
import torch

from .video_errors import VideoDecodeError

BACKENDS = ("pyav", "decord", "torchcodec")  # torchcodec: optional extra (torchcodec_video.py)
SEEK_AFTER_SEC = 10.0  # pyav: decode on through gaps up to this long instead of seeking
# pyav: FFmpeg's threading ("SLICE": within a frame; "FRAME"/"AUTO" add frame threads, which
# add latency on short clips). A module setting, for benchmarks (tools/benchmark.py --data).
PYAV_THREAD_TYPE = "SLICE"


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
            what = "not a video FFmpeg can read" if isinstance(e, av.error.InvalidDataError) else "cannot open"
            raise VideoDecodeError(path, f"{what} ({type(e).__name__}: {e})") from None
        if not self._container.streams.video:
            kinds = sorted({st.type for st in self._container.streams}) or ["none"]
            self.close()
            raise VideoDecodeError(path, f"no video stream (streams: {', '.join(kinds)})")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = PYAV_THREAD_TYPE
        self._carry = (None, -1.0, [], 0)  # (last frame used, its time, frame decoded past it, frames decoded)
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
        """uint8 [T, H, W, 3]: for each time, the frame nearest to it (last one past the end).

        A call whose first time is ahead of the last call's by at most SEEK_AFTER_SEC continues
        where that one stopped, keeping its last frame and the one decoded past it (a one-frame
        file or a corrupt tail still gives the next window the last good frame); a farther start,
        or an earlier one, seeks to the keyframe before it."""
        half = 0.5 / self.fps
        position = self._carry[1] if self._carry[0] is not None else 0.0  # where decoding stands
        going_back = times[0] + half < position
        # Seek only to go back or to skip more than SEEK_AFTER_SEC: a seek lands on the keyframe before
        # the target, which in a default x264 file may be 8 s back, so short gaps decode straight on.
        if going_back or times[0] - position > SEEK_AFTER_SEC:
            target = int((max(times[0] - 1.0, 0.0) + self._start) / self._stream.time_base)
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
            self._carry = (None, -1.0, [], 0)
        prev, _, pending, count = self._carry
        picked: List = [None] * len(times)
        k, frame, t = 0, None, -1.0
        try:
            for frame in itertools.chain(pending, self._container.decode(self._stream)):
                t = frame.time - self._start if frame.time is not None else count / self.fps
                count += 1
                while k < len(times) and t > times[k] + half:
                    picked[k] = prev if prev is not None else frame
                    k += 1
                if k == len(times):
                    break
                prev, frame = frame, None
        except Exception as e:
            if prev is None:
                raise VideoDecodeError(self.path, f"{type(e).__name__}: {e}") from None
            # a truncated or corrupt tail: keep what decoded, pad with the last good frame
        if prev is not None:
            prev_time = prev.time - self._start if prev.time is not None else (count - 2) / self.fps
            self._carry = (prev, prev_time, [frame] if frame is not None else [], count - (frame is not None))
        elif k < len(times):
            raise VideoDecodeError(self.path, "no decodable video frame")
        for j in range(k, len(times)):
            picked[j] = prev
        arrays = {}
        try:
            for f in picked:  # a reused reformatter is ~10x faster than frame.to_ndarray(format=...)
                if id(f) not in arrays:
                    arrays[id(f)] = _upright(self._rgb.reformat(f, format="rgb24").to_ndarray(),
                                             getattr(f, "rotation", 0))
        except Exception as e:  # a pixel format swscale cannot convert
            raise VideoDecodeError(self.path, f"cannot convert frames to RGB: {type(e).__name__}: {e}") from None
        return np.stack([arrays[id(f)] for f in picked])

    def close(self):
        self._container.close()


def _upright(rgb: np.ndarray, rotation: float) -> np.ndarray:
    """Frames of a file with a display matrix (phone videos), turned the way players show them;
    ``rotation`` is FFmpeg's counter-clockwise angle in degrees."""
    turns = int(round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


class _DecordVideo:
    """decord.VideoReader (video only, so no audio decoding); frames by index."""

    def __init__(self, path: str):
        import decord

        self.path = path
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
            batch = self._reader.get_batch(idx)
            # pytorchvideo's decord decoder switches decord's global bridge to torch
            return batch.asnumpy() if hasattr(batch, "asnumpy") else batch.numpy()
        except Exception as e:
            raise VideoDecodeError(self.path, f"{type(e).__name__}: {str(e).splitlines()[0]}") from None

    def close(self):
        del self._reader


def check_readable_file(path: str) -> None:
    """Raise ``VideoDecodeError`` with a plain reason for what no decoder can open: a missing
    path, a folder, an empty file, a file this process may not read."""
    if os.path.isdir(path):
        raise VideoDecodeError(path, "a folder, not a video file")
    if not os.path.isfile(path):
        raise VideoDecodeError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(path, "empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise VideoDecodeError(path, "permission denied (cannot read the file)")


def open_video(path: str, backend: str = "pyav"):
    """An open video with ``.duration`` (seconds or None), ``.fps``, ``.frames_at(times)``, ``.close()``."""
    if backend not in BACKENDS:
        raise ValueError(f"DATA.DECODING_BACKEND must be one of {BACKENDS}, got '{backend}'")
    check_readable_file(path)
    if backend == "torchcodec":
        from .torchcodec_video import TorchcodecVideo

        return TorchcodecVideo(path)
    return _PyAVVideo(path) if backend == "pyav" else _DecordVideo(path)


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


def decode_clips(path: str, backend: str, make_times: Callable[[float, float], Sequence[Sequence[float]]],
                 gap_sec: float = SEEK_AFTER_SEC) -> List:
    """Several clips of one video from one open file: ``make_times(duration_sec, fps)`` gives
    each clip's frame times. Clips whose spans overlap or lie within ``gap_sec`` of each other
    are decoded in one sequential pass (the union of their times; each time still gets the
    frame nearest to it, so a clip is the same as decoded alone); a farther clip is reached
    by a seek (pyav), so a long video is only decoded where sampled.

    Returns per clip uint8 [T, C, H, W], or the ``VideoDecodeError`` of a clip whose frames
    could not be decoded; a file that cannot be opened raises it.
    """
    video = open_video(path, backend)
    try:
        clips = [list(t) for t in make_times(video.duration or 0.0, video.fps)]
        out: List = [None] * len(clips)
        for group in _nearby_groups(clips, gap_sec):
            union = sorted({t for i in group for t in clips[i]})
            try:
                frames = torch.from_numpy(video.frames_at(union)).permute(0, 3, 1, 2)
            except VideoDecodeError as e:
                for i in group:
                    out[i] = e
                continue
            position = {t: k for k, t in enumerate(union)}
            for i in group:
                out[i] = frames[[position[t] for t in clips[i]]]
    finally:
        video.close()
    return out


def _nearby_groups(clips: Sequence[Sequence[float]], gap_sec: float) -> List[List[int]]:
    """Clip indices grouped (in time order) where a clip starts within ``gap_sec`` of the group's end."""
    groups: List[List[int]] = []
    end = -math.inf
    for i in sorted(range(len(clips)), key=lambda i: min(clips[i])):
        if groups and min(clips[i]) <= end + gap_sec:
            groups[-1].append(i)
        else:
            groups.append([i])
        end = max(end, max(clips[i])) if len(groups[-1]) > 1 else max(clips[i])
    return groups


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
