"""Multi-view prediction for one video (the demo), and the top-5 overlay video."""
from typing import List, Optional, Sequence, Tuple

import torch

from hiera_video.data.transforms import as_video, build_eval_transform, spatial_crop, to_model_layout
from hiera_video.data.video_decoding import clip_times, open_video


@torch.no_grad()
def predict_video(model, path: str, cfg, num_temporal: int = 5, num_crops: int = 3) -> torch.Tensor:
    """Class probabilities ``[K]``: softmax scores averaged over ``num_temporal`` uniform clips
    x ``num_crops`` spatial crops, as the multi-view test does."""
    step = cfg.DATA.SAMPLING_RATE / cfg.DATA.TARGET_FPS
    video = open_video(path, cfg.DATA.DECODING_BACKEND)
    try:
        room = max((video.duration or 0.0) - cfg.DATA.NUM_FRAMES * step, 0.0)
        starts = [room * (i / (num_temporal - 1) if num_temporal > 1 else 0.5) for i in range(num_temporal)]
        transform = build_eval_transform(cfg)
        views = []
        for start in starts:
            frames = torch.from_numpy(video.frames_at(clip_times(start, cfg.DATA.NUM_FRAMES, step)))
            clip = transform(as_video(frames.permute(0, 3, 1, 2)))
            views += [to_model_layout(spatial_crop(clip, cfg.DATA.TEST_CROP_SIZE, c, num_crops)) for c in range(num_crops)]
    finally:
        video.close()
    device = next(model.parameters()).device
    return model(torch.stack(views).to(device)).float().softmax(-1).mean(0).cpu()


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
