"""Multi-view prediction for one video (the demo), and the top-5 overlay video."""
from typing import List, Optional, Sequence, Tuple

import torch

from hiera_video.data.lookup import clip_sampler
from hiera_video.data.transforms import build_eval_transform, eval_views
from hiera_video.data.video_decoding import VideoDecodeError, decode_clips

from .precision import model_dtype


def video_views(path: str, cfg, num_temporal: int = 5, num_crops: int = 3) -> torch.Tensor:
    """float ``[num_temporal x num_crops, C, T, S, S]``: the views the multi-view test of
    TEST.DATASET takes of ``path`` (its clip sampler, decoded in one pass), temporal-major.
    Raises ``VideoDecodeError`` when a view cannot be decoded."""
    sampler = clip_sampler(cfg)
    clips = decode_clips(path, cfg.DATA.DECODING_BACKEND,
                         lambda duration, fps: [sampler.view(duration, fps, j, num_temporal) for j in range(num_temporal)])
    failed = [c for c in clips if isinstance(c, VideoDecodeError)]
    if failed:
        raise failed[0]
    transform = build_eval_transform(cfg)
    return torch.cat([eval_views(frames, transform, cfg.DATA.TEST_CROP_SIZE, num_crops) for frames in clips])


def predict_video(model, path: str, cfg, num_temporal: int = 5, num_crops: int = 3) -> torch.Tensor:
    """Class probabilities ``[K]``: softmax scores averaged over the ``video_views``, as the
    multi-view test does."""
    return predict_views(model, video_views(path, cfg, num_temporal, num_crops))


@torch.no_grad()
def predict_views(model, views: torch.Tensor) -> torch.Tensor:
    """Views ``[V, C, T, S, S]`` (``video_views``) -> class probabilities ``[K]``, softmax averaged
    over the views (the web app shows the same views it predicts on)."""
    device = next(model.parameters()).device
    return model(views.to(device, model_dtype(model))).float().softmax(-1).mean(0).cpu()


def top_k(probs: torch.Tensor, class_names: Optional[Sequence[str]], k: int = 5) -> List[Tuple[int, str, float]]:
    """``[(class index, name, probability)]`` best first; names fall back to the index."""
    scores, idx = probs.topk(min(k, probs.numel()))
    names = [class_names[i] if class_names and i < len(class_names) else str(i) for i in idx.tolist()]
    return list(zip(idx.tolist(), names, scores.tolist()))


def write_overlay(src: str, dst: str, windows: Sequence[Tuple[float, float]], labels: Sequence[List[Tuple[int, str, float]]]) -> None:
    """Re-encode ``src`` to ``dst`` (H.264 MP4) with each window's top-5 drawn on its frames."""
    import av
    from PIL import ImageDraw

    with av.open(src) as inp, av.open(dst, "w") as out:
        in_stream = inp.streams.video[0]
        rate = in_stream.average_rate or 30
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height = in_stream.codec_context.width // 2 * 2, in_stream.codec_context.height // 2 * 2
        stream.pix_fmt = "yuv420p"
        for i, frame in enumerate(inp.decode(in_stream)):
            t = frame.time if frame.time is not None else i / float(rate)
            w = next((j for j, (s, e) in enumerate(windows) if s <= t < e), len(windows) - 1)
            image = frame.to_image().crop((0, 0, stream.width, stream.height))
            draw = ImageDraw.Draw(image)
            for line, (_, name, score) in enumerate(labels[w]):
                text = f"{score * 100:5.1f}% {name}"
                draw.rectangle((2, 2 + 12 * line, 8 + 6 * len(text), 13 + 12 * line), fill=(0, 0, 0))
                draw.text((4, 2 + 12 * line), text, fill=(255, 255, 255))
            for packet in stream.encode(av.VideoFrame.from_image(image).reformat(format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
