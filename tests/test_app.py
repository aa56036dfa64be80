"""``hiera-app`` through its API: a real server (``tools/app.py`` in a subprocess on localhost) driven
by ``gradio_client``, against the tools it must agree with (``hiera-demo``'s top-5 and ``--timeline``,
``hiera-visualize-mae``'s picture), on real H.264 files and broken ones.
"""
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

gradio_client = pytest.importorskip("gradio_client", reason="the app's tests need the [dev] extra (gradio_client)")
from gradio_client import Client, handle_file  # noqa: E402

from app_helpers import CFG, NAMES, TINY, AppServer, demo_top5, tiny_classifier, wait_for  # noqa: E402
from video_zoo import audio_only, encode  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("app_inputs")
    out = {
        "clip": encode(str(folder / "moving_square.mp4"), "libx264", "yuv420p", 90, (96, 64), 30),  # 3 s
        "other": encode(str(folder / "other.mp4"), "libx264", "yuv420p", 45, (64, 64), 30),
        "long": encode(str(folder / "long.mp4"), "libx264", "yuv420p", 400, (64, 64), 2),  # 200 s at 2 fps
        "medium": encode(str(folder / "medium.mp4"), "libx264", "yuv420p", 200, (64, 64), 2),  # 100 s
        "checkpoint": tiny_classifier(str(folder / "tiny.pyth")),
        "audio": audio_only(str(folder / "song.m4a")),
        "recording": recording(str(folder / "webcam.webm")),
        "text": str(folder / "notes.mp4"),
        "empty": str(folder / "empty.mp4"),
        "image": str(folder / "still.png"),
        "big": str(folder / "big.mp4"),
    }
    (folder / "notes.mp4").write_bytes(b"these are my notes, not a video\n" * 20)
    (folder / "empty.mp4").write_bytes(b"")
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(out["image"])
    (folder / "big.mp4").write_bytes(open(out["long"], "rb").read() + b"\0" * 2_100_000)  # over the 2 MB limit
    return out


def recording(path: str, n: int = 90) -> str:
    """A 3 s VP8 WebM written as a browser's MediaRecorder writes it: to a stream that cannot seek
    back, so the file states no duration (and no frame count)."""
    import av

    from video_zoo import frames

    class Pipe:  # write() only: the muxer cannot go back to fill in the duration
        def __init__(self, f):
            self.write = f.write

    with open(path, "wb") as f, av.open(Pipe(f), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for image in frames(n, 64, 64):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def server(files, tmp_path_factory):
    app = AppServer(str(tmp_path_factory.mktemp("app_server")),
                    ["--cfg", CFG, "--checkpoint", files["checkpoint"], "--max-duration", "120", "--max-upload-mb", "2",
                     "--queue-size", "1", "--example", files["other"], *TINY, "DATA.PATH_TO_DATA_DIR", "/nonexistent"])
    yield app
    app.stop()


def client(server, tmp_path, name="dl"):
    return Client(server.url, verbose=False, download_files=str(tmp_path / name), analytics_enabled=False)


def status(result) -> str:
    """The status line of a job (hidden and empty when it worked)."""
    return result[0]["value"] if isinstance(result[0], dict) else str(result[0])


def test_top5_equals_demo_net(server, files, tmp_path):
    result = client(server, tmp_path).predict(handle_file(files["clip"]), False, api_name="/top5")
    assert status(result) == ""
    shown = [(c["label"], c["confidence"]) for c in result[1]["confidences"]]
    expected = demo_top5(files["clip"], files["checkpoint"])
    assert [name for name, _ in shown] == [name for name, _, _ in expected]
    assert all(n in NAMES for n, _ in shown)  # the names stored in the checkpoint
    for (_, score), (_, percent, _) in zip(shown, expected):
        assert abs(score * 100 - percent) <= 0.005 + 1e-6  # demo_net prints 2 decimals
    assert "top-5 over 5x3 views" in result[2]

    # The frames the model saw: per clip, crops as rows and frames as columns, exactly the views
    # the prediction ran on (the demo's sampling, resizing and crops), un-normalised.
    from hiera_video.engine import load_config
    from hiera_video.inference.predict import video_views

    cfg = load_config(CFG, TINY, validate=False)
    views = video_views(files["clip"], cfg, 5, 3)
    mean, std = torch.tensor(cfg.DATA.MEAN).view(3, 1, 1, 1), torch.tensor(cfg.DATA.STD).view(3, 1, 1, 1)
    assert len(result[3]) == 5 and result[3][1]["caption"].startswith("clip 2/5: 4 frames")
    for j, item in enumerate(result[3]):
        picture = np.asarray(Image.open(item["image"]).convert("RGB")).astype(np.float32) / 255
        assert picture.shape == (3 * 64, 4 * 64, 3)
        for crop in range(3):
            for t in range(4):
                want = (views[j * 3 + crop, :, t] * std[:, 0] + mean[:, 0]).clamp(0, 1).permute(1, 2, 0).numpy()
                got = picture[crop * 64:(crop + 1) * 64, t * 64:(t + 1) * 64]
                assert np.abs(got - want).max() <= 0.5 / 255 + 1e-6


def test_single_view_equals_demo_net_single_view(server, files, tmp_path):
    result = client(server, tmp_path).predict(handle_file(files["other"]), True, api_name="/top5")
    expected = demo_top5(files["other"], files["checkpoint"], "--single-view")
    shown = [(c["label"], c["confidence"]) for c in result[1]["confidences"]]
    assert [n for n, _ in shown] == [n for n, _, _ in expected] and "1x1 views" in result[2]
    assert all(abs(s * 100 - p) <= 0.005 + 1e-6 for (_, s), (_, p, _) in zip(shown, expected))
    assert len(result[3]) == 1 and Image.open(result[3][0]["image"]).size == (4 * 64, 64)


def test_timeline_equals_demo_net_timeline(server, files, tmp_path):
    result = client(server, tmp_path).predict(handle_file(files["clip"]), 0.25, api_name="/timeline")
    assert status(result) == ""
    downloads = {os.path.basename(p): p for p in result[3]}
    assert set(downloads) == {"timeline.csv", "segments.json", "timeline.jsonl"}

    from hiera_video.cli import demo_net

    out = tmp_path / "demo_timeline"
    with pytest.raises(SystemExit) as done:
        demo_net.main(["--cfg", CFG, "--checkpoint", files["checkpoint"], "--video", files["clip"], "--timeline",
                       "--stride", "0.25", "--out", str(out), *TINY])
    assert done.value.code == 0
    for name in ("timeline.csv", "timeline.jsonl"):
        assert open(downloads[name]).read() == (out / name).read_text(), name
    app_segments, demo_segments = json.load(open(downloads["segments.json"])), json.loads((out / "segments.json").read_text())
    assert app_segments["segments"] == demo_segments["segments"] and app_segments["num_windows"] == 12
    assert app_segments["video"] == "moving_square.mp4"  # the upload's name, not a path on the server
    table = [[s["start"], s["end"], s["class"], s["mean_score"]] for s in demo_segments["segments"]]
    assert result[2]["data"] == table
    assert Image.open(result[1]).size[0] > 300  # the plot


def test_features_equal_extract_features(server, files, tmp_path):
    result = client(server, tmp_path).predict(handle_file(files["clip"]), 0.5, 3, api_name="/features")
    assert status(result) == ""
    npy, record = sorted(result[1], key=lambda p: not p.endswith(".npy"))  # NAME.npy, NAME.json
    feats = np.load(npy)

    from hiera_video.engine import load_config
    from hiera_video.engine.build import build_model, load_train_init
    from hiera_video.inference.extract import extract_features
    from hiera_video.inference.precision import for_inference

    cfg = load_config(CFG, TINY, validate=False)
    model = build_model(cfg, for_test=True)
    load_train_init(model, files["checkpoint"])  # as hiera-extract loads it, in its default --dtype auto
    model = for_inference(model, torch.device("cpu"), "auto")
    want = extract_features(model, files["clip"], cfg, stride_sec=0.5, num_crops=3)
    np.testing.assert_allclose(feats, want["features"], rtol=1e-4, atol=1e-5)
    meta = json.load(open(record))
    assert meta["num_clips"] == len(feats) == 6 and meta["clip_times"] == want["clip_times"].tolist()


@pytest.mark.parametrize("kind,message", [
    ("text", "Cannot read notes.mp4: not a video FFmpeg can read"),
    ("empty", "Cannot read empty.mp4: empty file (0 bytes)"),
    ("audio", "Cannot read song.m4a: no video stream (streams: audio)"),
    ("image", "still.png is a still image (png_pipe), not a video"),
    ("long", "long.mp4 is 3 min 20 s long; this app takes videos up to 2 min (hiera-app --max-duration)"),
])
def test_bad_upload_gets_a_message_then_a_good_one_works(server, files, tmp_path, kind, message):
    c = client(server, tmp_path)
    for api in ("/top5", "/timeline"):
        args = (False,) if api == "/top5" else (0,)
        result = c.predict(handle_file(files[kind]), *args, api_name=api)
        assert message in status(result) and result[0]["visible"]
        assert server.root not in status(result)  # no server paths in the page
    result = c.predict(handle_file(files["other"]), True, api_name="/top5")
    assert status(result) == "" and len(result[1]["confidences"]) == 5
    assert server.proc.poll() is None


def test_no_video_and_too_big(server, files, tmp_path):
    c = client(server, tmp_path)
    assert "No video yet" in status(c.predict(None, False, api_name="/top5"))
    # Gradio refuses the upload itself (max_file_size): the file never reaches the disk or a job.
    with pytest.raises(Exception, match="(?i)max|size|large"):
        c.predict(handle_file(files["big"]), False, api_name="/top5")
    sizes = [os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(server.root) for f in fs]
    assert max(sizes, default=0) < 2e6  # Gradio deleted the partial upload
    assert status(c.predict(handle_file(files["other"]), True, api_name="/top5")) == ""


def test_checks_name_the_limit_and_the_option(files):
    """What the page says for a file that reached a job over the size limit (uploads are stopped by
    Gradio before that) and for lengths, read from the container without decoding."""
    from hiera_video.app.checks import Limits, Rejected, check_video

    with pytest.raises(Rejected, match=r"^big.mp4 is 2.3 MB; this app takes videos up to 1 MB \(hiera-app --max-upload-mb\)"):
        check_video(files["big"], Limits(max_mb=1))
    with pytest.raises(Rejected, match=r"^long.mp4 is 3 min 20 s long; this app takes videos up to 59.5 s "):
        check_video(files["long"], Limits(max_seconds=59.5))
    facts = check_video(files["long"], Limits())
    assert (facts.name, facts.seconds, facts.fps) == ("long.mp4", 200.0, 2.0)


def test_a_recording_without_duration_is_sampled_over_its_length(server, files, tmp_path):
    """Browser recordings (the webcam) state no duration: the app reads their packets for the length
    and remuxes them (nothing re-encoded), so the 5 clips spread over the recording."""
    from hiera_video.app.checks import Limits, check_video
    from hiera_video.data.video_decoding import open_video

    video = open_video(files["recording"])
    assert video.duration is None  # what every decoder of the project sees
    video.close()
    facts = check_video(files["recording"], Limits())
    assert facts.duration is None and 2.9 < facts.seconds <= 3.0
    with pytest.raises(Exception, match="webcam.webm is more than 2.0 s long; this app takes videos up to 2.0 s"):
        check_video(files["recording"], Limits(max_seconds=2))
    result = client(server, tmp_path).predict(handle_file(files["recording"]), False, api_name="/top5")
    assert status(result) == "" and "webcam.webm: top-5 over 5x3 views" in result[2]
    starts = [float(item["caption"].split(", ")[1].split("-")[0]) for item in result[3]]
    assert starts[0] == 0.0 and starts[-1] > 2.0 and starts == sorted(starts)


def test_a_session_end_deletes_its_files_only(server, files, tmp_path):
    sessions = os.path.join(server.root, "sessions")
    first, second = client(server, tmp_path, "a"), client(server, tmp_path, "b")
    first.predict(handle_file(files["clip"]), True, api_name="/top5")
    second.predict(handle_file(files["clip"]), True, api_name="/top5")  # the same bytes: one upload, two users
    first.predict(handle_file(files["audio"]), False, api_name="/top5")
    mine, theirs = os.path.join(sessions, first.session_hash), os.path.join(sessions, second.session_hash)
    uploads = {f: os.path.join(d, f) for d, _, fs in os.walk(server.root) for f in fs if d != server.root}
    assert os.listdir(mine) and os.listdir(theirs) and {"moving_square.mp4", "song.m4a"} <= set(uploads)

    first.close()  # the browser tab closes: its heartbeat stops, Gradio fires the unload event
    assert wait_for(lambda: not os.path.exists(mine)), server.log()
    assert wait_for(lambda: not os.path.exists(uploads["song.m4a"]))  # used by the first session only
    assert os.path.exists(uploads["moving_square.mp4"]) and os.listdir(theirs)  # still the second's
    second.close()
    assert wait_for(lambda: not os.path.exists(theirs) and not os.path.exists(uploads["moving_square.mp4"]))
    assert os.path.exists(uploads["other.mp4"])  # the example is everyone's


def test_a_full_queue_refuses_more_jobs(server, files, tmp_path):
    """One job runs, --queue-size 1 waits, the next one is refused; the waiting one then runs."""
    from gradio_client.utils import Status

    a, b, c = (client(server, tmp_path, n) for n in "abc")
    slow = a.submit(handle_file(files["medium"]), 0.05, api_name="/timeline")  # 2000 windows
    assert wait_for(lambda: slow.status().code == Status.PROCESSING, 30)
    waiting = b.submit(handle_file(files["other"]), True, api_name="/top5")
    assert wait_for(lambda: waiting.status().code == Status.IN_QUEUE, 30)
    assert not slow.done(), "the slow job ended before the queue could be tested"
    with pytest.raises(Exception, match="Queue is full"):
        c.predict(handle_file(files["other"]), True, api_name="/top5")
    assert status(waiting.result(timeout=300)) == "" and status(slow.result(timeout=300)) == ""


def test_mae_checkpoint_reconstruction_equals_visualize_mae(tmp_path):
    """An MAE run's checkpoint: features from its encoder and the picture of hiera-visualize-mae."""
    from hiera_video.cli import visualize_mae
    from hiera_video.engine import load_config, task_class

    mae_cfg = "configs/Synthetic/MAE_TINY_DEMO.yaml"
    cfg = load_config(mae_cfg, [], validate=False)
    torch.manual_seed(0)
    model = task_class("mae")(cfg).build_model()
    ckpt = str(tmp_path / "mae.pyth")
    torch.save({"model_state": model.state_dict(), "cfg": cfg.dump(), "epoch": 1}, ckpt)
    video = encode(str(tmp_path / "clip.mp4"), "libx264", "yuv420p", 40, (80, 64), 30)
    app = AppServer(str(tmp_path / "server"), ["--cfg", mae_cfg, "--checkpoint", ckpt,
                                               "DATA.PATH_TO_DATA_DIR", "/nonexistent"])
    try:
        c = client(app, tmp_path)
        endpoints = c.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert set(endpoints) == {"/features", "/reconstruction"}  # no head: no top-5, no timeline
        result = c.predict(handle_file(video), 3, 0.5, api_name="/reconstruction")
        assert status(result) == "" and "mask ratio 0.5 (8 of 16 units kept)" in result[2]
        out = str(tmp_path / "tool.png")
        visualize_mae.main(["--checkpoint", ckpt, "--video", video, "--out", out, "--seed", "3",
                            "--mask-ratio", "0.5", "--scale", "2"])
        np.testing.assert_array_equal(np.asarray(Image.open(result[1]).convert("RGB")),
                                      np.asarray(Image.open(out).convert("RGB")))
        feats = c.predict(handle_file(video), 0, 1, api_name="/features")
        assert np.load(next(p for p in feats[1] if p.endswith(".npy"))).shape == (3, 256)  # 1.33 s: 3 windows of 8 frames 2 apart
    finally:
        app.stop()


def test_stopping_the_server_leaves_nothing(server, files, tmp_path):
    """Last: SIGTERM (a user's Ctrl-C or a service stop) removes the app's whole folder; the server
    wrote nothing into the TMPDIR it was started with."""
    c = client(server, tmp_path)
    c.predict(handle_file(files["clip"]), 0, api_name="/timeline")
    root = server.root
    assert os.listdir(os.path.join(root, "sessions"))
    assert server.stop() == 0, server.log()
    assert not os.path.exists(root) and os.listdir(server.workdir) == []
    assert os.listdir(server.tmpdir) == []
