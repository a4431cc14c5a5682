"""Screenshots of `zoo serve` for the README: a model page after a draw, and the compare page.

    python scripts/serve_screenshots.py            # writes docs/serve-model.png, docs/serve-compare.png

Starts `zoo serve` on a free loopback port with a temporary data folder, drives the
system's Chromium with Playwright, and stops the server.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from playwright.sync_api import sync_playwright

    from zoo.serve.browser import CHROMIUM_ARGS, find_chromium, running_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--chromium", default=find_chromium() or "/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as data,
        running_server(Path(data)) as base,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(300_000)
        page.goto(base + "/models/ddpm-digits/")
        page.fill("#f-label", "7")
        page.fill("#f-n", "8")
        page.select_option("#f-sampler", "ddim")
        page.fill("#f-steps", "50")
        page.click("#draw")
        page.wait_for_selector("#images a.png")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(args.out / "serve-model.png"))
        page.goto(base + "/compare?capability=text")
        page.check("input[value='dalle-scenes']")
        page.check("input[value='stackgan-scenes']")
        page.fill("#c-prompt", "a large red circle in the center")
        page.click("#compare")
        for model in ("dalle-scenes", "stackgan-scenes"):
            page.wait_for_selector(f".column[data-model='{model}'] img")
        page.screenshot(path=str(args.out / "serve-compare.png"))
        browser.close()
    print(args.out / "serve-model.png", args.out / "serve-compare.png")


if __name__ == "__main__":
    main()
