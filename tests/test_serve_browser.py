"""``zoo serve`` in a real browser: headless Chromium (the system's package) driven by
Playwright. The server runs as `zoo serve` in its own process on a free loopback port.

Each drawing test downloads an image from the page and redraws it with
`zoo sample --from`: the bytes must be the same.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_zoo
from zoo.serve.browser import CHROMIUM_ARGS, find_chromium, running_server

pytest.importorskip("fastapi")
playwright = pytest.importorskip("playwright.sync_api")

# about 30 s of browser work: the slow tier, which .ci/run runs after the default suite
pytestmark = pytest.mark.slow

CHROMIUM = find_chromium()
if CHROMIUM is None:
    pytest.skip(
        "no Chromium on this machine (apt-get install chromium; .ci/run installs it)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("serve-data")) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(120_000)
    yield pg
    context.close()


def draw_and_redraw(page: Any, tmp_path: Path) -> Path:
    """Submit the open model page's form, download the first image and redraw it from its
    parameters with the CLI; returns the downloaded file."""
    page.click("#draw")
    page.wait_for_selector("#images a.png")
    assert "image" in page.inner_text("#status")
    with page.expect_download() as info:
        page.click("#images a.png >> nth=0")
    web = tmp_path / "web.png"
    info.value.save_as(web)
    again = tmp_path / "again.png"
    result = run_zoo("sample", "--from", str(web), "-o", str(again))
    assert result.returncode == 0, result.stderr
    assert again.read_bytes() == web.read_bytes()
    return web


def test_list_open_draw_download_redraw(server: str, page: Any, tmp_path: Path) -> None:
    from zoo.images import read_meta

    page.goto(server + "/")
    assert page.locator("a.model").count() >= 10
    page.click("a.model[data-model='dcgan-digits']")
    page.wait_for_selector("#sample-form")
    page.fill("#f-n", "3")
    page.fill("#f-seed", "11")
    web = draw_and_redraw(page, tmp_path)
    assert page.locator("#images a.png").count() == 3
    assert read_meta(web)["seed"] == 11


def test_text_to_image_with_a_prompt(server: str, page: Any, tmp_path: Path) -> None:
    from zoo.images import read_meta

    page.goto(server + "/models/dalle-scenes/")
    page.fill("#f-prompt", "a large red circle in the center")
    web = draw_and_redraw(page, tmp_path)
    assert read_meta(web)["prompt"] == "a large red circle in the center"


def test_image_to_image_with_an_upload(server: str, page: Any, tmp_path: Path) -> None:
    from zoo.images import read_meta

    page.goto(server + "/models/pix2pix-scenes-edges/")
    example = ROOT / "cards" / "pix2pix-scenes-edges" / "example-input.png"
    page.set_input_files("#f-image", str(example))
    web = draw_and_redraw(page, tmp_path)
    assert Path(read_meta(web)["image"]).read_bytes()  # the stored upload the record names


def test_diffusion_progress_and_same_seeds_variation(
    server: str, page: Any, tmp_path: Path
) -> None:
    from zoo.images import read_meta

    page.goto(server + "/models/ddpm-digits/")
    page.fill("#f-label", "7")
    page.fill("#f-seed", "3")
    page.select_option("#f-sampler", "ddim")
    assert page.is_visible("#f-eta")  # ddim's own option
    page.fill("#f-steps", "8")
    page.click("#draw")
    page.wait_for_selector("#images a.png")
    assert page.get_attribute("#progress", "value") == "8"
    # another sampler, same seeds: the seed field changed, the button keeps the last ones
    page.fill("#f-seed", "99")
    page.select_option("#f-sampler", "euler")
    assert not page.is_visible("#f-eta")
    first = page.get_attribute("#images a.png", "href")
    page.click("#variation")
    page.wait_for_function(
        "old => { const a = document.querySelector('#images a.png'); "
        "return a !== null && a.getAttribute('href') !== old; }",
        arg=first,
    )
    with page.expect_download() as info:
        page.click("#images a.png >> nth=0")
    web = tmp_path / "variation.png"
    info.value.save_as(web)
    meta = read_meta(web)
    assert (meta["sampler"], meta["seed"], meta["label"], meta["steps"]) == ("euler", 3, 7, 8)


def test_compare_two_text_models(server: str, page: Any) -> None:
    page.goto(server + "/compare?capability=text")
    page.check("input[value='dalle-scenes']")
    page.check("input[value='stackgan-scenes']")
    page.fill("#c-prompt", "a large red circle in the center")
    page.click("#compare")
    for model in ("dalle-scenes", "stackgan-scenes"):
        col = f".column[data-model='{model}']"
        page.wait_for_selector(f"{col} img")
        assert "s (model load" in page.inner_text(f"{col} .status")


def form_error(page: Any) -> str:
    page.wait_for_selector("#form-error:not([hidden])")
    return str(page.inner_text("#form-error"))


def test_bad_input_through_the_form(server: str, page: Any, tmp_path: Path) -> None:
    page.goto(server + "/models/dalle-scenes/")
    page.click("#draw")  # no prompt for a text model
    assert "prompt" in form_error(page)

    page.goto(server + "/models/dcgan-digits/")
    page.fill("#f-n", "10000")
    page.click("#draw")
    assert "n is at most 64" in form_error(page)

    page.goto(server + "/models/pix2pix-scenes-edges/")
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    page.set_input_files("#f-image", str(text))
    page.click("#draw")
    assert "not an image" in form_error(page)

    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG" + os.urandom(20 * 2**20))
    page.goto(server + "/models/pix2pix-scenes-edges/")
    page.set_input_files("#f-image", str(big))
    page.click("#draw")
    assert "larger than" in form_error(page)

    response = page.goto(server + "/models/no-such-model/")
    assert response.status == 404
    assert "unknown model 'no-such-model'" in page.inner_text("#page-error")

    # and the server still draws
    page.goto(server + "/models/dcgan-digits/")
    page.click("#draw")
    page.wait_for_selector("#images a.png")


@pytest.fixture(scope="module")
def inpainting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app in this process (uvicorn on a thread), with a tiny Stable Diffusion
    inpainting repo registered: the only kind of model whose form has a mask."""
    import threading

    import uvicorn

    from tests.test_ldm import tiny_pipeline
    from zoo.registry import hookimpl
    from zoo.registry.discovery import Registry, get_registry, reset_registry
    from zoo.registry.schemas import ModelSpec
    from zoo.serve.app import create_app
    from zoo.serve.browser import free_port

    repo = tiny_pipeline(tmp_path_factory.mktemp("inpaint"), inpaint=True)

    class Plugin:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register(ModelSpec(id="ldm-tiny-inpaint", path=str(repo)))

    old = get_registry()
    reset_registry(Registry.discover(extra=[("tiny", Plugin())]))
    port = free_port()
    config = uvicorn.Config(
        create_app(tmp_path_factory.mktemp("data")), host="127.0.0.1", port=port, log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        reset_registry(old)


def test_a_mask_painted_on_the_upload_is_sent(
    inpainting_server: str, page: Any, tmp_path: Path
) -> None:
    from PIL import Image

    from zoo.images import read_meta

    picture = tmp_path / "scene.png"
    Image.new("RGB", (32, 32), (30, 90, 200)).save(picture)
    page.goto(inpainting_server + "/models/ldm-tiny-inpaint/")
    page.fill("#f-prompt", "a red circle")
    page.fill("#f-steps", "2")
    page.set_input_files("#f-image", str(picture))
    canvas = page.wait_for_selector("#mask-canvas")
    box = canvas.bounding_box()
    # paint a stroke across the left half of the picture
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.up()
    page.click("#draw")
    page.wait_for_selector("#images a.png")
    with page.expect_download() as info:
        page.click("#images a.png >> nth=0")
    web = tmp_path / "web.png"
    info.value.save_as(web)
    meta = read_meta(web)
    with Image.open(meta["mask"]) as m:
        mask = m.convert("L")
        assert mask.size == (32, 32)
        assert mask.getpixel((6, 16)) > 128  # painted
        assert mask.getpixel((28, 16)) < 128  # left alone
