"""The page of `fercnn serve` in a real browser: headless Chromium (Debian's chromium, driven by
Playwright) with its fake camera fed a .y4m video of a face made here from scikit-image's
astronaut. The page must box the face, draw seven bars, and lay the saliency map over the
box when the switch is on; dropped photos get the same. A screenshot is kept as an artifact."""
import os
import shutil
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM = os.environ.get("FERCNN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")

pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install -e '.[serve]'")
pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed (the test extra has it)")
if CHROMIUM is None:
    pytest.skip("no Chromium on this machine (apt-get install chromium); the browser test needs it",
                allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import load_serve  # noqa: E402

# what the probe of this machine kind found Chromium needs here: no sandbox as root, no GPU, and
# none of the background connections a closed network refuses
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
         "--use-fake-device-for-media-stream"]


def write_y4m(path, frames=8, size=(640, 480)):
    """A 4:2:0 YUV4MPEG2 video of the astronaut's face (her head filling a third of the frame),
    drifting a few pixels a frame; Chromium's fake camera plays it in a loop."""
    from PIL import Image
    from skimage import data

    W, H = size
    head = data.astronaut()[0:240, 88:408]  # 320 x 240, the face in the middle
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{W} H{H} F10:1 Ip A1:1 C420jpeg\n".encode())
        for k in range(frames):
            rgb = np.asarray(Image.fromarray(np.roll(head, 2 * k, axis=1)).resize((W, H))).astype(np.float64)
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
            v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
            half = lambda c: c.reshape(H // 2, 2, W // 2, 2).mean(axis=(1, 3))  # noqa: E731
            f.write(b"FRAME\n")
            for plane in (y, half(u), half(v)):
                f.write(np.clip(np.rint(plane), 0, 255).astype(np.uint8).tobytes())
    return path


@pytest.fixture(scope="module")
def server():
    proc, url = load_serve.start_server()
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_the_page_with_a_webcam_and_dropped_photos(server, tmp_path, artifacts):
    video = write_y4m(tmp_path / "face.y4m")
    photo = tmp_path / "astronaut.jpg"
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()).save(photo, quality=90)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=FLAGS + [f"--use-file-for-fake-video-capture={video}"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server + "/")
            page.wait_for_selector("#model option[value=deep]", state="attached")
            page.click("#start-camera")
            page.wait_for_selector("#camera-stage .box", timeout=60_000)
            card = page.locator("#camera-cards .face-card").first
            assert card.locator(".bar").count() == 7
            widths = card.locator(".bar").evaluate_all("bars => bars.map(b => parseFloat(b.style.width))")
            assert abs(sum(widths) - 100) < 1, widths  # seven probabilities that sum to 1
            page.wait_for_function("document.querySelector('#fps').textContent.includes('frames/s')")
            page.check("#saliency")
            page.wait_for_selector("#camera-stage .box img.saliency", timeout=30_000)
            page.wait_for_function("[...document.querySelectorAll('#camera-stage img.saliency')]"
                                   ".some(i => i.complete && i.naturalWidth === 48)")
            page.screenshot(path=str(artifacts / "serve_webcam.png"))
            page.click("#stop-camera")
            page.set_input_files("#photos", str(photo))
            page.wait_for_selector(".photo-entry .box", timeout=30_000)
            assert page.locator(".photo-entry .face-card").first.locator(".bar").count() == 7
            assert "happy" in page.locator(".photo-entry .box .label").first.text_content()
            page.screenshot(path=str(artifacts / "serve_photo.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
