"""hiera_video: a video understanding toolkit around Hiera.

``create_model``, ``list_models``, ``list_pretrained`` and ``extract_features`` are imported on first use, so
torch-free parts (e.g. ``hiera-ava-eval``'s metric) start quickly.
"""
__version__ = "0.1.0"
__all__ = ["create_model", "extract_features", "list_models", "list_pretrained"]


def __getattr__(name):
    if name in ("create_model", "list_models", "list_pretrained"):
        from . import models

        return getattr(models, name)
    if name == "extract_features":
        from .inference import extract_features

        return extract_features
    raise AttributeError(f"module 'hiera_video' has no attribute '{name}'")
