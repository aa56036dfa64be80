"""What the app accepts: a video file under the size and duration limits, checked before any frame
is decoded; everything else becomes one clear sentence for the page (``Rejected``)."""
import os
from dataclasses import dataclass
from typing import Optional

from hiera_video.data.video_decoding import VideoDecodeError, open_video

VIDEO_TYPES = "MP4, WebM, MKV, MOV, AVI, GIF, MPEG-TS"


class Rejected(Exception):
    """An input the app cannot work on; ``str(e)`` is the message shown in the page."""


@dataclass(frozen=True)
class Limits:
    """``hiera-app --max-upload-mb`` and ``--max-duration``."""

    max_mb: float = 500.0
    max_seconds: float = 600.0


@dataclass(frozen=True)
class VideoFacts:
    """What the decoder says about an accepted video: ``duration`` as the samplers see it (None when
    the container does not say), ``seconds`` the length checked against the limit."""

    name: str
    mb: float
    duration: Optional[float]
    seconds: float
    fps: float


def check_video(path: Optional[str], limits: Limits, backend: str = "pyav") -> VideoFacts:
    """Facts of the video at ``path``, or ``Rejected`` naming the problem and, for a limit, the
    limit and the option that sets it. Reads the container's header (and, when it gives no
    duration, its packets up to the limit), never decodes a frame."""
    if not path:
        raise Rejected("No video yet: upload one, record one, or pick an example.")
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise Rejected(f"The upload of {name} is no longer on the server (the page was idle too long?): "
                       "upload it again.")
    mb = os.path.getsize(path) / 1e6
    if mb > limits.max_mb:
        raise Rejected(f"{name} is {mb:,.1f} MB; this app takes videos up to {limits.max_mb:g} MB "
                       "(hiera-app --max-upload-mb).")
    try:
        video = open_video(path, backend)
    except VideoDecodeError as e:
        raise Rejected(f"Cannot read {name}: {reason(e, path)}. Upload a video file ({VIDEO_TYPES}).") from None
    try:
        duration, fps = video.duration, video.fps
    finally:
        video.close()
    container, seconds = _container_and_length(path, limits.max_seconds)
    if container == "image2" or container.endswith("_pipe"):  # FFmpeg's demuxers of single pictures
        raise Rejected(f"{name} is a still image ({container}), not a video. Upload a video file ({VIDEO_TYPES}).")
    length = clock(duration) if duration else (f"more than {clock(limits.max_seconds)}"  # packets read up to the limit
                                                 if seconds > limits.max_seconds else clock(seconds))
    seconds = duration if duration else seconds
    if seconds > limits.max_seconds:
        raise Rejected(f"{name} is {length} long; this app takes videos up to {clock(limits.max_seconds)} "
                       "(hiera-app --max-duration).")
    return VideoFacts(name, mb, duration, seconds, fps)


def with_duration(path: str, facts: VideoFacts, folder: str, backend: str = "pyav"):
    """(path, facts) of a video whose container states its duration: a file without one (a browser's
    WebM recording) is remuxed into Matroska in ``folder`` (packets copied, nothing re-encoded), so the
    samplers spread clips over the whole recording instead of taking its start for every clip."""
    if facts.duration or not facts.seconds:
        return path, facts
    import av

    out = os.path.join(folder, os.path.splitext(facts.name)[0] + ".remuxed.mkv")
    try:
        with av.open(path) as source, av.open(out, "w", format="matroska") as target:
            stream = source.streams.video[0]
            copy = (target.add_stream_from_template(stream) if hasattr(target, "add_stream_from_template")
                    else target.add_stream(template=stream))  # PyAV < 13
            for packet in source.demux(stream):
                if packet.dts is not None:  # the demuxer's empty flush packet
                    packet.stream = copy
                    target.mux(packet)
    except Exception as e:  # noqa: BLE001 - any failure to copy means the file is not usable as it is
        raise VideoDecodeError(path, f"cannot copy its packets to read its length ({type(e).__name__}: {e})") from None
    video = open_video(out, backend)
    try:
        duration, fps = video.duration, video.fps
    finally:
        video.close()
    return out, VideoFacts(facts.name, facts.mb, duration, duration or facts.seconds, fps)


def reason(error: VideoDecodeError, path: str) -> str:
    """The decoder's reason, with the server's path of the upload replaced by its file name."""
    return error.reason.replace(path, os.path.basename(path))


def _container_and_length(path: str, stop_after: float):
    """(FFmpeg's name of the container format, seconds up to the last video packet read): for files
    whose header has no duration (browser recordings), read packets (no decoding) until past
    ``stop_after`` seconds or the end."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        if stream.duration or container.duration:
            return container.format.name, 0.0
        seconds = 0.0
        for packet in container.demux(stream):
            if packet.pts is not None and packet.time_base is not None:
                seconds = max(seconds, float(packet.pts * packet.time_base))
            if seconds > stop_after:
                break
        return container.format.name, seconds


def clock(seconds: float) -> str:
    """600 -> '10 min', 75.5 -> '1 min 16 s', 4.2 -> '4.2 s'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min" + (f" {rest} s" if rest else "")
