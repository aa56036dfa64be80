"""Clip feature extraction on real and generated videos: shapes, times, determinism, resume, failures."""
import json
import os
import shutil

import av
import numpy as np
import pytest
import torch

from hiera_video import create_model
from hiera_video.config.defaults import get_cfg
from hiera_video.inference import extract_features, sliding_windows
from hiera_video.inference.pipeline import list_videos, run_extraction
from hiera_video.inference.writer import NpyWriter, write_hdf5, write_index
from hiera_video.utils.io import check_writable


def small_cfg():
    cfg = get_cfg()
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TARGET_FPS, cfg.DATA.TEST_CROP_SIZE = 4, 8, 30, 64
    return cfg


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("hiera_tiny_16x224", embed_dim=16, num_heads=1, stages=(1, 1, 1, 1),
                        input_size=(4, 64, 64), num_classes=5).eval()


def write_video(path, frames=20, size=(48, 80), fps=30):
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            img = np.full((*size, 3), (i * 12) % 255, dtype=np.uint8)
            img[:, : size[1] // 3, 0] = 255  # left third red, so spatial crops differ
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return str(path)


def test_windows_cover_the_video():
    assert sliding_windows(5.0, 2.0) == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0)]
    assert sliding_windows(4.0, 2.0) == [(0.0, 2.0), (2.0, 4.0)]
    assert sliding_windows(5.0, 2.0, stride=1.0) == [(0, 2), (1, 3), (2, 4), (3, 5)]
    assert sliding_windows(0.5, 2.0) == [(0.0, 2.0)]  # shorter than a window: one, padded


def test_real_clip_shapes_times_and_determinism(model, real_videos_dir):
    cfg = small_cfg()
    path = os.path.join(real_videos_dir, "dog.mp4")  # 5 s at 30 fps; a window spans 4 * 8 / 30 s
    a = extract_features(model, path, cfg, stage=4, logits=True)
    span = 4 * 8 / 30
    n = len(sliding_windows(5.0, span))
    assert a["features"].shape == (n, model.num_features) and a["logits"].shape == (n, 5)
    assert a["stage4"].shape == (n, 2, 2, 2, 128)  # [clips, T', H', W', C] at 4x64x64
    assert np.allclose(a["clip_times"][:, 1] - a["clip_times"][:, 0], span)
    assert a["clip_times"][-1, 1] >= 5.0 and a["fps"] == pytest.approx(30.0) and not a["padded"]
    b = extract_features(model, path, cfg, stage=4, logits=True)
    assert np.array_equal(a["features"], b["features"])  # same features twice


def test_three_crops_average_distinct_views(model, tmp_path):
    cfg = small_cfg()
    wide = write_video(tmp_path / "wide.mp4", frames=30, size=(64, 128))
    centre = extract_features(model, wide, cfg)
    three = extract_features(model, wide, cfg, num_crops=3)
    assert three["features"].shape == centre["features"].shape
    assert not np.allclose(three["features"], centre["features"], atol=1e-4)


def test_run_resume_and_broken_file(model, real_videos_dir, tmp_path):
    cfg = small_cfg()
    videos_dir = tmp_path / "videos"
    videos_dir.mkdir()
    for name in ("dog.mp4", "goat.mp4"):
        shutil.copy(os.path.join(real_videos_dir, name), videos_dir / name)
    (videos_dir / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    write_video(videos_dir / "short.mp4", frames=6)  # 0.2 s, shorter than one window
    videos = list_videos(str(videos_dir))
    out = tmp_path / "out"
    check_writable(str(out))
    counts = run_extraction(model, videos, cfg, str(out), batch_size=3, progress=False)
    assert (counts["done"], counts["failed"]) == (3, 1)
    records = {os.path.basename(r["video"]): r for r in write_index(str(out), videos, NpyWriter(str(out)))}
    assert records["broken.mp4"]["status"] == "failed" and records["broken.mp4"]["reason"]
    assert records["short.mp4"]["padded"] and "shorter than one window" in records["short.mp4"]["reason"]
    assert np.load(records["short.mp4"]["features"]).shape == (1, model.num_features)
    dog = np.load(records["dog.mp4"]["features"])
    # Batched across videos it equals the one-video API.
    assert np.allclose(dog, extract_features(model, str(videos_dir / "dog.mp4"), cfg)["features"], atol=1e-5)
    with open(out / "index.json") as f:
        assert [r["video"] for r in json.load(f)] == videos

    # Interrupt: goat's record vanished and a half-written temp file lies around; dog is untouched.
    os.remove(out / "goat.json")
    (out / ".tmp_xyzgoat.npy").write_bytes(b"half")
    dog_mtime = os.path.getmtime(out / "dog.npy")
    counts = run_extraction(model, videos, cfg, str(out), progress=False)
    assert counts["skipped"] == 2 and counts["done"] == 1  # goat redone, broken retried
    assert os.path.getmtime(out / "dog.npy") == dog_mtime
    assert np.array_equal(np.load(out / "goat.npy"), np.load(records["goat.mp4"]["features"]))


def test_hdf5_output(model, real_videos_dir, tmp_path):
    pytest.importorskip("h5py")
    import h5py

    cfg = small_cfg()
    videos = [os.path.join(real_videos_dir, "goat.mp4")]
    run_extraction(model, videos, cfg, str(tmp_path), logits=True, progress=False)
    path = write_hdf5(str(tmp_path), write_index(str(tmp_path), videos, NpyWriter(str(tmp_path))))
    with h5py.File(path) as h5:
        assert h5["goat"]["features"].shape[1] == model.num_features
        assert h5["goat"]["logits"].shape[1] == 5 and h5["goat"]["clip_times"].shape[1] == 2


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a folder"):
        list_videos(str(tmp_path / "nothing"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "same.mp4").write_bytes(b"x")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path}/a/same.mp4\n{tmp_path}/b/same.mp4\n")
    with pytest.raises(ValueError, match="share the output name 'same'"):
        list_videos(str(listing))
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    if os.access(locked, os.W_OK):  # root ignores permissions
        locked = tmp_path / "file_not_folder"
        locked.write_text("x")
    with pytest.raises(PermissionError, match="not writable"):
        check_writable(str(locked))
