"""``hiera-app`` in a real browser on a real checkpoint: the page's top-5 against ``hiera-demo``'s, the
screenshot for the docs, and what a 4K 10-minute upload costs.

    python benchmarks/app_browser.py --cfg configs/Synthetic/HIERA_TINY_DEMO.yaml \\
        --checkpoint runs/synthetic_demo/checkpoints/checkpoint_epoch_00020.pyth \\
        --video data/synthetic/videos/test/00004.mp4 --screenshot docs/images/app.png \\
        --long-video /tmp/uhd_10min.mp4 --json benchmarks/results/app_browser.json

Starts ``tools/app.py`` on a free localhost port, drives Debian's Chromium (headless, through
Playwright, no browser download) to upload ``--video``, press Top-5 and read the top-5 the page
shows, then compares it with ``hiera-demo --video`` on the same file. With ``--long-video`` (written
first if missing: 3840x2160, 10 minutes at 2 fps, a keyframe every 10 s, a square moving over a
textured background) it also times the top-5 of that file through the page, where only the stretches
of the 5 sampled clips are decoded (from the keyframe before each), against decoding every frame.
Prints one JSON object (also written to ``--json``).
"""
import argparse
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def start_app(args, port: int):
    """``tools/app.py`` in a subprocess; returns it once it serves (and its log lines)."""
    cmd = [sys.executable, "tools/app.py", "--port", str(port), "--cfg", args.cfg, "--checkpoint", args.checkpoint,
           *args.opts]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": REPO})
    lines, up = [], threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if "Running on local URL" in line:
                up.set()
        up.set()
    threading.Thread(target=read, daemon=True).start()
    if not up.wait(300) or proc.poll() is not None:
        proc.kill()
        raise SystemExit("hiera-app did not start:\n" + "".join(lines))
    return proc, lines


def top5_in_page(page, video: str, timeout_s: float = 900):
    """Upload ``video``, press Top-5, wait for the result; [(name, probability)] and seconds taken."""
    start = time.perf_counter()
    clear = page.locator("#video button[aria-label='Clear']")
    if clear.count():  # the previous video
        clear.click()
    page.locator("#video input[type=file]").set_input_files(video)
    page.wait_for_selector("#video video", timeout=timeout_s * 1000)
    uploaded = time.perf_counter()
    page.click("#run-top5")
    info = page.locator("#top5-info").get_by_text(os.path.basename(video) + ": top-5 over")
    info.wait_for(timeout=timeout_s * 1000)
    rows = page.locator("#top5-label button.confidence-set").all()
    shown = [(r.locator("dt").inner_text(), float(r.locator("meter").get_attribute("value"))) for r in rows]
    return shown, {"upload_s": round(uploaded - start, 2), "top5_s": round(time.perf_counter() - uploaded, 2),
                   "page_says": info.inner_text()}


def demo_top5(args, video: str):
    from hiera_video.cli import demo_net

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        demo_net.main(["--cfg", args.cfg, "--checkpoint", args.checkpoint, "--video", video, *args.opts])
    rows = [line.split() for line in out.getvalue().splitlines() if line.strip()[:2] in {f"{i}." for i in range(1, 6)}]
    return [(w[1], float(w[2].rstrip("%")) / 100) for w in rows]


def write_long_video(path: str, width: int = 3840, height: int = 2160, seconds: int = 600, fps: int = 2,
                     keyframe_every_s: int = 10) -> str:
    """H.264 (ultrafast, a keyframe every ``keyframe_every_s``; cameras use 1-2 s), a light square
    crossing a dark texture; frames made one at a time."""
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    background = rng.integers(0, 60, (height // 8, width // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    side = height // 4
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        stream.codec_context.gop_size = keyframe_every_s * fps
        for k in range(seconds * fps):
            image = background.copy()
            x = (k * width // 64) % (width - side)
            image[height // 2 - side // 2:height // 2 + side // 2, x:x + side] = (220, 200, 160)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def full_decode_s(path: str) -> float:
    """Seconds to decode every frame of ``path`` (PyAV, no conversion): what sampling avoids."""
    import av

    start = time.perf_counter()
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"  # as the project's decoder
        for _ in container.decode(stream):
            pass
    return round(time.perf_counter() - start, 2)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--video", required=True, help="the clip to upload through the page")
    p.add_argument("--screenshot", default="", help="PNG of the page with the result")
    p.add_argument("--long-video", default="", help="also time a long video's top-5 (written first if missing)")
    p.add_argument("--json", default="", help="also write the results here")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides (for both)")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    result = {}
    if args.long_video and not os.path.exists(args.long_video):
        start = time.perf_counter()
        write_long_video(args.long_video)
        result["long_video_written_s"] = round(time.perf_counter() - start, 1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    proc, log = start_app(args, port)
    result["server_start_s"] = round(time.perf_counter() - start, 2)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1060})
            start = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#run-top5")
            result["page_load_s"] = round(time.perf_counter() - start, 2)
            shown, timing = top5_in_page(page, args.video)
            result.update(video=args.video, page_top5=shown, **timing)
            if args.screenshot:
                page.screenshot(path=args.screenshot, full_page=True)
            if args.long_video:
                shown_long, timing_long = top5_in_page(page, args.long_video)
                result["long_video"] = dict(path=args.long_video, mb=round(os.path.getsize(args.long_video) / 1e6, 1),
                                            page_top5=shown_long, **timing_long)
                result["long_video"]["decode_every_frame_s"] = full_decode_s(args.long_video)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(60)
    result["demo_top5"] = demo_top5(args, args.video)
    result["same_top5"] = ([n for n, _ in shown] == [n for n, _ in result["demo_top5"]] and
                           all(abs(a - b) <= 5e-5 + 1e-7 for (_, a), (_, b) in zip(shown, result["demo_top5"])))
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        from hiera_video.utils.io import write_text

        write_text(args.json, text + "\n")
    return 0 if result["same_top5"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
