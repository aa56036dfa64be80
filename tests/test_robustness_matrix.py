"""Every entry point that reads video, fed every kind of input (tests/video_zoo.py).

Good kinds (codecs, sizes, bit depths, frame counts, VFR, rotation, odd file names) must be
read; broken ones (truncated, empty, not a video, missing, audio only) must cost one log line
naming the file, be counted, and leave the run going.
"""
import hashlib
import json
import os
import shutil

import numpy as np
import pytest
import torch

from data_helpers import small_cfg
from data_helpers import tiny_checkpoint as write_tiny_checkpoint
from hiera_video.data.kinetics import KineticsDataset
from hiera_video.data.video_decoding import VideoDecodeError
from video_zoo import BROKEN, GOOD, write_zoo

NOT_FOR_DECORD = ("av1_mkv", "gif", "rotated")  # decord 0.6 fails on these (pyav reads them): reported, not a crash


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo")
    return str(folder), write_zoo(str(folder))


def tree_digest(folder: str) -> dict:
    """{relative path: sha1} of every file under ``folder`` (what a tool must leave alone)."""
    out = {}
    for dp, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(dp, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = hashlib.sha1(f.read()).hexdigest()
    return out


def zoo_list(zoo, data_dir, extra_lines=()):
    """One list for every split: every kind, labels cycling over 6 classes, plus ``extra_lines``."""
    _, paths = zoo
    kinds = sorted(paths)
    lines = [f"{paths[k]} {i % 6}" for i, k in enumerate(kinds)] + list(extra_lines)
    for split in ("train", "val", "test"):
        with open(os.path.join(data_dir, f"{split}.csv"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    return kinds


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_every_split_reads_good_and_reports_broken(zoo, tmp_path, backend, caplog):
    kinds = zoo_list(zoo, str(tmp_path), extra_lines=["/x/label_out_of_range.mp4 17", "/x/not_a_number.mp4 left"])
    cfg = small_cfg(str(tmp_path), **{"DATA.DECODING_BACKEND": backend, "TEST.NUM_ENSEMBLE_VIEWS": 2,
                                      "TEST.NUM_SPATIAL_CROPS": 3})
    good = [k for k in GOOD if not (backend == "decord" and k in NOT_FOR_DECORD)]
    for split in ("train", "val", "test"):
        ds = KineticsDataset(cfg, split)
        assert ds.num_videos == len(kinds)
        assert [line.split(", line ")[1].split(":")[0] for line in ds.skipped_lines] == [str(len(kinds) + 1), str(len(kinds) + 2)]
        for v, kind in enumerate(kinds):
            caplog.clear()
            if split == "train":
                item = ds[(v, 0)]
                replaced = item["decode_failures"] > 0
                assert replaced == (kind not in good), (kind, split)
                assert item["video"].shape == (3, 4, 32, 32) and torch.isfinite(item["video"]).all()
            else:
                item = ds[v]  # every view of the video, decoded in one pass
                assert item["ok"].tolist() == [kind in good] * ds.num_views, (kind, split)
                assert item["video"].shape == (ds.num_views, 3, 4, 32, 32)
            if kind not in good:  # one line that names the file and the reason
                assert os.path.basename(ds.video_paths[v]) in caplog.text and "cannot decode video" in caplog.text


def test_reasons_are_plain(zoo):
    from hiera_video.data.video_decoding import open_video

    _, paths = zoo
    expected = {"zero_bytes": "empty file (0 bytes)", "missing": "file not found",
                "not_a_video": "not a video FFmpeg can read", "truncated": "not a video FFmpeg can read",
                "audio_only": "no video stream (streams: audio)"}
    for kind, reason in expected.items():
        with pytest.raises(VideoDecodeError, match=reason.replace("(", r"\(").replace(")", r"\)")):
            open_video(paths[kind], "pyav")
    assert set(expected) == set(BROKEN)


def test_rotated_video_is_decoded_upright(zoo):
    """A 64x48 file with a 90-degree display matrix: pyav gives 64-high, 48-wide frames, turned clockwise."""
    import av

    from hiera_video.data.video_decoding import open_video

    _, paths = zoo
    with av.open(paths["rotated"]) as c:
        raw = next(c.decode(video=0))
        assert raw.rotation == -90
        coded = raw.to_ndarray(format="rgb24")
    video = open_video(paths["rotated"], "pyav")
    upright = video.frames_at([0.0])[0]
    video.close()
    assert upright.shape == (64, 48, 3) and np.array_equal(upright, np.rot90(coded, -1))


def test_long_video_decodes_only_the_sampled_span(zoo):
    """A 10-minute file: a clip near its end is found by seeking, not by decoding 20 minutes of frames."""
    from hiera_video.data.video_decoding import open_video

    _, paths = zoo
    video = open_video(paths["ten_minutes"], "pyav")
    assert video.duration == pytest.approx(600, abs=1)

    class CountingContainer:
        def __init__(self, container):
            self.container, self.decoded = container, 0

        def decode(self, *args, **kwargs):
            for frame in self.container.decode(*args, **kwargs):
                self.decoded += 1
                yield frame

        def __getattr__(self, name):
            return getattr(self.container, name)

    video._container = counting = CountingContainer(video._container)
    frames = video.frames_at([590.0, 591.0, 592.0])
    video.close()
    assert frames.shape == (3, 64, 64, 3) and counting.decoded < 200  # 2 fps x 600 s = 1200 frames in the file


def test_ssv2_segment_sampling_reads_every_kind(zoo, tmp_path):
    from hiera_video.data.ssv2 import SSv2Dataset

    _, paths = zoo
    kinds = sorted(paths)
    classes = ["Holding something", "Pushing something"]
    (tmp_path / "something-something-v2-labels.json").write_text(json.dumps({c: str(i) for i, c in enumerate(classes)}))
    entries = [{"id": str(k), "template": "Holding [something]", "placeholders": ["x"]} for k in range(len(kinds))]
    for name in ("train", "validation"):
        (tmp_path / f"something-something-v2-{name}.json").write_text(json.dumps(entries))
    videos = tmp_path / "videos"
    videos.mkdir()
    for k, kind in enumerate(kinds):
        if os.path.exists(paths[kind]):
            shutil.copy(paths[kind], videos / f"{k}.webm")  # FFmpeg probes the content, not the name
    cfg = small_cfg(str(tmp_path), **{"TRAIN.DATASET": "ssv2", "TEST.DATASET": "ssv2", "MODEL.NUM_CLASSES": 2,
                                      "DATA.PATH_PREFIX": str(videos)})
    test = SSv2Dataset(cfg, "test")
    train = SSv2Dataset(cfg, "train")
    for k, kind in enumerate(kinds):
        ok = kind in GOOD
        assert test[k]["ok"].tolist() == [ok] * test.num_views, kind
        assert (train[(k, 0)]["decode_failures"] == 0) == ok, kind


def demo_cfg():
    from hiera_video.engine import load_config

    return load_config("configs/Synthetic/HIERA_TINY_DEMO.yaml", ["DATA.NUM_FRAMES", "4"], validate=False)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.pyth", (4, 64, 64))


def test_extraction_lists_every_file_and_leaves_the_folder_alone(zoo, tiny_checkpoint, tmp_path):
    from hiera_video.inference.pipeline import list_videos, run_extraction
    from hiera_video.inference.writer import NpyWriter, write_index

    folder, paths = zoo
    model, _ = tiny_checkpoint
    os.makedirs(os.path.join(folder, "a_subfolder"), exist_ok=True)
    shutil.copy(paths["h264_mp4"], os.path.join(folder, "h264.gif"))  # same stem as h264.mp4: both kept
    before = tree_digest(folder)
    cfg = demo_cfg()
    videos = list_videos(folder)
    assert len(videos) == len(os.listdir(folder))
    out = str(tmp_path / "features")
    counts = run_extraction(model, videos, cfg, out, stride_sec=60.0, batch_size=4, progress=False)
    index = {os.path.relpath(r["video"], folder): r for r in write_index(out, videos, NpyWriter(out, videos))}
    assert set(index) == set(os.listdir(folder))
    status = {os.path.relpath(p, folder): ("ok" if k in GOOD else "failed") for k, p in paths.items() if os.path.exists(p)}
    status.update({"h264.gif": "ok", "a_subfolder": "skipped"})
    assert {name: r["status"] for name, r in index.items()} == status
    assert all(r["reason"] for r in index.values() if r["status"] != "ok")
    assert index["ten_minutes.mp4"]["num_clips"] == 10  # windows every 60 s over 10 minutes
    assert index["h264.gif"]["name"] != index["h264.mp4"]["name"]
    assert counts["failed"] == sum(v == "failed" for v in status.values())
    assert tree_digest(folder) == before
    shutil.rmtree(os.path.join(folder, "a_subfolder"))
    os.remove(os.path.join(folder, "h264.gif"))


def test_demo_predicts_good_and_names_broken(zoo, tiny_checkpoint, tmp_path, capsys):
    from hiera_video.inference.predict import predict_video

    folder, paths = zoo
    model, ckpt = tiny_checkpoint
    cfg = demo_cfg()
    for kind, path in paths.items():
        if kind in GOOD:
            probs = predict_video(model, path, cfg, 2, 3)
            assert probs.shape == (6,) and abs(float(probs.sum()) - 1) < 1e-4, kind
        else:
            with pytest.raises(VideoDecodeError, match="cannot decode video"):
                predict_video(model, path, cfg, 2, 3)
    # The tool itself, --output included, on odd, 10-bit and rotated input, then on a broken one.
    import importlib.util

    spec = importlib.util.spec_from_file_location("demo_net", "tools/demo_net.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    tiny = ["DATA.NUM_FRAMES", "4", "HIERA.EMBED_DIM", "16", "HIERA.STAGES", "[1,1,1,1]", "DATA_LOADER.NUM_WORKERS", "0"]
    before = tree_digest(folder)
    for kind in ("odd_175x97", "10bit_hevc", "rotated", "odd_name", "gif"):
        out = tmp_path / f"{kind}_top5.mp4"
        demo.main(["--cfg", "configs/Synthetic/HIERA_TINY_DEMO.yaml", "--checkpoint", ckpt, "--video", paths[kind],
                   "--output", str(out), "--single-view", *tiny])
        assert out.stat().st_size > 0 and "1." in capsys.readouterr().out
    with pytest.raises(SystemExit, match="cannot decode video.*truncated.mp4"):
        demo.main(["--cfg", "configs/Synthetic/HIERA_TINY_DEMO.yaml", "--checkpoint", ckpt, "--video",
                   paths["truncated"], *tiny])
    assert tree_digest(folder) == before


def test_visualize_mae_reads_good_and_names_broken(zoo, tmp_path):
    from hiera_video.models.zoo import create_model

    _, paths = zoo
    from hiera_video.cli import visualize_mae as tool
    clip = tool.read_clip(paths["ten_minutes"], 4, 64, 4)
    assert clip.shape == (4, 3, 64, 64)
    model = create_model("mae_hiera_tiny_16x224", embed_dim=16, num_heads=1, stages=(1, 1, 1, 1),
                             input_size=(4, 64, 64), decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=1)
    ckpt = tmp_path / "mae.pyth"
    torch.save({"model_state": model.state_dict()}, ckpt)
    with pytest.raises(SystemExit, match="cannot decode video.*zero.mp4.*empty file"):
        tool.main(["--checkpoint", str(ckpt), "--video", paths["zero_bytes"], "--out", str(tmp_path / "x.png")])


def test_resizer_resizes_good_and_lists_broken(zoo, tmp_path):
    import importlib.util

    folder, paths = zoo
    src = tmp_path / "src"
    src.mkdir()
    for kind, path in paths.items():
        if os.path.exists(path):
            shutil.copy(path, src / os.path.basename(path))
    before = tree_digest(str(src))
    spec = importlib.util.spec_from_file_location("resize_videos", "datasets_prep/resize_videos.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    dst = tmp_path / "dst"
    tool.main(["--src", str(src), "--dst", str(dst), "--short-side", "32", "--workers", "1", "--no-progress"])
    failures = (dst / "resize_failures.txt").read_text()
    for kind in ("truncated", "zero_bytes", "not_a_video", "audio_only"):
        assert os.path.basename(paths[kind]) in failures, kind
    import av

    for kind in GOOD:
        resized = dst / (os.path.splitext(os.path.basename(paths[kind]))[0] + ".mp4")
        with av.open(str(resized)) as c:
            size = c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height
        assert min(size) == 32, (kind, size)
    assert tree_digest(str(src)) == before
