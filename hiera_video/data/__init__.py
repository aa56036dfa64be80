"""Video data: clip datasets over Kinetics-format lists, SSv2, class folders, UCF101/HMDB51 and AVA;
clip sampling, decoding, transforms, loaders."""
from .clip_dataset import ClipDataset
from .clip_sampling import SegmentSampler, UniformClipSampler
from .kinetics import KineticsDataset
from .loader import build_dataset, build_loader
from .video_decoding import VideoDecodeError, decode_clip


def ensure_synthetic_dataset(cfg):
    """See ``synthetic.ensure_synthetic_dataset`` (imported lazily so ``python -m`` runs it cleanly)."""
    if cfg.TRAIN.DATASET.lower() == "ava" or cfg.TEST.DATASET.lower() == "ava":
        from .ava_synthetic import ensure_ava_synthetic_dataset

        return ensure_ava_synthetic_dataset(cfg)
    from .synthetic import ensure_synthetic_dataset as ensure

    return ensure(cfg)


__all__ = ["ClipDataset", "KineticsDataset", "SegmentSampler", "UniformClipSampler", "VideoDecodeError",
           "build_dataset", "build_loader", "decode_clip", "ensure_synthetic_dataset"]
