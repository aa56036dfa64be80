"""DATA.DECODING_BACKEND torchcodec: PyTorch's own FFmpeg decoder (optional extra).

It needs FFmpeg's shared libraries, which pip cannot provide: on Debian/Ubuntu
``apt-get install -y ffmpeg``, then ``pip install -e ".[torchcodec]"``. Frames are selected by
presentation time like PyAV's reader (each instant gets the frame shown nearest to it;
instants past the end get the last frame), decoded in exact seek mode on one FFmpeg thread.
"""
from typing import Sequence

import numpy as np

from .video_errors import VideoDecodeError


class TorchcodecVideo:
    """torchcodec ``VideoDecoder`` over one file: ``fps``, ``duration``, ``frames_at(times)``."""

    def __init__(self, path: str):
        try:
            from torchcodec.decoders import VideoDecoder
        except (ImportError, RuntimeError) as e:  # RuntimeError: FFmpeg's libraries are missing
            raise RuntimeError("DATA.DECODING_BACKEND torchcodec needs torchcodec and FFmpeg's shared libraries: "
                               f"apt-get install -y ffmpeg && pip install torchcodec ({type(e).__name__}: {e})") from None
        self.path = path
        try:
            self._decoder = VideoDecoder(path, dimension_order="NHWC", num_ffmpeg_threads=1, seek_mode="exact")
        except Exception as e:  # ValueError / RuntimeError for corrupt files or no video stream
            raise VideoDecodeError(path, f"{type(e).__name__}: {str(e).splitlines()[0]}") from None
        meta = self._decoder.metadata
        self.fps = float(meta.average_fps or 30.0)
        self._begin = float(meta.begin_stream_seconds or 0.0)
        self._end = float(meta.end_stream_seconds) if meta.end_stream_seconds is not None else None
        self.duration = (self._end - self._begin) if self._end is not None else None

    def frames_at(self, times: Sequence[float]) -> np.ndarray:
        """uint8 [T, H, W, 3], the frame nearest each time (seconds from the first frame)."""
        half = 0.5 / self.fps
        last = (self._end - 1e-6) if self._end is not None else float("inf")
        seconds = [min(max(self._begin + t + half, self._begin), last) for t in times]
        try:
            return self._decoder.get_frames_played_at(seconds).data.numpy()
        except Exception as e:
            raise VideoDecodeError(self.path, f"{type(e).__name__}: {str(e).splitlines()[0]}") from None

    def close(self):
        del self._decoder
