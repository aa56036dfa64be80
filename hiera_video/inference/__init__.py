"""Inference on whole videos: sliding-window feature extraction and multi-view prediction."""
from .windows import sliding_windows
from .extract import extract_features

__all__ = ["extract_features", "sliding_windows"]
