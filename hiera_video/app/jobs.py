"""The app's four jobs on one video, each the project's own inference code (no Gradio here):

* ``top5``: the demo's multi-view top-5 (``hiera-demo --video``), and the views it was computed on;
* ``timeline``: ``hiera-demo --timeline``'s windows, segments and files;
* ``features``: ``extract_features``' clip features, as ``.npy`` with a ``.json`` record;
* ``reconstruction``: ``hiera-visualize-mae``'s picture for a chosen mask seed.

Each checks the video first (``checks.check_video``) and writes only into the job's ``folder``;
an input it cannot use raises ``Rejected`` with the sentence to show.
"""
import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from hiera_video.data.video_decoding import VideoDecodeError
from hiera_video.inference.extract import extract_features
from hiera_video.inference.mae_reconstruction import describe, picture
from hiera_video.inference.predict import predict_views, top_k, video_views
from hiera_video.inference.timeline import predict_timeline, write_timeline
from hiera_video.utils.io import atomic_write

from .checks import VIDEO_TYPES, Limits, Rejected, VideoFacts, check_video, reason, with_duration
from .models import AppModels
from .views import pictures_with_captions


@dataclass
class JobResult:
    facts: VideoFacts
    seconds: float = 0.0
    top5: List[Tuple[int, str, float]] = field(default_factory=list)  # (class index, name, probability)
    views: Tuple[int, int] = (1, 1)  # temporal clips x spatial crops
    pictures: List[Tuple[str, str]] = field(default_factory=list)  # (png path, caption)
    files: Dict[str, str] = field(default_factory=dict)  # kind -> path
    segments: List[Dict] = field(default_factory=list)
    shape: Tuple[int, ...] = ()
    settings: str = ""


def top5(models: AppModels, path: Optional[str], folder: str, limits: Limits, single_view: bool = False) -> JobResult:
    """The top-5 over TEST.NUM_ENSEMBLE_VIEWS x TEST.NUM_SPATIAL_CROPS views (or the centre one)."""
    cfg, start = models.cfg, time.perf_counter()
    _require(models.classifier, "top-5", models.classifier_error)
    path, facts = _checked(path, folder, limits, cfg.DATA.DECODING_BACKEND)
    views = (1, 1) if single_view else (cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS)
    with _decoding(facts):
        clips = video_views(path, cfg, *views)
    result = JobResult(facts, top5=top_k(predict_views(models.classifier, clips), models.names), views=views)
    for j, (image, caption) in enumerate(pictures_with_captions(clips, cfg, facts.duration, facts.fps, *views)):
        result.pictures.append((_save_png(os.path.join(folder, f"clip_{j + 1}.png"), image), caption))
    result.seconds = time.perf_counter() - start
    return result


def timeline(models: AppModels, path: Optional[str], folder: str, limits: Limits, stride: float = 0.0) -> JobResult:
    """Scores of windows every ``stride`` s (0: the window length) and the segments; the files of
    ``hiera-demo --timeline`` in ``folder``."""
    cfg, start = models.cfg, time.perf_counter()
    _require(models.classifier, "timeline", models.classifier_error)
    path, facts = _checked(path, folder, limits, cfg.DATA.DECODING_BACKEND)
    if stride < 0:
        raise Rejected(f"The stride must be 0 (the window length) or more seconds, got {stride:g}.")
    with _decoding(facts):
        scores = predict_timeline(models.classifier, path, cfg, stride_sec=stride, batch_size=8)
    files, segments = write_timeline(folder, facts.name, scores, models.names)
    return JobResult(facts, time.perf_counter() - start, files=files, segments=segments,
                     shape=tuple(scores["probs"].shape))


def features(models: AppModels, path: Optional[str], folder: str, limits: Limits, stride: float = 0.0,
             crops: int = 1) -> JobResult:
    """Clip features ``[num_clips, C]`` of every window (``hiera-extract``'s), as NAME.npy and NAME.json."""
    cfg, start = models.cfg, time.perf_counter()
    _require(models.encoder, "features", models.encoder_error)
    path, facts = _checked(path, folder, limits, cfg.DATA.DECODING_BACKEND)
    if stride < 0:
        raise Rejected(f"The stride must be 0 (the window length) or more seconds, got {stride:g}.")
    with _decoding(facts):
        out = extract_features(models.encoder, path, cfg, stride_sec=stride, num_crops=crops)
    stem = os.path.splitext(facts.name)[0] or "video"
    files = {"npy": os.path.join(folder, stem + ".npy"), "json": os.path.join(folder, stem + ".json")}
    atomic_write(files["npy"], lambda f: np.save(f, out["features"]))
    record = dict(video=facts.name, num_clips=len(out["features"]), feature_dim=int(out["features"].shape[1]),
                  clip_times=out["clip_times"].tolist(), fps=out["fps"], duration=out["duration"],
                  padded=out["padded"], stride=stride, crops=crops)
    atomic_write(files["json"], lambda f: f.write(json.dumps(record, indent=1).encode()))
    return JobResult(facts, time.perf_counter() - start, files=files, shape=tuple(out["features"].shape))


def reconstruction(models: AppModels, path: Optional[str], folder: str, limits: Limits, seed: int = 0,
                   mask_ratio: Optional[float] = None) -> JobResult:
    """The MAE's picture (original / masked input / reconstruction) of the video's middle clip."""
    start = time.perf_counter()
    _require(models.mae, "reconstruction", models.mae_error)
    path, facts = _checked(path, folder, limits, models.cfg.DATA.DECODING_BACKEND)
    if mask_ratio is not None and not 0 <= mask_ratio < 1:
        raise Rejected(f"The mask ratio must be in [0, 1), got {mask_ratio:g}.")
    scale = max(1, round(128 / models.mae.input_size[-1]))  # small inputs drawn bigger
    with _decoding(facts):
        grid = picture(models.mae, path, models.mae_settings, mask_ratio, int(seed), scale)
    png = _save_png(os.path.join(folder, "reconstruction.png"), grid)
    return JobResult(facts, time.perf_counter() - start, files={"png": png},
                     settings=describe(models.mae, models.mae_settings, mask_ratio))


def _checked(path: Optional[str], folder: str, limits: Limits, backend: str) -> Tuple[str, VideoFacts]:
    """The video to run on (remuxed when its container has no duration) and its facts."""
    facts = check_video(path, limits, backend)
    with _decoding(facts):
        return with_duration(path, facts, folder, backend)


def _require(model, what: str, why: str) -> None:
    if model is None:
        raise Rejected(f"This checkpoint cannot do the {what}: {why}")


@contextlib.contextmanager
def _decoding(facts: VideoFacts) -> Iterator[None]:
    """A file that opened but fails to decode (truncated, corrupt) -> ``Rejected``."""
    try:
        yield
    except VideoDecodeError as e:
        raise Rejected(f"Cannot decode {facts.name}: {reason(e, e.path)}. Upload a video file ({VIDEO_TYPES}).") from None


def _save_png(path: str, image: np.ndarray) -> str:
    from PIL import Image

    atomic_write(path, lambda f: Image.fromarray(image).save(f, format="PNG"))
    return path
