"""pytorchvideo.data and this project, both ways.

Theirs into ours: ``FromPytorchvideo(dataset)`` turns a ``pytorchvideo.data.LabeledVideoDataset``
(``Kinetics``, ``Ucf101``, ``Hmdb51``, ``labeled_video_dataset(...)``) into this project's items,
and ``pytorchvideo_loader`` batches them for the model and for ``engine.trainer.Trainer`` (the loop
``run_net`` drives)::

    ds = pytorchvideo.data.Kinetics("my/train.csv", make_clip_sampler("random", 16 * 4 / 30),
                                    transform=ProjectClipTransform(cfg, train=True), decode_audio=False)
    loader = pytorchvideo_loader(ds, batch_size=8)
    Trainer(cfg, ClassificationTask(cfg), model, optimizer, scheduler, loader, device, autocast).train()

Your own transform works too if it leaves ``item["video"]`` float [C, T, H, W] at the model's
frames and crop. pytorchvideo's dataset is iterable: its RandomSampler and clip samplers draw
from the global RNG and a video that fails to decode is skipped, so neither exact resume nor
disjoint distributed shards carry over; this project's own datasets keep both.

Ours into theirs: the lists of ``kinetics.py``, ``folders.py`` (``OUTPUT_DIR/splits``) and the
synthetic demo are ``path label`` lines, which ``pytorchvideo.data.Kinetics`` reads;
``pytorchvideo_kinetics(cfg, split)`` builds it with this project's path rule (relative paths
under DATA.PATH_PREFIX, else the list's folder).
"""
import os
from typing import Dict, Iterator

import torch
from pytorchvideo.data import Kinetics, LabeledVideoDataset, make_clip_sampler
from torch.utils.data import DataLoader, IterableDataset, SequentialSampler

from . import transforms as T
from .video_lists import list_path


class ProjectClipTransform:
    """pytorchvideo item -> the same dict with "video" as this project's loader gives it.

    In: "video" float [C, T', H, W] (0-255, every frame of the sampled window). Out: float
    [C, DATA.NUM_FRAMES, crop, crop]: frames evenly spaced over the window, then the train
    transform (or the eval resize and centre crop), normalised."""

    def __init__(self, cfg, train: bool):
        self.num_frames, self.train = cfg.DATA.NUM_FRAMES, train
        self.crop = cfg.DATA.TRAIN_CROP_SIZE if train else cfg.DATA.TEST_CROP_SIZE
        self.transform = T.build_train_transform(cfg) if train else T.build_eval_transform(cfg)

    def __call__(self, item: Dict) -> Dict:
        video = item["video"]
        idx = torch.linspace(0, video.shape[1] - 1, self.num_frames).round().long()
        frames = video[:, idx].permute(1, 0, 2, 3).round().clamp(0, 255).to(torch.uint8)  # [T, C, H, W]
        clip = self.transform(T.as_video(frames))
        if not self.train:
            clip = T.spatial_crop(clip, self.crop, 1, 1)
        return {**item, "video": T.to_model_layout(clip)}


class FromPytorchvideo(IterableDataset):
    """A pytorchvideo ``LabeledVideoDataset`` yielding this project's items: "video" float
    [C, T, H, W], "label" int, "index" int (pytorchvideo's video_index), "decode_failures" 0.

    ``len`` is ``num_videos x clips_per_video`` (1 for a random clip sampler), the clips
    of one pass; ``num_videos``, ``video_paths`` and ``labels`` are those of its path list."""

    def __init__(self, dataset: LabeledVideoDataset, clips_per_video: int = 1):
        self.dataset, self.clips_per_video = dataset, clips_per_video
        entries = [dataset._labeled_videos[i] for i in range(dataset.num_videos)]
        self.video_paths = [p for p, _ in entries]
        self.labels = [info["label"] for _, info in entries]
        self.num_videos = len(entries)

    def __len__(self) -> int:
        return self.num_videos * self.clips_per_video

    def __iter__(self) -> Iterator[Dict]:
        for item in self.dataset:
            yield {"video": item["video"], "label": int(item["label"]), "index": int(item["video_index"]),
                   "decode_failures": 0}


def pytorchvideo_loader(dataset: LabeledVideoDataset, batch_size: int, num_workers: int = 0,
                        clips_per_video: int = 1) -> DataLoader:
    """Batches of ``FromPytorchvideo(dataset)`` (whole batches only): "video" [B, C, T, H, W], "label" [B]."""
    return DataLoader(FromPytorchvideo(dataset, clips_per_video), batch_size=batch_size, num_workers=num_workers,
                      drop_last=True)


def pytorchvideo_kinetics(cfg, split: str, transform=None, clip_sampler=None) -> LabeledVideoDataset:
    """``pytorchvideo.data.Kinetics`` over this project's ``DATA.PATH_TO_DATA_DIR/<split>.csv``.

    Default: a random clip of DATA.NUM_FRAMES x DATA.SAMPLING_RATE frames at DATA.TARGET_FPS in
    random video order for "train", one clip per video in list order otherwise, and
    ``ProjectClipTransform``. The lists must use a space separator (pytorchvideo splits on
    whitespace)."""
    lst = list_path(cfg.DATA.PATH_TO_DATA_DIR, split)
    train = split == "train"
    seconds = cfg.DATA.NUM_FRAMES * cfg.DATA.SAMPLING_RATE / cfg.DATA.TARGET_FPS
    if clip_sampler is None:
        clip_sampler = (make_clip_sampler("random", seconds) if train
                        else make_clip_sampler("constant_clips_per_video", seconds, 1))
    return Kinetics(lst, clip_sampler, video_sampler=torch.utils.data.RandomSampler if train else SequentialSampler,
                    transform=transform if transform is not None else ProjectClipTransform(cfg, train),
                    video_path_prefix=cfg.DATA.PATH_PREFIX or os.path.dirname(os.path.abspath(lst)),
                    decode_audio=False, decoder="pyav")


def loader_for_trainer(cfg, split: str = "train", transform=None) -> DataLoader:
    """``pytorchvideo_loader(pytorchvideo_kinetics(cfg, split), TRAIN.BATCH_SIZE)``: the loader to hand ``Trainer``."""
    return pytorchvideo_loader(pytorchvideo_kinetics(cfg, split, transform), cfg.TRAIN.BATCH_SIZE,
                               cfg.DATA_LOADER.NUM_WORKERS)
