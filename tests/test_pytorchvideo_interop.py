"""pytorchvideo.data <-> this project on real clips: our lists read by pytorchvideo.data.Kinetics,
and a pytorchvideo.data dataset training the model through run_net's Trainer."""
import contextlib
import os

import pytest
import torch
from engine_utils import tiny_cfg
from pytorchvideo.data import Kinetics, Ucf101, make_clip_sampler
from torch.utils.data import SequentialSampler

from hiera_video.data.loader import build_dataset
from hiera_video.data.pytorchvideo_interop import (FromPytorchvideo, ProjectClipTransform, pytorchvideo_kinetics,
                                                   pytorchvideo_loader)
from hiera_video.synthetic.motion import CLASSES, clip_spec, render_clip
from hiera_video.synthetic.mp4 import write_mp4

NAMES = ["move_left", "move_right"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """my_videos/<class>/<n>.mp4: 5 clips of each of two demo classes (16 frames, 64 px)."""
    root = tmp_path_factory.mktemp("my_videos")
    for name in NAMES:
        os.makedirs(root / name)
    n = 0
    while sum(len(os.listdir(root / c)) for c in NAMES) < 10:
        app, label = clip_spec(3, "train", n, 64)
        if CLASSES[label] in NAMES and len(os.listdir(root / CLASSES[label])) < 5:
            write_mp4(str(root / CLASSES[label] / f"{n}.mp4"), render_clip(app, label, 16, 64))
        n += 1
    return str(root)


def cfg_for(folder, out, *extra):
    return tiny_cfg(folder, out, "DATA.SYNTHETIC.ENABLE", "False", "TRAIN.DATASET", "folder", "TEST.DATASET",
                    "folder", "MODEL.NUM_CLASSES", "0", "DATA.VAL_FRACTION", "0.2", "DATA.TEST_FRACTION", "0.2",
                    "SOLVER.MAX_EPOCH", "1", "SOLVER.WARMUP_EPOCHS", "0.0", *extra)


def test_our_lists_read_by_pytorchvideo_kinetics(folder, tmp_path):
    cfg = cfg_for(folder, tmp_path)
    ours = build_dataset(cfg, "train")  # writes OUTPUT_DIR/splits/{train,val,test}.csv
    seconds = cfg.DATA.NUM_FRAMES * cfg.DATA.SAMPLING_RATE / cfg.DATA.TARGET_FPS
    theirs = Kinetics(str(tmp_path / "splits" / "train.csv"), make_clip_sampler("constant_clips_per_video", seconds, 1),
                      video_sampler=SequentialSampler, decode_audio=False)
    items = list(theirs)
    assert [(it["video_name"], it["label"]) for it in items] == [
        (os.path.basename(p), lab) for p, lab in zip(ours.video_paths, ours.labels)]
    # every frame of the 4 x 2-frame window at 30 fps, as pytorchvideo decodes it
    assert all(it["video"].shape[0] == 3 and it["video"].shape[1] >= 7 and it["video"].shape[2:] == (64, 64)
               for it in items)
    # the same through the helper that applies this project's path rule and transform
    cfg_lists = tiny_cfg(str(tmp_path / "splits"), tmp_path / "b", "MODEL.NUM_CLASSES", "2")
    first = next(iter(pytorchvideo_kinetics(cfg_lists, "val")))
    assert first["video"].shape == (3, cfg.DATA.NUM_FRAMES, 64, 64) and first["video"].dtype == torch.float32


def test_pytorchvideo_dataset_trains_through_the_trainer(folder, tmp_path):
    from hiera_video.engine.build import build_model
    from hiera_video.engine.optim import build_optimizer, build_scheduler
    from hiera_video.engine.tasks import ClassificationTask
    from hiera_video.engine.trainer import Trainer

    cfg = cfg_for(folder, tmp_path)
    assert cfg.MODEL.NUM_CLASSES == 2
    seconds = cfg.DATA.NUM_FRAMES * cfg.DATA.SAMPLING_RATE / cfg.DATA.TARGET_FPS
    dataset = Ucf101(folder, make_clip_sampler("random", seconds), transform=ProjectClipTransform(cfg, train=True),
                     decode_audio=False)  # a class-folder tree read by pytorchvideo's own from_directory
    loader = pytorchvideo_loader(dataset, batch_size=cfg.TRAIN.BATCH_SIZE)
    assert len(loader) == 10 // cfg.TRAIN.BATCH_SIZE and FromPytorchvideo(dataset).labels.count(1) == 5
    torch.manual_seed(0)
    model = build_model(cfg)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = build_optimizer(cfg, model)
    scheduler = build_scheduler(cfg, optimizer, len(loader))
    trainer = Trainer(cfg, ClassificationTask(cfg), model, optimizer, scheduler, loader, torch.device("cpu"),
                      contextlib.nullcontext)
    trainer.train()
    assert trainer.iteration == len(loader) and torch.isfinite(torch.tensor(trainer.step_stats["loss"]))
    assert trainer.step_stats["clips"] == cfg.TRAIN.BATCH_SIZE
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    batch = next(iter(loader))
    assert set(batch) == {"video", "label", "index", "decode_failures"}
    assert model.eval()(batch["video"]).shape == (cfg.TRAIN.BATCH_SIZE, 2)


def test_our_decord_backend_survives_pytorchvideos_decord_decoder(real_videos_dir):
    """pytorchvideo's decord decoder sets decord's global bridge to torch; our decord reader
    must still decode (it failed with "'Tensor' object has no attribute 'asnumpy'")."""
    from pytorchvideo.data.encoded_video import EncodedVideo

    from hiera_video.data.video_decoding import open_video

    path = os.path.join(real_videos_dir, "dog.mp4")
    before = open_video(path, "decord").frames_at([0.5, 1.0])
    theirs = EncodedVideo.from_path(path, decode_audio=False, decoder="decord")
    assert theirs.get_clip(0.0, 0.5)["video"].shape[0] == 3
    after = open_video(path, "decord").frames_at([0.5, 1.0])
    assert after.shape == before.shape == (2, 256, 256, 3) and (after == before).all()
