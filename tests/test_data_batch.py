"""Every key a collate produces is the one ``data.batch`` writes down, and the batch counts clips."""
import pytest

from data_helpers import small_cfg
from hiera_video.config.defaults import get_cfg
from hiera_video.data import build_loader
from hiera_video.synthetic import ava as ava_synthetic
from hiera_video.data.batch import AVABatch, ClipBatch
from hiera_video.synthetic.motion import generate

CLIP_KEYS = set(ClipBatch.__annotations__)
TRAIN_KEYS = CLIP_KEYS - {"view", "ok"}


@pytest.fixture(scope="module")
def clips_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("syn"))
    generate(root, num_train=4, num_val=2, num_test=2, num_frames=8, size=32, seed=0, workers=1)
    return root


@pytest.mark.parametrize("split,repeats", [("train", 1), ("train", 2), ("val", 1), ("test", 1)])
def test_clip_batches_hold_the_listed_keys(clips_dir, split, repeats):
    cfg = small_cfg(clips_dir, **{"AUG.NUM_SAMPLE": repeats, "TEST.NUM_ENSEMBLE_VIEWS": 2,
                                  "TEST.NUM_SPATIAL_CROPS": 1})
    batch = next(iter(build_loader(cfg, split)))
    assert set(batch) == (TRAIN_KEYS if split == "train" else CLIP_KEYS)
    b = batch["video"].shape[0]
    assert all(batch[k].shape == (b,) for k in batch if k != "video")


def test_ava_batches_hold_the_listed_keys_and_count_keyframe_clips(tmp_path):
    root = str(tmp_path)
    ava_synthetic.make_synthetic_ava(root, train_videos=2, val_videos=2, keyframes=3, height=40, width=56, seed=3)
    cfg = get_cfg()
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "ava"
    cfg.DATA.PATH_TO_DATA_DIR = root
    cfg.MODEL.NUM_CLASSES = 6
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE = 4, 8
    cfg.DATA.TRAIN_JITTER_SCALES = [40, 56]
    cfg.DATA.TRAIN_CROP_SIZE = cfg.DATA.TEST_CROP_SIZE = 40
    cfg.TRAIN.BATCH_SIZE = 2
    cfg.DATA_LOADER.NUM_WORKERS = 0
    loader = build_loader(cfg, "train")
    batch = next(iter(loader))
    assert set(batch) == set(AVABatch.__annotations__)  # no "label" alias of the boxes' labels
    assert batch["video"].shape[0] == 2 == len(batch["index"])  # the batch counts clips, not boxes
    assert loader.dataset.num_keyframes == len(loader.dataset) == 6
