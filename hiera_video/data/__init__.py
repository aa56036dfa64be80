"""Video data: Kinetics-format lists, the generated demo dataset, decoding, transforms, loaders."""
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


__all__ = ["KineticsDataset", "VideoDecodeError", "build_dataset", "build_loader", "decode_clip",
           "ensure_synthetic_dataset"]
