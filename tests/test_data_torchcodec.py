"""DATA.DECODING_BACKEND torchcodec (optional extra): where it imports, the same frames as PyAV on
the real clips; where it does not (no torchcodec or no FFmpeg libraries), an error saying how to
install it."""
import importlib.util
import os

import pytest

from hiera_video.data.video_decoding import open_video


def torchcodec_usable() -> bool:
    if importlib.util.find_spec("torchcodec") is None:
        return False
    try:
        import torchcodec.decoders  # noqa: F401 - raises when FFmpeg's libraries are missing
        return True
    except (ImportError, RuntimeError, OSError):
        return False


def test_torchcodec_frames_match_pyav_or_the_error_says_how_to_install(real_videos_dir):
    path = os.path.join(real_videos_dir, "goat.mp4")
    times = [0.0, 0.5, 1.03, 2.2, 4.9, 5.5, 7.0]  # the last two past the end: the last frame
    if not torchcodec_usable():
        with pytest.raises(RuntimeError, match="apt-get install -y ffmpeg && pip install torchcodec"):
            open_video(path, "torchcodec")
        return
    ours, pyav = open_video(path, "torchcodec"), open_video(path, "pyav")
    assert abs(ours.duration - pyav.duration) < 0.05 and ours.fps == pyav.fps
    assert (ours.frames_at(times) == pyav.frames_at(times)).all()
