"""Video data: clip datasets over Kinetics-format lists, SSv2, class folders, UCF101/HMDB51 and AVA;
clip sampling, decoding, transforms, loaders."""
from .clip_dataset import ClipDataset
from .clip_sampling import SegmentSampler, UniformClipSampler
from .kinetics import KineticsDataset
from .loader import build_dataset, build_loader
from .video_decoding import VideoDecodeError, decode_clip


__all__ = ["ClipDataset", "KineticsDataset", "SegmentSampler", "UniformClipSampler", "VideoDecodeError",
           "build_dataset", "build_loader", "decode_clip"]
