"""One video file read end to end with PyAV: what is wrong with it (``PROBLEMS``, ``WARNINGS``)."""
import os
from typing import Callable, Dict, List, Optional, Tuple

from hiera_video.data.video_decoding import VideoDecodeError, open_video

Scan = Callable[[str], Tuple[List[Dict], Dict]]  # scan_video, or a stand-in (tests)

PROBLEMS = {
    "missing": "file not found (or, for AVA, a video annotated but absent from the frame lists)",
    "unreadable": "cannot be read (no read permission or an I/O error)",
    "empty": "zero bytes",
    "not_a_video": "not a video file (no video container signature; FFmpeg cannot open it)",
    "corrupt": "a video container FFmpeg cannot open (truncated or damaged download)",
    "no_video_stream": "no video stream (e.g. audio only)",
    "no_frames": "no decodable video frame",
    "decode_error": "decoding fails part-way (the PyAV loader pads with the last good frame)",
    "truncated": "fewer frames decode than the header declares",
    "loader_error": "the loader's backend (DATA.DECODING_BACKEND) fails on it",
    "crashed": "reading it killed the worker process (e.g. a segfault in the decoder)",
    "label_out_of_range": "label outside [0, MODEL.NUM_CLASSES)",
    "bad_line": "a list line the loader skips (no label, or a label that is not an integer)",
    "bad_frame": "an AVA frame file that does not load as an image (the loader drops its keyframes)",
}
WARNINGS = {
    "too_short": "shorter than a sampled clip: the loader pads it by repeating the last frame",
    "missing_frames": "AVA keyframes whose clip has missing frame files (the loader skips them)",
    "keyframe_beyond_frames": "AVA keyframes past the listed frames (the loader skips them)",
}

# First bytes of containers FFmpeg reads: a file starting so that it cannot open is a damaged
# video ("corrupt"), anything else is "not_a_video" (a text or image file renamed .mp4, ...).
_SIGNATURES = (b"\x1aE\xdf\xa3", b"RIFF", b"OggS", b"GIF8", b"FLV", b"0&\xb2u", b"\x00\x00\x01\xba",
               b"\x00\x00\x01\xb3", b".RMF")
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def _looks_like_video(head: bytes) -> bool:
    return (head.startswith(_SIGNATURES) or head[4:8] in _MP4_BOXES
            or (len(head) > 188 and head[0] == head[188] == 0x47))  # MPEG-TS sync bytes


def file_problem(path: str) -> Tuple[Optional[str], str, bytes]:
    """(kind, reason, b"") for a path that cannot be a readable file, else (None, "", its first bytes)."""
    if not os.path.exists(path):
        return "missing", "broken symbolic link" if os.path.islink(path) else "file not found", b""
    if not os.path.isfile(path):
        return "not_a_video", "not a regular file", b""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except PermissionError as e:
        return "unreadable", f"no read permission ({e.strerror})", b""
    except OSError as e:
        return "unreadable", f"{type(e).__name__}: {e}", b""
    if not head:
        return "empty", "zero bytes", b""
    return None, "", head


def scan_video(path: str) -> Tuple[List[Dict], Dict]:
    """Problems and header info of a video file, from a PyAV decode of every frame.

    Info: format, codec, width, height, pix_fmt, fps and duration (as the loader sees them),
    header_frames, decoded_frames, decoded_until (s, the last decoded frame's time).
    """
    import av

    kind, reason, head = file_problem(path)
    if kind:
        return [{"kind": kind, "reason": reason}], {}
    try:
        container = av.open(path)
    except Exception as e:  # av.error.*: FFmpeg could not open it
        kind = "corrupt" if _looks_like_video(head) else "not_a_video"
        return [{"kind": kind, "reason": f"{type(e).__name__}: {e}"}], {}
    with container:
        if not container.streams.video:
            found = ", ".join(f"{s.type} ({s.codec_context.name})" for s in container.streams) or "none"
            return [{"kind": "no_video_stream", "reason": f"no video stream; streams: {found}"}], {}
        stream = container.streams.video[0]
        cc = stream.codec_context
        info = {"format": container.format.name, "codec": cc.name, "width": cc.width, "height": cc.height,
                "pix_fmt": cc.pix_fmt, "header_frames": stream.frames or None}
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        decoded, last, error = 0, None, None
        try:
            for frame in container.decode(stream):
                decoded += 1
                last = frame.time - start if frame.time is not None else last
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
    try:  # the duration and frame rate the loader's clip times are computed from
        video = open_video(path, "pyav")
        info["fps"], info["duration"] = video.fps, video.duration
        video.close()
    except VideoDecodeError as e:
        error = error or e.reason
    info.update(decoded_frames=decoded, decoded_until=last)
    if decoded == 0:
        return [{"kind": "no_frames", "reason": error or "no decodable video frame"}], info
    if error:
        return [{"kind": "decode_error", "reason": f"decoding stopped after {decoded} frames "
                 f"({last or 0:.2f} s of {info.get('duration') or 0:.2f} s): {error}"}], info
    header = info["header_frames"]
    if header and decoded < 0.9 * header:
        return [{"kind": "truncated", "reason": f"{decoded} of the {header} frames the header declares "
                 "decode"}], info
    return [], info
