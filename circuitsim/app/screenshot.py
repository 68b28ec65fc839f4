"""Make the README's screenshot of the teaching page (``docs/figures/app.png``).

    python -m circuitsim.app.screenshot docs/figures/app.png --compare <condition>

Starts the server on 127.0.0.1 (a free port), opens the page in Debian's chromium with
Playwright (``pip install 'circuitsim[test]'``, ``apt-get install chromium``), runs the healthy
circuit and then the ``--compare`` condition with the same left-turn command (so the page
compares them), and saves the page as a palette PNG.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
RUN_TIMEOUT_MS = 900_000
#: palette size of the saved PNG (keeps the file small; the page uses few colours)
COLOURS = 128


def _run(page, condition: str, task: str, duration: str) -> str:
    before = page.get_attribute("#raster", "data-run") or ""
    page.select_option("#condition", condition)
    page.wait_for_function("(c) => document.querySelector('#condition-description').textContent.length > 0", arg=condition)
    page.wait_for_timeout(1500)                       # the condition's slider values arrive
    page.select_option("#task", task)
    page.select_option("#duration", duration)
    page.click("#run-button")
    page.wait_for_function("(b) => { const r = document.querySelector('#raster').dataset.run; return r && r !== b; }",
                           arg=before, timeout=RUN_TIMEOUT_MS)
    return page.get_attribute("#raster", "data-run")


def make_screenshot(path: Path, out_dir: Path, compare: str, width: int = 1400, scale: float = 0.8) -> Path:
    """Run two circuits through the page and save its screenshot at ``path``."""
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from circuitsim.app.server import make_server

    server = make_server("127.0.0.1", 0, out_dir, fixed=["readout.plots=[]"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport={"width": width, "height": 1000}, device_scale_factor=scale)
            page.goto(server.url)
            page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            _run(page, "healthy", "turn_left", "2")
            _run(page, compare, "turn_left", "2")
            page.wait_for_timeout(3000)               # the head animation ends on its last frame
            raw = path.with_suffix(".raw.png")
            page.screenshot(path=str(raw), full_page=True)
            browser.close()
        with Image.open(raw) as image:
            image.convert("RGB").quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        raw.unlink()
    finally:
        server.shutdown()
        server.server_close()
    logger.info("wrote %s (%.0f kB)", path, path.stat().st_size / 1e3)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="docs/figures/app.png")
    parser.add_argument("--compare", required=True, help="condition run after healthy and compared with it")
    parser.add_argument("--out-dir", default=None, help="run folders (default: a temporary folder)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        make_screenshot(Path(args.path), Path(args.out_dir or tmp), args.compare)


if __name__ == "__main__":
    main()
