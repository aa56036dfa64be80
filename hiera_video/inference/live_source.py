"""Frames of a live source (camera, network stream, pipe) into a ring buffer, on a thread.

The reader thread decodes the source, resamples it to ``target_fps`` (for each sampling
instant, the first frame shown at or after it) and keeps the last window's frames in a
ring buffer. Every ``stride`` sampled frames a window is complete: the ``num_frames``
frames ``sampling_rate`` apart that end with the newest one. Only the newest complete
window is kept for the consumer; one it has not taken before the next completes is
skipped, never queued, so a slow model always sees fresh frames.

Times are seconds since the first decoded frame of the source.
"""
import collections
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

logger = logging.getLogger(__name__)


@dataclass
class Window:
    """One model window: ``frames`` uint8 ``[H, W, 3]`` each, at ``times`` (seconds)."""

    index: int  # 0, 1, ... in stream order, ``stride`` sampled frames apart
    times: List[float]
    frames: List[np.ndarray]
    arrived: float  # time.monotonic() when its newest frame was decoded


def resolve_source(source: str, fmt: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """``-`` -> FFmpeg's ``pipe:0`` (stdin); ``/dev/videoN`` -> the ``v4l2`` input device."""
    if source == "-":
        return "pipe:0", fmt
    if fmt is None and source.startswith("/dev/video"):
        return source, "v4l2"
    return source, fmt


class LiveReader(threading.Thread):
    """Decode ``source`` on a daemon thread; ``take`` hands out the newest complete window.

    A regular file is read at its own frame rate (like ``ffmpeg -re``) so it behaves like
    a camera; pass ``realtime=False`` to read it as fast as it decodes.
    """

    def __init__(self, source: str, num_frames: int, sampling_rate: int, target_fps: float, stride: int = 1,
                 fmt: Optional[str] = None, options: Optional[dict] = None, realtime: Optional[bool] = None,
                 timeout: float = 10.0):
        super().__init__(name="live-reader", daemon=True)
        if stride < 1:
            raise ValueError(f"live window stride must be >= 1 sampled frame, got {stride}")
        self.source = source
        self.url, self.fmt = resolve_source(source, fmt)
        # Not fflags=nobuffer: it drops the packets read while probing the stream (the first second or so).
        self.options = options or {}
        self.realtime = os.path.isfile(self.url) if realtime is None else realtime
        self.num_frames, self.sampling_rate, self.step = num_frames, sampling_rate, 1.0 / target_fps
        self.stride, self.timeout = stride, timeout
        self.ring: collections.deque = collections.deque(maxlen=(num_frames - 1) * sampling_rate + 1)
        self._pushed = 0  # sampled frames so far
        self.windows = 0  # complete windows so far
        self.frames = 0  # decoded frames so far
        self.bad_packets = 0  # packets the decoder rejected (lost UDP datagrams, a camera glitch)
        self.error: Optional[str] = None
        self.ended = False
        self.opened = False
        self.last_activity = time.monotonic()
        self._latest: Optional[Window] = None
        self._cond = threading.Condition()
        self._stop = threading.Event()

    def stop(self):
        self._stop.set()

    def take(self, after: int) -> Tuple[Optional[Window], str]:
        """Block until a window newer than index ``after`` is complete.

        Returns ``(window, "ok")``, or ``(None, why)`` with why = ``"ended"``, ``"stalled"``
        (no frame for ``self.timeout`` seconds) or ``"error"`` (see ``.error``).
        """
        with self._cond:
            while True:
                if self._latest is not None and self._latest.index > after:
                    return self._latest, "ok"
                if self.error:
                    return None, "error"
                if self.ended:
                    return None, "ended"
                if time.monotonic() - self.last_activity > self.timeout:
                    return None, "stalled"
                self._cond.wait(0.1)

    def run(self):
        import av
        from av.video.reformatter import VideoReformatter

        self.last_activity = time.monotonic()
        try:
            # FFmpeg's own timeout (network sources) only ends this thread: ``take`` reports the stall first.
            limit = 2 * self.timeout + 1
            container = av.open(self.url, format=self.fmt, options=self.options, timeout=(limit, limit))
        except Exception as e:  # av.error.* carries FFmpeg's message
            return self._finish(error=f"cannot open live source '{self.source}': {e}")
        try:
            if not container.streams.video:
                return self._finish(error=f"live source '{self.source}' has no video stream")
            self.opened = True
            stream = container.streams.video[0]
            logger.info("opened %s in %.1f s: %s %dx%d at %s fps", self.source, time.monotonic() - self.last_activity,
                        stream.codec_context.name, stream.codec_context.width, stream.codec_context.height,
                        stream.average_rate or stream.guessed_rate or "unknown")
            stream.thread_type = "SLICE"  # frame threading would delay every frame by the thread count
            rgb, next_t, wall0 = VideoReformatter(), 0.0, time.monotonic()
            for t, frame in self._decode(container, stream):
                if self._stop.is_set():
                    break
                if self.realtime:
                    time.sleep(max(0.0, wall0 + t - time.monotonic()))
                self.frames += 1
                self.last_activity = time.monotonic()
                if abs(t - next_t) > self.ring.maxlen * self.step:
                    logger.warning("%s: timestamps jumped from %.2f to %.2f s; following them", self.source, next_t, t)
                    next_t = t
                array = None
                while next_t <= t + 1e-6:  # a slower source repeats frames to fill every instant
                    array = rgb.reformat(frame, format="rgb24").to_ndarray() if array is None else array
                    self._push(t, array)
                    next_t += self.step
            if self.bad_packets:
                logger.warning("%s: %d packets could not be decoded (skipped)", self.source, self.bad_packets)
            self._finish()
        except Exception as e:  # noqa: BLE001 - a broken stream ends the demo with its reason
            self._finish(error=f"live source '{self.source}' failed after {self.frames} frames: {e}")
        finally:
            container.close()

    def _decode(self, container, stream):
        """Yield ``(seconds since the first frame, frame)``; undecodable packets are skipped."""
        import av

        rate = float(stream.average_rate or stream.guessed_rate or 1.0 / self.step)
        first, count = None, 0
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                self.bad_packets += 1
                continue
            for frame in frames:
                t = frame.time if frame.time is not None else count / rate  # a source without timestamps
                first = t if first is None else first
                count += 1
                yield t - first, frame

    def _push(self, t: float, array: np.ndarray):
        self.ring.append((t, array))
        complete = len(self.ring) == self.ring.maxlen
        self._pushed += 1
        if not complete or (self._pushed - self.ring.maxlen) % self.stride:
            return
        picked = list(self.ring)[::self.sampling_rate]
        window = Window(self.windows, [p[0] for p in picked], [p[1] for p in picked], time.monotonic())
        with self._cond:
            self._latest = window
            self.windows += 1
            self._cond.notify_all()

    def _finish(self, error: Optional[str] = None):
        with self._cond:
            self.error = error
            self.ended = True
            self._cond.notify_all()
