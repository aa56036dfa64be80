"""Inference on your own videos: features of every window (``extract_features``), prediction."""
from hiera_video.data.clip_sampling import sliding_windows

from .extract import extract_features

__all__ = ["extract_features", "sliding_windows"]
