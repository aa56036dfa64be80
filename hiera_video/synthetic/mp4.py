"""Writing frames as an H.264 MP4 file with PyAV: the generators' and the tests' video writer."""
import numpy as np

FPS = 30


def rgb_to_yuv420p(frames: np.ndarray) -> np.ndarray:
    """uint8 [T, H, W, 3] RGB -> uint8 [T, H * 3 // 2, W] planar yuv420p (BT.601, limited range)."""
    t, h, w, _ = frames.shape
    r, g, b = (frames[..., c].astype(np.float32) for c in range(3))
    y = 0.257 * r + 0.504 * g + 0.098 * b + 16
    pool = lambda x: (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2]) / 4  # noqa: E731
    r, g, b = pool(r), pool(g), pool(b)
    u = -0.148 * r - 0.291 * g + 0.439 * b + 128
    v = 0.439 * r - 0.368 * g - 0.071 * b + 128
    planes = np.concatenate([y.reshape(t, -1), u.reshape(t, -1), v.reshape(t, -1)], axis=1)
    return np.clip(planes + 0.5, 0, 255).astype(np.uint8).reshape(t, h * 3 // 2, w)


def write_mp4(path: str, frames: np.ndarray, fps: int = FPS, crf: int = 18) -> None:
    """Encode uint8 [T, H, W, 3] (H, W even) as H.264 / yuv420p MP4 with PyAV (deterministic)."""
    import av

    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        # x264's lookahead / macroblock tree made the output vary from run to run for the
        # same frames; without them (and with one thread) files are byte-identical.
        stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1",
                          "x264-params": "mbtree=0:rc-lookahead=0"}
        for i, plane in enumerate(rgb_to_yuv420p(frames)):
            frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
