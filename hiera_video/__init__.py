"""hiera_video: a video understanding toolkit around Hiera."""
from .models import create_model, list_models

__version__ = "0.1.0"
__all__ = ["create_model", "extract_features", "list_models"]


def extract_features(model, video_path, cfg, **kwargs):
    """Features of every sliding window of one video; see ``hiera_video.inference.extract_features``."""
    from .inference import extract_features as extract

    return extract(model, video_path, cfg, **kwargs)
