"""tools/demo_net.py --live on real MPEG-TS streams (a pipe and a localhost UDP port), paced in real time.

The test process encodes a generated clip to H.264 in MPEG-TS, one frame every 1/30 s, and
notes when it sent each frame; it reads the demo's JSON lines as they come and checks the
windows against what was sent.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from data_helpers import tiny_checkpoint
from hiera_video.synthetic.motion import render_clip, sample_appearance
from hiera_video.synthetic.mp4 import rgb_to_yuv420p
from hiera_video.inference.live_source import LiveReader

pytestmark = pytest.mark.slow  # subprocess runs: `pytest -m "not slow"` leaves them out

FPS = 30
CFG = "configs/Synthetic/HIERA_TINY_DEMO.yaml"
# A model that needs longer than a window stride (one frame, 33 ms) on one thread of a fast
# CPU (~85 ms on this machine's), so windows must be skipped: 16 frames x 224 px, width 32.
SLOW = ["HIERA.EMBED_DIM", "32", "HIERA.STAGES", "[1,1,1,1]", "DATA.NUM_FRAMES", "16", "DATA.SAMPLING_RATE", "1",
        "DATA.TEST_CROP_SIZE", "224", "DATA.PATH_TO_DATA_DIR", "/nonexistent"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("live") / "model.pyth", (16, 224, 224), embed_dim=32)[1]


def clip(num_frames):
    return render_clip(sample_appearance(np.random.default_rng(0), 64), 1, num_frames, 64)


def send_mpegts(url, frames, sent, pause_after=None, pause=0.0, enough=None):
    """Encode ``frames`` uint8 [T, H, W, 3] to ``url`` in real time; ``sent[i]`` = monotonic send time of frame i.

    After frame ``pause_after``, hold the stream open without data for ``pause`` seconds and
    stop. With ``enough`` (a callable), end the stream as soon as it returns True (a loaded
    CPU makes fewer predictions per second: the stream then lasts longer, up to all frames).
    """
    import av

    with av.open(url, "w", format="mpegts", options={"flush_packets": "1"}) as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "15"}  # keyframes for late joiners
        start = time.monotonic()
        for i, plane in enumerate(rgb_to_yuv420p(frames)):
            time.sleep(max(0.0, start + i / FPS - time.monotonic()))
            frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
            sent.append(time.monotonic())
            if i == pause_after:
                time.sleep(pause)
                return
            if enough is not None and enough():
                break
        for packet in stream.encode():
            out.mux(packet)


def start_demo(checkpoint, source, *extra, env=None, sigint_ignored=False):
    """The demo as a subprocess; ``sigint_ignored``: started with SIGINT ignored, as a shell's `cmd &` does."""
    cmd = [sys.executable, "tools/demo_net.py", "--cfg", CFG, "--checkpoint", checkpoint, "--live", source,
           "--stride", str(1 / FPS), "--threads", "1", *extra, *SLOW]
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, preexec_fn=ignore)


def read_output(proc, lines, log):
    """Collect ``(monotonic receive time, parsed JSON)`` of the demo's stdout lines and its stderr
    lines, on threads; return once the demo starts reading its source (model loaded)."""
    def pump_stdout():
        for line in proc.stdout:
            lines.append((time.monotonic(), json.loads(line)))

    def pump_stderr():
        for line in proc.stderr:
            log.append(line)

    threads = [threading.Thread(target=f, daemon=True) for f in (pump_stdout, pump_stderr)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while not any("reading " in line for line in log) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return threads


def finish(proc, threads, timeout):
    try:
        proc.wait(timeout=timeout)
    finally:
        proc.kill()
    for t in threads:
        t.join(timeout=5)


def check_windows(lines, sent):
    """Times increase, every window holds 16 frames that were sent, one step apart, and no
    window is older than what the model could have taken when it became free."""
    preds = [rec for _, rec in lines if "time" in rec]
    assert len(preds) >= 3, lines
    assert all(a["time"] < b["time"] and a["window"] < b["window"] for a, b in zip(preds, preds[1:]))
    for rec in preds:
        times = np.array(rec["frame_times"])
        assert len(times) == 16 and rec["start"] == times[0]
        assert rec["end"] == pytest.approx(times[-1] + 1 / FPS, abs=1e-3)
        assert rec["start"] <= times.min() and times.max() < rec["end"]
        assert np.allclose(np.diff(times), 1 / FPS, atol=2e-3)
        frames = np.round(times * FPS).astype(int)
        assert np.allclose(frames / FPS, times, atol=2e-3) and frames.max() < len(sent)
        assert len(rec["top5"]) == 5 and rec["latency_ms"] >= rec["compute_ms"] > 0
    # When prediction i-1 came out the model took the newest window: its last frame was sent at
    # most 1 s (transport, decoding, a loaded CPU) before the newest frame sent by then. A queue
    # of windows would fall further behind with every prediction.
    received = [t for t, rec in lines if "time" in rec]
    lags = []
    for i in range(1, len(preds)):
        newest_sent = np.searchsorted(sent, received[i - 1], side="right") - 1
        lags.append(sent[newest_sent] - sent[int(round(preds[i]["frame_times"][-1] * FPS))])
    assert max(lags) < 1.0, lags
    return preds


def test_live_pipe_skips_windows_and_ends_with_summary(checkpoint):
    """stdin MPEG-TS, end of stream -> summary and exit 0; --display without a screen falls back."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = start_demo(checkpoint, "-", "--display", env=env)
    lines, log, sent = [], [], []
    threads = read_output(proc, lines, log)
    enough = lambda: len(sent) >= 60 and sum("time" in rec for _, rec in lines) >= 4  # noqa: E731
    send_mpegts(f"pipe:{proc.stdin.fileno()}", clip(450), sent, enough=enough)
    proc.stdin.close()
    finish(proc, threads, timeout=60)
    stderr = "".join(log)
    assert proc.returncode == 0, stderr
    assert "--display: no screen" in stderr and "printing JSON lines only" in stderr
    preds = check_windows(lines, sent)
    summary = lines[-1][1]["summary"]
    assert summary["stopped_by"] == "end of stream"
    assert summary["windows"] == len(sent) - 16 + 1  # every frame completes one window
    assert summary["predicted"] == len(preds) and summary["skipped"] == summary["windows"] - len(preds) > 0
    assert preds[-1]["window"] == summary["windows"] - 1  # the last window is never dropped
    assert f"end of stream: {len(sent) - 15} windows" in stderr


def test_live_udp_then_stall_times_out(checkpoint):
    """A localhost UDP stream: predictions while it plays; when it stops, a timeout message and exit 1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lines, log, sent = [], [], []
    enough = lambda: sum("time" in rec for _, rec in lines) >= 3  # noqa: E731
    # UDP does not wait for a listener: stream from the start, so the demo joins a running stream.
    sender = threading.Thread(target=send_mpegts, args=(f"udp://127.0.0.1:{port}?pkt_size=1316", clip(1800), sent),
                              kwargs=dict(enough=enough), daemon=True)
    proc = start_demo(checkpoint, f"udp://127.0.0.1:{port}", "--timeout", "3")
    sender.start()
    threads = read_output(proc, lines, log)
    sender.join(timeout=70)
    stopped = time.monotonic()
    finish(proc, threads, timeout=30)
    stderr = "".join(log)
    assert proc.returncode == 1, stderr
    assert time.monotonic() - stopped < 15
    assert f"live source 'udp://127.0.0.1:{port}': no frame for 3 s" in stderr
    preds = [rec for _, rec in lines if "time" in rec]
    assert len(preds) >= 3 and all(a["time"] < b["time"] for a, b in zip(preds, preds[1:]))
    assert lines[-1][1]["summary"]["stopped_by"] == "stalled"


def test_live_ctrl_c_stops_cleanly(checkpoint):
    proc = start_demo(checkpoint, "-", sigint_ignored=True)  # Ctrl-C works even then
    lines, log, sent = [], [], []
    threads = read_output(proc, lines, log)
    def send():
        try:
            send_mpegts(f"pipe:{proc.stdin.fileno()}", clip(300), sent)
        except BrokenPipeError:  # the demo stopped reading: what this test wants
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    deadline = time.monotonic() + 30
    while not any("time" in rec for _, rec in lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        finish(proc, threads, timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("the demo did not stop within 20 s of Ctrl-C:\n" + "".join(log)[-3000:]) from None
    stderr = "".join(log)
    assert proc.returncode == 0, stderr
    assert lines[-1][1]["summary"]["stopped_by"] == "interrupted" and "Traceback" not in stderr
    assert len(sent) < 300  # stopped mid-stream


def test_reader_stall_and_open_errors():
    """In-process: a pipe that goes quiet times out; sources that cannot be opened say why."""
    r, w = os.pipe()
    sent = []
    # 40 frames, then 2.5 s of silence with the pipe open, then the end of the stream.
    sender = threading.Thread(target=send_mpegts, args=(f"pipe:{w}", clip(60), sent, 40, 2.5), daemon=True)
    sender.start()
    reader = LiveReader(f"pipe:{r}", 16, 1, FPS, stride=1, timeout=1.0)
    reader.start()
    last, seen, status = -1, 0, "ok"
    while status == "ok":
        window, status = reader.take(last)
        if window is not None:
            last, seen = window.index, seen + 1
    quiet = time.monotonic() - sent[-1]
    assert status == "stalled" and seen >= 1 and 1.0 <= quiet < 2.5, (status, quiet)  # not the end, 2.5 s later
    reader.stop()
    sender.join(timeout=10)
    os.close(w)

    refused = [("/dev/video9", "No such file or directory"), ("rtsp://127.0.0.1:1/cam", "Connection refused")]
    for source, said in refused:
        reader = LiveReader(source, 16, 1, FPS, timeout=5.0)
        reader.start()
        assert reader.take(-1) == (None, "error")
        assert reader.error.startswith(f"cannot open live source '{source}'") and said in reader.error


def test_display_draws_frames_and_closing_it_stops():
    """The --display window's drawing, on matplotlib's file backend (no screen here)."""
    import matplotlib

    matplotlib.use("Agg")
    from hiera_video.inference.live_display import FrameWindow, open_display

    window, why = open_display("live")
    assert window is None and "no screen" in why and "'agg'" in why
    window = FrameWindow("live")
    frame = np.zeros((64, 64, 3), np.uint8)
    window(frame, [(0, "left", 0.9)])
    window(frame + 50, [(1, "right", 0.6), (0, "left", 0.3)])
    assert np.array_equal(window.image.get_array(), frame + 50)
    assert window.label.get_text() == " 60.0% right\n 30.0% left"
    window.plt.close(window.fig)
    with pytest.raises(KeyboardInterrupt):
        window(frame, [])
