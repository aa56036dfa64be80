"""Clip decoding with both backends on real footage and generated files, incl. broken files."""
import os

import numpy as np
import pytest
import torch

from data_helpers import frame_level, ramp_video
from hiera_video.data.video_decoding import VideoDecodeError, decode_clip, open_video

BACKENDS = ["pyav", "decord"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["dog.mp4", "goat.mp4"])  # goat.mp4 also has an audio stream
def test_real_clips_decode_to_uint8_tchw(real_videos_dir, backend, name):
    path = os.path.join(real_videos_dir, name)
    video = open_video(path, backend)
    assert video.duration == pytest.approx(5.0, abs=0.1) and video.fps == pytest.approx(30)
    video.close()
    clip = decode_clip(path, backend, num_frames=8, step_sec=4 / 30, position=0.5)
    assert clip.shape == (8, 3, 256, 256) and clip.dtype == torch.uint8
    assert clip.float().std() > 10  # real content, not a blank frame
    assert (clip[1:].float() - clip[:-1].float()).abs().mean() > 0.5  # frames differ over time


@pytest.mark.parametrize("name", ["dog.mp4", "goat.mp4"])
def test_backends_pick_the_same_frames_on_real_clips(real_videos_dir, name):
    path = os.path.join(real_videos_dir, name)
    a = decode_clip(path, "pyav", 6, 0.5, start_sec=0.7).float()
    b = decode_clip(path, "decord", 6, 0.5, start_sec=0.7).float()
    assert (a - b).abs().mean() < 2.0  # same frames; only colour conversion rounding differs


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_are_selected_by_time(tmp_path, backend):
    path = ramp_video(str(tmp_path / "ramp.mp4"), num_frames=16)
    assert frame_level(decode_clip(path, backend, 4, 2 / 30, start_sec=0)) == [0, 2, 4, 6]
    assert frame_level(decode_clip(path, backend, 4, 2 / 30, start_sec=3 / 30)) == [3, 5, 7, 9]
    # position 1 = the last start that keeps the whole span inside the video
    assert frame_level(decode_clip(path, backend, 4, 2 / 30, position=1.0)) == [8, 10, 12, 14]


@pytest.mark.parametrize("backend", BACKENDS)
def test_frame_rate_conversion(tmp_path, backend):
    path = ramp_video(str(tmp_path / "ramp15.mp4"), num_frames=12, fps=15)
    # 2 frames at 30 fps = one frame at 15 fps
    assert frame_level(decode_clip(path, backend, 4, 2 / 30, start_sec=0)) == [0, 1, 2, 3]


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_clip_is_padded_by_repeating_the_last_frame(tmp_path, backend):
    path = ramp_video(str(tmp_path / "short.mp4"), num_frames=5)
    clip = decode_clip(path, backend, 6, 2 / 30, position=0.5)
    assert clip.shape[0] == 6
    assert frame_level(clip) == [0, 2, 4, 4, 4, 4]


@pytest.mark.parametrize("backend", BACKENDS)
def test_odd_sized_frames(tmp_path, backend):
    path = ramp_video(str(tmp_path / "odd.mp4"), num_frames=6, height=38, width=54)
    assert decode_clip(path, backend, 2, 1 / 30).shape == (2, 3, 38, 54)


def _truncated(tmp_path, real_videos_dir):
    data = open(os.path.join(real_videos_dir, "dog.mp4"), "rb").read()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) // 3])
    return str(path)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["zero_byte", "garbage", "missing", "truncated"])
def test_broken_files_raise_decode_error_naming_the_path(tmp_path, real_videos_dir, backend, kind):
    path = str(tmp_path / f"{kind}.mp4")
    if kind == "zero_byte":
        open(path, "wb").close()
    elif kind == "garbage":
        with open(path, "wb") as f:
            f.write(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif kind == "truncated":
        path = _truncated(tmp_path, real_videos_dir)
    with pytest.raises(VideoDecodeError) as e:
        decode_clip(path, backend, 4, 2 / 30)
    assert e.value.path == path and path in str(e.value) and e.value.reason


def test_unknown_backend_is_named(tmp_path):
    path = ramp_video(str(tmp_path / "r.mp4"), num_frames=4)
    with pytest.raises(ValueError, match="DECODING_BACKEND.*torchvision"):
        decode_clip(path, "torchvision", 2, 1 / 30)


def test_variable_frame_rate_is_sampled_by_timestamp(tmp_path):
    """PyAV picks frames by presentation time: a gap in the timestamps repeats the frame on screen."""
    from data_helpers import vfr_ramp_video

    pts = [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15]  # frames 3 -> 4 jump from 3/30 s to 8/30 s
    path = vfr_ramp_video(str(tmp_path / "vfr.mp4"), pts)
    assert frame_level(decode_clip(path, "pyav", 6, 2 / 30, start_sec=0)) == [0, 2, 3, 3, 4, 6]
    # decord indexes frames at the average rate (documented): right shape, frames from the file
    clip = decode_clip(path, "decord", 6, 2 / 30, start_sec=0)
    assert clip.shape == (6, 3, 32, 32) and set(frame_level(clip)) <= set(range(12))
