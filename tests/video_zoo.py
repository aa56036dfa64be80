"""Real encoded inputs of many kinds, good and broken, written with PyAV for the robustness tests.

``write_zoo(folder)`` writes every kind and returns ``{kind: path}``; ``GOOD`` names the kinds
every video entry point must read, ``BROKEN`` the ones it must report (one log line, counted)
and carry on. Frames are a light shape moving on a dark textured background (64 px unless
the kind is about size), so the tiny test models get a normal clip.
"""
import os
from fractions import Fraction
from typing import Dict

import numpy as np

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1: errors only

# kind: (file name, codec, pixel format, frames, (width, height), fps)
ENCODED = {
    "h264_mp4": ("h264.mp4", "libx264", "yuv420p", 24, (64, 64), 30),
    "one_frame": ("one_frame.mp4", "libx264", "yuv420p", 1, (64, 64), 30),
    "shorter_than_clip": ("short.mp4", "libx264", "yuv420p", 3, (64, 64), 30),
    "ten_minutes": ("ten_minutes.mp4", "libx264", "yuv420p", 1200, (64, 64), 2),
    "1080p": ("hd_1080p.mp4", "libx264", "yuv420p", 8, (1920, 1080), 30),
    "4k": ("uhd_4k.mp4", "libx264", "yuv420p", 4, (3840, 2160), 30),
    "odd_175x97": ("odd_175x97.mkv", "ffv1", "yuv444p", 12, (175, 97), 30),
    "grayscale": ("gray.mkv", "ffv1", "gray", 12, (64, 64), 30),
    "10bit_hevc": ("ten_bit.mkv", "libx265", "yuv420p10le", 12, (64, 64), 30),
    "vp9_webm": ("vp9.webm", "libvpx-vp9", "yuv420p", 12, (64, 64), 30),
    "hevc_mkv": ("hevc.mkv", "libx265", "yuv420p", 12, (64, 64), 30),
    "av1_mkv": ("av1.mkv", "libsvtav1", "yuv420p", 12, (64, 64), 30),
    "mjpeg_avi": ("mjpeg.avi", "mjpeg", "yuvj420p", 12, (64, 64), 30),
    "mpeg4_part2": ("mpeg4.avi", "mpeg4", "yuv420p", 12, (64, 64), 30),
    "gif": ("anim.gif", "gif", "rgb8", 12, (64, 64), 10),
    "odd_name": ("my clip, ünïcode – 1.mp4", "libx264", "yuv420p", 12, (64, 64), 30),
}
GOOD = (*ENCODED, "vfr", "rotated", "corrupt_mid_file", "unreadable_as_root")
BROKEN = ("truncated", "zero_bytes", "not_a_video", "missing", "audio_only")


def frames(n: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """uint8 [n, H, W, 3]: a light square moving right over a dark noise texture."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    out = np.repeat(background[None], n, axis=0)
    side = max(4, min(width, height) // 4)
    for k in range(n):
        x = (k * max(1, width // 32)) % max(1, width - side)
        out[k, height // 2 - side // 2:height // 2 + side // 2, x:x + side] = (220, 200, 160)
    return out


def encode(path: str, codec: str, pix_fmt: str, n: int, size, fps: int) -> str:
    import av

    width, height = size
    with av.open(path, "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec in ("libx264", "libx265"):
            stream.options = {"preset": "ultrafast"} if codec == "libx264" else {"preset": "ultrafast",
                                                                                   "x265-params": "log-level=none"}
        if codec == "libsvtav1":
            stream.options = {"preset": "12"}
        for image in frames(n, width, height):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=pix_fmt)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def set_mp4_rotation_90(path: str) -> str:
    """Write a 90-degree display matrix into an mp4's track header (what phones record): FFmpeg
    then reports the rotation; the coded frames stay as they are."""
    import struct

    data = bytearray(open(path, "rb").read())
    at = data.index(b"tkhd")
    if data[at + 4] != 0:
        raise ValueError("expected a version-0 tkhd box")
    data[at + 44:at + 80] = struct.pack(">9i", 0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30)
    return _write(path, bytes(data))


def audio_only(path: str, seconds: float = 1.0) -> str:
    import av

    with av.open(path, "w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = int(16000 * seconds)
        tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 16000)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 16000, 0, Fraction(1, 16000)
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_zoo(folder: str, kinds=None) -> Dict[str, str]:
    """Write the inputs (all kinds, or ``kinds``) into ``folder``; returns {kind: path}."""
    from data_helpers import vfr_ramp_video

    os.makedirs(folder, exist_ok=True)
    want = set(kinds or (*GOOD, *BROKEN))
    out: Dict[str, str] = {}
    for kind, (name, *spec) in ENCODED.items():
        if kind in want:
            out[kind] = encode(os.path.join(folder, name), *spec)
    if "vfr" in want:
        out["vfr"] = vfr_ramp_video(os.path.join(folder, "vfr.mp4"), [0, 1, 2, 5, 6, 10, 11, 12, 20, 21, 22, 30],
                                    height=64, width=64)
    if "rotated" in want:
        out["rotated"] = set_mp4_rotation_90(encode(os.path.join(folder, "rotated.mp4"), "libx264", "yuv420p", 12,
                                                    (64, 48), 30))
    good = encode(os.path.join(folder, ".source.mp4"), "libx264", "yuv420p", 24, (64, 64), 30)
    data = open(good, "rb").read()
    os.remove(good)
    if "truncated" in want:  # the mp4 index (moov) comes last: a cut file has none
        out["truncated"] = _write(os.path.join(folder, "truncated.mp4"), data[: len(data) // 3])
    if "corrupt_mid_file" in want:  # MPEG-TS: a good start, then garbage packets
        ts = encode(os.path.join(folder, "corrupt_mid.ts"), "libx264", "yuv420p", 48, (64, 64), 30)
        raw = bytearray(open(ts, "rb").read())
        cut = len(raw) // 2
        raw[cut:] = np.random.default_rng(1).integers(0, 256, len(raw) - cut, dtype=np.uint8).tobytes()
        out["corrupt_mid_file"] = _write(ts, bytes(raw))
    if "zero_bytes" in want:
        out["zero_bytes"] = _write(os.path.join(folder, "zero.mp4"), b"")
    if "not_a_video" in want:
        out["not_a_video"] = _write(os.path.join(folder, "notes_renamed.mp4"), b"these are my notes, not a video\n" * 20)
    if "missing" in want:
        out["missing"] = os.path.join(folder, "missing.mp4")
    if "audio_only" in want:
        out["audio_only"] = audio_only(os.path.join(folder, "audio_only.m4a"))
    if "unreadable_as_root" in want:  # chmod 000: unreadable for a user, readable for root
        out["unreadable_as_root"] = encode(os.path.join(folder, "no_permission.mp4"), "libx264", "yuv420p", 12,
                                           (64, 64), 30)
        os.chmod(out["unreadable_as_root"], 0)
    return out


def _write(path: str, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return path
