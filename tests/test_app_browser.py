"""``hiera-app`` in a real browser: headless Debian Chromium, driven by Playwright, uploads a clip
through the page, presses Top-5 and reads what the page shows; closing the tab ends the session
and its files go. Needs /usr/bin/chromium (``apt-get install -y chromium``) and the playwright
package (the [dev] extra); Playwright's own browser download is never used.
"""
import os
import time

import pytest

from app_helpers import CFG, TINY, AppServer, demo_top5, tiny_classifier, wait_for
from video_zoo import encode

CHROMIUM = "/usr/bin/chromium"
# Headless on a machine without a network: no sandbox (root), no GPU, and none of the background
# connections Chromium otherwise opens (refused here, many at a time).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"no {CHROMIUM}: the browser test needs Debian's chromium "
                                       "(apt-get install -y chromium)")


@pytest.mark.slow  # a browser and a server: about 45 s on 2 busy cores; in the suite, out of the quick loop
def test_browser_upload_shows_the_demo_top5_and_closing_ends_the_session(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright ([dev] extra)")
    video = encode(str(tmp_path / "my clip.mp4"), "libx264", "yuv420p", 60, (96, 64), 30)
    checkpoint = tiny_classifier(str(tmp_path / "tiny.pyth"))
    start = time.perf_counter()
    server = AppServer(str(tmp_path / "server"), ["--cfg", CFG, "--checkpoint", checkpoint, *TINY,
                                                  "DATA.PATH_TO_DATA_DIR", "/nonexistent"])
    try:
        sessions = os.path.join(server.root, "sessions")
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            page.locator("#video input[type=file]").set_input_files(video)
            page.wait_for_selector("#video video", timeout=60_000)  # uploaded: the player shows it
            page.click("#run-top5")
            page.locator("#top5-info").get_by_text("top-5 over 5x3 views").wait_for(timeout=120_000)
            rows = page.locator("#top5-label button.confidence-set").all()
            shown = [(row.locator("dt").inner_text(), float(row.locator("meter").get_attribute("value")),
                      row.locator("dd").inner_text()) for row in rows]
            pictures = page.locator("#top5-frames img").count()
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            assert len(os.listdir(sessions)) == 1
            browser.close()  # the tab goes: its heartbeat stops, Gradio fires the unload event
        assert wait_for(lambda: os.listdir(sessions) == []), server.log()
        assert not any(f == "my clip.mp4" for _, _, fs in os.walk(server.root) for f in fs)
    finally:
        server.stop()
    print(f"browser test: {time.perf_counter() - start:.1f} s from server start to session end")
    expected = demo_top5(video, checkpoint)
    assert [name for name, _, _ in shown] == [name for name, _, _ in expected]
    for (_, score, text), (_, percent, _) in zip(shown, expected):
        assert abs(score * 100 - percent) <= 0.005 + 1e-6  # the meter's exact value vs demo's 2 decimals
        assert text == f"{round(score * 100)}%"
    assert pictures >= 5  # the frames the model saw: one picture per clip (and their thumbnails)
