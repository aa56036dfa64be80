"""Clip feature extraction: sliding windows over whole videos -> pooled features (+ maps, logits)."""
from .windows import sliding_windows
from .extract import extract_features

__all__ = ["extract_features", "sliding_windows"]
