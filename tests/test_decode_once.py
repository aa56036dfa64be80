"""The multi-view test decodes each video once, and scores exactly as decoding every view alone did."""
import contextlib
import os

import pytest
import torch

from data_helpers import small_cfg
from hiera_video import create_model
from hiera_video.data import build_loader
from hiera_video.data import video_decoding
from hiera_video.data import transforms as T
from hiera_video.synthetic.mp4 import write_mp4
from hiera_video.evaluation.classification import evaluate_views
from video_zoo import frames


@pytest.fixture
def videos(tmp_path, real_videos_dir):
    """Short generated clips, a 12 s one (views far apart: reached by seeks) and the two real clips."""
    root = tmp_path
    entries = []
    for n, length in enumerate((8, 30, 360)):
        path = str(root / f"clip{n}.mp4")
        write_mp4(path, frames(length, 64, 48, seed=n))
        entries.append((path, n % 6))
    entries += [(os.path.join(real_videos_dir, name), 3) for name in ("dog.mp4", "goat.mp4")]
    with open(root / "test.csv", "w") as f:
        f.writelines(f"{p} {label}\n" for p, label in entries)
    return str(root), entries


def per_view_clips(cfg, dataset):
    """The old test's clips: every view decoded alone from a fresh open of the file, in loader
    order (video-major) -> ([N, C, T, S, S], video index [N])."""
    transform = T.build_eval_transform(cfg)
    clips, index = [], []
    for v, path in enumerate(dataset.video_paths):
        for view in range(dataset.num_views):
            j, c = divmod(view, dataset.num_spatial)
            frames = video_decoding.decode_frames(
                path, cfg.DATA.DECODING_BACKEND, lambda d, fps: dataset.sampler.view(d, fps, j, dataset.num_temporal))
            clips.append(T.to_model_layout(T.spatial_crop(transform(T.as_video(frames)), cfg.DATA.TEST_CROP_SIZE, c,
                                                          dataset.num_spatial)))
            index.append(v)
    return torch.stack(clips), torch.tensor(index)


def summed_softmax(model, clips, index, num_videos, batch):
    out = torch.zeros(num_videos, 6, dtype=torch.float64)
    with torch.no_grad():
        for k in range(0, len(clips), batch):
            out.index_add_(0, index[k:k + batch], model(clips[k:k + batch]).float().softmax(-1).double())
    return out


class BatchCounting(torch.nn.Module):
    """``model``, noting the batch size of every forward."""

    def __init__(self, model):
        super().__init__()
        self.model, self.sizes = model, []

    def forward(self, x):
        self.sizes.append(len(x))
        return self.model(x)


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_scores_equal_per_view_decoding_and_each_file_opens_once(videos, monkeypatch, backend):
    root, entries = videos
    cfg = small_cfg(root, **{"TEST.NUM_ENSEMBLE_VIEWS": 5, "TEST.NUM_SPATIAL_CROPS": 3, "TEST.BATCH_SIZE": 7,
                             "DATA.DECODING_BACKEND": backend})
    torch.manual_seed(0)
    model = create_model("hiera_tiny_16x224", embed_dim=16, num_heads=1, stages=(1, 1, 1, 1), input_size=(4, 32, 32),
                         num_classes=6).eval()
    torch.nn.init.normal_(model.head.projection.weight, std=2.0)  # spread the scores so top-k order means something
    opened = []
    real_open = video_decoding.open_video
    monkeypatch.setattr(video_decoding, "open_video", lambda path, b: opened.append(path) or real_open(path, b))
    loader = build_loader(cfg, "test")
    counting = BatchCounting(model)
    res = evaluate_views(counting, loader, torch.device("cpu"), contextlib.nullcontext, 6)
    seen_batches = counting.sizes
    monkeypatch.undo()
    assert sorted(opened) == sorted(p for p, _ in entries)  # one open per video, not per view
    assert seen_batches[:-1] == [7] * (len(seen_batches) - 1)  # views reach the model TEST.BATCH_SIZE at a time
    assert sum(seen_batches) == len(entries) * 15 and res.usable.tolist() == [15.0] * len(entries)
    clips, index = per_view_clips(cfg, loader.dataset)
    assert torch.equal(torch.cat([b["video"] for b in loader]), clips)  # the same pixels, decoded once
    reference = summed_softmax(model, clips, index, len(entries), 7)
    assert (res.scores.double() - reference).abs().max() < 1e-6
    for k in (1, 5):
        assert torch.equal(res.scores.topk(k).indices, reference.float().topk(k).indices)


def test_views_of_a_clip_come_from_one_pass(videos, monkeypatch):
    """A 12 s clip (x264's default keyframe interval: frames 0 and 250), 5 views 2.9 s apart: one
    pass over the file with no seek (a seek would go back to a keyframe and decode frames twice)."""
    root, entries = videos
    long_clip = entries[2][0]
    step = 2 / 30
    starts = [0.0, 2.9, 5.8, 8.7, 11.6]
    counts = {"seeks": 0, "frames": 0}

    class Counting:
        def __init__(self, container):
            self.container = container

        def seek(self, *args, **kwargs):
            counts["seeks"] += 1
            return self.container.seek(*args, **kwargs)

        def decode(self, *args, **kwargs):
            for frame in self.container.decode(*args, **kwargs):
                counts["frames"] += 1
                yield frame

        def __getattr__(self, name):
            return getattr(self.container, name)

    real_open = video_decoding.open_video

    def counting_open(path, backend):
        video = real_open(path, backend)
        video._container = Counting(video._container)
        return video

    monkeypatch.setattr(video_decoding, "open_video", counting_open)
    clips = video_decoding.decode_clips(long_clip, "pyav", lambda d, fps: [[s + k * step for k in range(4)]
                                                                            for s in starts])
    monkeypatch.undo()
    assert counts["seeks"] == 0 and counts["frames"] <= 360
    for s, clip in zip(starts, clips):
        alone = video_decoding.decode_frames(long_clip, "pyav", lambda d, fps: [s + k * step for k in range(4)])
        assert torch.equal(clip, alone)
    assert video_decoding._nearby_groups([[s, s + 0.2] for s in starts], 2.0) == [[0], [1], [2], [3], [4]]
    assert video_decoding._nearby_groups([[s, s + 0.2] for s in starts], 10.0) == [[0, 1, 2, 3, 4]]
    assert video_decoding._nearby_groups([[0.0, 0.3], [0.2, 0.5], [3.0, 3.2]], 2.0) == [[0, 1], [2]]
