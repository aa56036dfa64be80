"""The clip samplers on their own: frame times from a duration and a frame rate."""
import pytest

from hiera_video.data.clip_sampling import SegmentSampler, UniformClipSampler, sliding_windows
from hiera_video.data.samplers import seeded


def test_uniform_views_span_the_possible_starts():
    s = UniformClipSampler(num_frames=4, step_sec=0.5)  # a clip covers 2 s
    assert s.view(10.0, 30, 0, 3) == [0.0, 0.5, 1.0, 1.5]
    assert s.view(10.0, 30, 1, 3)[0] == pytest.approx(4.0)  # the middle of the 8 s of room
    assert s.view(10.0, 30, 2, 3)[0] == pytest.approx(8.0)  # the last start
    assert s.view(10.0, 30, 0, 1)[0] == pytest.approx(4.0)  # one view: the centre clip
    assert s.view(1.0, 30, 1, 3)[0] == 0.0 and s.pads(1.0, 30)  # shorter than a clip: from the start


def test_uniform_windows_are_the_sliding_windows():
    s = UniformClipSampler(num_frames=4, step_sec=0.5)
    windows = s.windows(5.0, 30, stride_sec=1.0)
    assert [(a, b) for a, b, _ in windows] == sliding_windows(5.0, 2.0, 1.0)
    assert all(times == [a, a + 0.5, a + 1.0, a + 1.5] for a, _, times in windows)


def test_segment_views_take_one_frame_of_each_segment():
    s = SegmentSampler(num_frames=4)  # 32 frames at 8 fps: segments of 8 frames
    frames = lambda times: [round(t * 8) for t in times]  # noqa: E731
    assert frames(s.view(4.0, 8, 0, 2)) == [2, 10, 18, 26]
    assert frames(s.view(4.0, 8, 1, 2)) == [6, 14, 22, 30]
    assert [(a, b) for a, b, _ in s.windows(4.0, 8, stride_sec=1.0)] == [(0.0, 4.0)]  # the whole video
    for _ in range(5):
        assert all(8 * k <= f < 8 * (k + 1) for k, f in enumerate(frames(s.random_clip(4.0, 8))))


@pytest.mark.parametrize("sampler", [UniformClipSampler(4, 0.5), SegmentSampler(4)])
def test_random_clips_follow_the_seeded_rng(sampler):
    with seeded(7):
        a = sampler.random_clip(10.0, 30)
    with seeded(7):
        b = sampler.random_clip(10.0, 30)
    assert a == b
