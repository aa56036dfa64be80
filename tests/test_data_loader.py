"""build_loader: batch contract, reproducibility, multi-view testing, shards, broken files."""
import logging
import os

import pytest
import torch

from data_helpers import frame_level, gradient_video, make_list, ramp_video, small_cfg
from hiera_video.data import build_loader, loader as loader_module
from hiera_video.data.loader import TooManyBadVideos
from hiera_video.data.samplers import EpochShuffleSampler, ShardSampler
from hiera_video.synthetic.motion import generate

MEAN, STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])


def denormalise(video_ctHW: torch.Tensor) -> torch.Tensor:
    """Normalised [C, T, H, W] -> 0..255 [T, C, H, W]."""
    v = video_ctHW * STD[:, None, None, None] + MEAN[:, None, None, None]
    return (v * 255).permute(1, 0, 2, 3)


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("data") / "synthetic")
    generate(out, num_train=12, num_val=6, num_test=6, num_frames=16, size=32, seed=3, workers=1)
    return out


def _batches(loader):
    return [{k: v.clone() for k, v in b.items()} for b in loader]


def test_train_batch_contract(synthetic_dir):
    loader = build_loader(small_cfg(synthetic_dir), "train")
    assert loader.dataset.num_videos == 12 and loader.dataset.class_names[0] == "move_left"
    batches = _batches(loader)
    assert len(batches) == 3  # 12 videos / batch 4, drop_last
    b = batches[0]
    assert b["video"].shape == (4, 3, 4, 32, 32) and b["video"].dtype == torch.float32
    assert b["label"].dtype == b["index"].dtype == b["decode_failures"].dtype == torch.int64
    assert b["label"].tolist() == [loader.dataset.labels[i] for i in b["index"]]
    assert sorted(torch.cat([x["index"] for x in batches]).tolist()) == list(range(12))  # a permutation
    assert int(sum(x["decode_failures"].sum() for x in batches)) == 0


def test_train_loader_is_reproducible_whatever_the_worker_count(synthetic_dir):
    ref = build_loader(small_cfg(synthetic_dir), "train")
    ref.set_epoch(1)
    first = _batches(ref)
    other = build_loader(small_cfg(synthetic_dir, **{"DATA_LOADER.NUM_WORKERS": 1}), "train")
    other.set_epoch(1)
    for a, b in zip(first, _batches(other)):
        assert torch.equal(a["index"], b["index"]) and torch.equal(a["video"], b["video"])
    ref.set_epoch(2)
    assert not torch.equal(first[0]["index"], _batches(ref)[0]["index"])  # a new epoch, a new order


def test_epoch_advances_without_set_epoch_and_training_rng_is_untouched(synthetic_dir):
    loader = build_loader(small_cfg(synthetic_dir), "train")
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    e0, e1 = _batches(loader), _batches(loader)
    assert torch.equal(torch.rand(3), expected)  # per-item seeding restores the caller's RNG
    assert not all(torch.equal(a["index"], b["index"]) for a, b in zip(e0, e1))


def test_distributed_train_sampler_splits_a_shared_permutation():
    ranks = [list(EpochShuffleSampler(range(10), 3, r, seed=5)) for r in range(3)]
    indices = [i for shard in ranks for i, _ in shard]
    assert all(len(s) == 3 for s in ranks) and len(set(indices)) == 9  # drop_last: 9 distinct of 10


def test_val_is_centre_clip_centre_crop_and_normalised(tmp_path):
    ramp_video(str(tmp_path / "r.mp4"), num_frames=16, height=32, width=48)
    make_list(str(tmp_path), "val", [("r.mp4", 2)] * 3)
    batch = next(iter(build_loader(small_cfg(str(tmp_path)), "val")))
    assert batch["video"].shape == (3, 3, 4, 32, 32)
    frames = denormalise(batch["video"][0])
    assert frame_level(frames) == [4, 6, 8, 10]  # centre: room 8 frames, start 4
    assert frames.std(dim=(1, 2, 3)).max() < 2.0  # flat grey frames stay flat
    assert batch["label"].tolist() == [2, 2, 2]


def test_test_views_temporal_positions(tmp_path):
    ramp_video(str(tmp_path / "r.mp4"), num_frames=16)
    make_list(str(tmp_path), "test", [("r.mp4", 1)])
    cfg = small_cfg(str(tmp_path), **{"TEST.NUM_ENSEMBLE_VIEWS": 3, "TEST.NUM_SPATIAL_CROPS": 1})
    loader = build_loader(cfg, "test")
    assert len(loader.dataset) == 1 and loader.dataset.num_views == 3  # one item: the video's 3 views
    batch = next(iter(loader))
    assert batch["view"].tolist() == [0, 1, 2] and batch["ok"].all()
    levels = [frame_level(denormalise(v)) for v in batch["video"]]
    assert levels == [[0, 2, 4, 6], [4, 6, 8, 10], [8, 10, 12, 14]]  # first to last possible start


@pytest.mark.parametrize("height, width, channel", [(32, 64, 0), (64, 32, 1)])
def test_three_spatial_crops_lie_left_centre_right(tmp_path, height, width, channel):
    """Wide frames: left/centre/right along x (red ramp); tall frames: top/centre/bottom (green ramp)."""
    gradient_video(str(tmp_path / "g.mp4"), height, width)
    make_list(str(tmp_path), "test", [("g.mp4", 0)])
    cfg = small_cfg(str(tmp_path), **{"TEST.NUM_ENSEMBLE_VIEWS": 5, "TEST.NUM_SPATIAL_CROPS": 3,
                                      "TEST.BATCH_SIZE": 15})
    batch = next(iter(build_loader(cfg, "test")))
    assert batch["video"].shape == (15, 3, 4, 32, 32) and batch["view"].tolist() == list(range(15))
    means = [denormalise(batch["video"][v])[:, channel].mean().item() for v in range(3)]
    # the ramp over the long side (64 px) is 0..255: crop means near 1/4, 1/2, 3/4 of 255
    assert means == pytest.approx([255 * 0.25, 255 * 0.5, 255 * 0.75], abs=8)
    # the 5 temporal views repeat the same 3 crops
    for v in range(3, 15):
        assert torch.allclose(batch["video"][v], batch["video"][v % 3], atol=0.05)


def test_uneven_test_shards_cover_every_item_once(synthetic_dir, monkeypatch):
    cfg = small_cfg(synthetic_dir, **{"TEST.NUM_ENSEMBLE_VIEWS": 2, "TEST.NUM_SPATIAL_CROPS": 1})
    seen = []
    for rank in range(4):  # 6 videos x 2 views = 12 items over 4 ranks; and 5 ranks below
        monkeypatch.setattr(loader_module, "get_world_size", lambda: 4)
        monkeypatch.setattr(loader_module, "get_rank", lambda r=rank: r)
        for b in build_loader(cfg, "test"):
            seen += list(zip(b["index"].tolist(), b["view"].tolist()))
    assert sorted(seen) == [(v, k) for v in range(6) for k in range(2)]
    shards = [ShardSampler(12, 5, r).indices for r in range(5)]
    assert sorted(i for s in shards for i in s) == list(range(12)) and {len(s) for s in shards} == {2, 3}


def test_short_clip_is_padded_in_the_loader(tmp_path):
    ramp_video(str(tmp_path / "short.mp4"), num_frames=5)
    make_list(str(tmp_path), "test", [("short.mp4", 0)])
    cfg = small_cfg(str(tmp_path), **{"TEST.NUM_ENSEMBLE_VIEWS": 1, "TEST.NUM_SPATIAL_CROPS": 1,
                                      "DATA.NUM_FRAMES": 6})
    batch = next(iter(build_loader(cfg, "test")))
    assert frame_level(denormalise(batch["video"][0])) == [0, 2, 4, 4, 4, 4]


def _with_broken(data_dir, split, synthetic_dir):
    good = [(os.path.join(synthetic_dir, "videos", "train", f"{n:05d}.mp4"), n % 6) for n in range(6)]
    open(os.path.join(data_dir, "empty.mp4"), "wb").close()
    with open(os.path.join(data_dir, "corrupt.mp4"), "wb") as f:
        f.write(b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000))
    make_list(data_dir, split, good + [("empty.mp4", 1), ("corrupt.mp4", 2)])


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_broken_videos_in_training_are_replaced_counted_and_logged(tmp_path, synthetic_dir, caplog, backend):
    _with_broken(str(tmp_path), "train", synthetic_dir)
    cfg = small_cfg(str(tmp_path), **{"DATA.DECODING_BACKEND": backend, "DATA.MAX_BAD_FRACTION": 0.5})
    loader = build_loader(cfg, "train")
    with caplog.at_level(logging.WARNING, logger="hiera_video"):
        batches = _batches(loader)
    indices = torch.cat([b["index"] for b in batches]).tolist()
    assert len(indices) == 8 and not {6, 7} & set(indices)  # broken videos never reach a batch
    assert int(sum(b["decode_failures"].sum() for b in batches)) >= 2
    assert "empty.mp4" in caplog.text and "corrupt.mp4" in caplog.text and "replacing" in caplog.text
    assert loader.last_epoch_failures == int(sum(b["decode_failures"].sum() for b in batches))


def test_too_many_broken_videos_stop_the_epoch_with_a_summary(tmp_path, synthetic_dir):
    _with_broken(str(tmp_path), "train", synthetic_dir)  # 2 of 8 videos broken: 25% > 10%
    loader = build_loader(small_cfg(str(tmp_path), **{"DATA.MAX_BAD_FRACTION": 0.1}), "train")
    with pytest.raises(TooManyBadVideos, match="MAX_BAD_FRACTION=0.1.*warnings above name each file"):
        _batches(loader)


def test_broken_videos_in_testing_are_marked_not_ok(tmp_path, synthetic_dir, caplog):
    _with_broken(str(tmp_path), "test", synthetic_dir)
    cfg = small_cfg(str(tmp_path), **{"TEST.NUM_ENSEMBLE_VIEWS": 2, "TEST.NUM_SPATIAL_CROPS": 1})
    with caplog.at_level(logging.WARNING, logger="hiera_video"):
        batches = _batches(build_loader(cfg, "test"))
    index = torch.cat([b["index"] for b in batches])
    ok = torch.cat([b["ok"] for b in batches])
    assert ok.dtype == torch.bool and len(ok) == 16
    assert ok.tolist() == [int(i) < 6 for i in index]
    bad = torch.cat([b["video"] for b in batches])[~ok]
    assert bad.abs().sum() == 0 and "empty.mp4" in caplog.text and "corrupt.mp4" in caplog.text


def test_bad_video_budget_counts_broken_samples_not_failed_replacements(tmp_path, synthetic_dir):
    """Half the list broken, DATA.MAX_BAD_FRACTION 0.5: replacements that fail too must not use up the budget."""
    good = [(os.path.join(synthetic_dir, "videos", "train", f"{n:05d}.mp4"), n) for n in range(2)]
    for name in ("a.mp4", "b.mp4"):
        open(os.path.join(tmp_path, name), "wb").close()
    make_list(str(tmp_path), "train", good + [("a.mp4", 2), ("b.mp4", 3)])
    loader = build_loader(small_cfg(str(tmp_path), **{"DATA.MAX_BAD_FRACTION": 0.5, "RNG_SEED": 1}), "train")
    batches = _batches(loader)  # 4 samples, 2 of them broken videos: within the budget of 2
    assert sum(int((b["decode_failures"] > 0).sum()) for b in batches) == 2
    assert loader.last_epoch_failures > 2  # some replacements failed as well (what the old count tripped on)
