"""``zoo serve``: forms made from declarations, the draw queue, and hostile input.

The browser tests (a real Chromium driven by Playwright) are in test_serve_browser.py.
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from starlette.testclient import TestClient  # noqa: E402

from zoo.catalog import list_models, option_names, resolve  # noqa: E402
from zoo.serve.app import create_app  # noqa: E402
from zoo.serve.forms import MAX_WEB_N, form_fields  # noqa: E402
from zoo.serve.uploads import MAX_UPLOAD_BYTES  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    data = tmp_path_factory.mktemp("serve")
    return TestClient(create_app(data))


def wait(client: TestClient, job: dict, timeout: float = 120) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = client.get(f"/api/jobs/{job['id']}").json()
        if state["state"] in ("done", "error"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job['id']} did not finish: {state}")


def png_bytes(
    size: tuple[int, int] = (32, 32), color: tuple[int, int, int] = (200, 40, 40)
) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def drawable() -> list[str]:
    return [m["id"] for m in list_models() if m.get("process") and not m.get("error")]


@pytest.mark.parametrize("model", drawable())
def test_form_offers_exactly_what_the_model_declares(model: str) -> None:
    """Every option of the family and of each sampler of its process is in the form, and
    the request fields follow the capabilities: nothing is written per family."""
    res = resolve(model)
    fields = form_fields(res)
    names = {f.name for f in fields}
    caps = set(res.capabilities)
    assert ("prompt" in names) == ("text" in caps)
    assert ("label" in names) == ("class" in caps)
    assert ("image" in names) == ("image" in caps)
    assert {"n", "seed"} <= names
    family = set(res.option_classes(None)["family"].model_fields)
    assert {f.name for f in fields if f.group == "family"} == family
    for m in list_models(model):
        for s in m["samplers"]:
            own = {f.name for f in fields if f.group == f"sampler:{s}"}
            assert family | own == set(option_names(res, s)), s
    label = next((f for f in fields if f.name == "label"), None)
    if label is not None:
        assert label.maximum == res.num_classes - 1


def test_pages_render(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    for mid in drawable():
        assert f'data-model="{mid}"' in page.text
    text_only = client.get("/", params={"capability": "text"}).text
    assert 'data-model="dalle-scenes"' in text_only and 'data-model="dcgan-digits"' not in text_only
    fam = client.get("/", params={"family": "ddpm"}).text
    assert 'data-model="ddpm-digits"' in fam and 'data-model="dalle-scenes"' not in fam
    card = client.get("/models/ddpm-digits/")
    assert card.status_code == 200
    assert 'name="guidance"' in card.text and 'name="label"' in card.text
    assert "<table>" in card.text  # the card's Markdown tables render
    board = client.get("/leaderboard")
    assert board.status_code == 200 and "ddpm-digits" in board.text
    compare = client.get("/compare", params={"capability": "text"})
    assert 'value="dalle-scenes"' in compare.text and 'value="stackgan-scenes"' in compare.text


def test_draw_writes_pngs_that_carry_their_parameters(client: TestClient, tmp_path: Path) -> None:
    from zoo.api import load, make_request
    from zoo.images import read_meta

    job = client.post(
        "/api/models/ddpm-digits/jobs",
        data={"n": "2", "seed": "4", "steps": "5", "label": "3", "sampler": "ddim"},
    )
    assert job.status_code == 202, job.text
    state = wait(client, job.json())
    assert state["state"] == "done", state
    assert state["done"] == state["total"] == 5  # one progress tick per denoising step
    assert len(state["images"]) == 2
    png = client.get(state["images"][1])
    assert png.status_code == 200
    out = tmp_path / "web.png"
    out.write_bytes(png.content)
    meta = read_meta(out)
    assert (meta["seed"], meta["label"], meta["steps"], meta["sampler"]) == (5, 3, 5, "ddim")
    # the record redraws the image exactly as the API draws it
    again = load("ddpm-digits").run(make_request(seed=5, label=3, steps=5, sampler="ddim"))
    again.save(tmp_path / "api.png")
    assert (tmp_path / "api.png").read_bytes() == out.read_bytes()


def test_progress_streams_as_server_sent_events(client: TestClient) -> None:
    import json

    job = client.post("/api/models/ddpm-digits/jobs", data={"steps": "6"}).json()
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as events:
        states = [json.loads(line[6:]) for line in events.iter_lines() if line.startswith("data: ")]
    assert states[-1]["state"] == "done"
    assert states[-1]["done"] == 6
    dones = [s["done"] for s in states]
    assert dones == sorted(dones)


@pytest.mark.parametrize(
    ("model", "data", "files", "message"),
    [
        ("dcgan-digits", {"n": "10000"}, None, f"n is at most {MAX_WEB_N}"),
        ("dcgan-digits", {"n": "two"}, None, "n: 'two' is not a whole number"),
        ("dcgan-digits", {"prompt": "a red circle"}, None, "has no field 'prompt'"),
        ("ddpm-digits", {"label": "12"}, None, "label 12 is out of range"),
        ("ddpm-digits", {"guidance": "nan"}, None, "guidance"),
        ("dalle-scenes", {"temperature": "-1"}, None, "temperature"),
        ("pix2pix-scenes-edges", {}, {"image": ("x.txt", b"hello", "text/plain")}, "not an image"),
        (
            "pix2pix-scenes-edges",
            {},
            {"image": ("big.png", bomb_png(60000, 60000), "image/png")},
            "more pixels than this server decodes",
        ),
        (
            "pix2pix-scenes-edges",
            {},
            {"image": ("big.png", bomb_png(5000, 5000), "image/png")},
            "5000x5000 pixels, more than",
        ),
        (
            "pix2pix-scenes-edges",
            {},
            {"mask": ("m.png", png_bytes(), "image/png")},
            "has no field 'mask'",
        ),
        (
            "pix2pix-scenes-edges",
            {},
            {"other": ("m.png", png_bytes(), "image/png")},
            "not an upload this form takes",
        ),
    ],
)
def test_bad_requests_get_one_line_and_the_server_keeps_serving(
    client: TestClient, model: str, data: dict, files: dict | None, message: str
) -> None:
    r = client.post(f"/api/models/{model}/jobs", data=data, files=files)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert message in error and "\n" not in error
    ok = client.post("/api/models/dcgan-digits/jobs", data={"seed": "1"})
    assert wait(client, ok.json())["state"] == "done"


def test_a_model_that_refuses_at_draw_time_reports_in_the_job(client: TestClient) -> None:
    state = wait(client, client.post("/api/models/dalle-scenes/jobs", data={}).json())
    assert state["state"] == "error"
    assert "prompt" in state["error"] and "\n" not in state["error"]


def test_oversized_uploads_are_cut_off(client: TestClient) -> None:
    big = b"\x89PNG" + b"\x00" * (2 * MAX_UPLOAD_BYTES + 2**20)
    r = client.post(
        "/api/models/pix2pix-scenes-edges/jobs", files={"image": ("big.png", big, "image/png")}
    )
    assert r.status_code == 413
    assert "larger than" in r.json()["error"]
    one = b"\x89PNG" + b"\x00" * (MAX_UPLOAD_BYTES + 10)  # under the body cap, over the file cap
    r = client.post(
        "/api/models/pix2pix-scenes-edges/jobs", files={"image": ("big.png", one, "image/png")}
    )
    assert r.status_code == 400 and "the limit is 8 MiB" in r.json()["error"]


def test_no_client_path_is_ever_opened(client: TestClient, tmp_path: Path) -> None:
    """A text field named like an upload is ignored (only stored uploads become paths), and
    card files and outputs are served by listed name only."""
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes(color=(1, 2, 3)))
    r = client.post("/api/models/pix2pix-scenes-edges/jobs", data={"image": str(secret)})
    assert r.status_code == 202
    state = wait(client, r.json())
    assert state["state"] == "error" and "--image" in state["error"]  # drawn without it: refused
    for url in (
        "/models/dcgan-digits/..%2F..%2Fpyproject.toml",
        "/models/dcgan-digits/config.json",
        "/outputs/..%2F..%2Fetc/passwd",
        "/outputs/000000000000/..%2Fsecret.png",
        "/static/..%2Fapp.py",
    ):
        assert client.get(url).status_code == 404, url


def test_unknown_and_non_registry_models_are_refused(client: TestClient) -> None:
    for name in ("nope", "hf:org%2Fmodel", "..%2Fcards%2Fdcgan-digits"):
        page = client.get(f"/models/{name}/")
        assert page.status_code == 404, name
        assert 'id="page-error"' in page.text
    assert "unknown model &#x27;nope&#x27;" in client.get("/models/nope/").text
    r = client.post("/api/models/nope/jobs", data={})
    assert r.status_code == 404 and r.json()["error"].startswith("unknown model 'nope'")


def test_an_upload_is_stored_under_a_name_the_server_chose(client: TestClient) -> None:
    from zoo.images import read_meta

    r = client.post(
        "/api/models/pix2pix-scenes-edges/jobs",
        files={"image": ("../../evil name.png", png_bytes(), "image/png")},
    )
    assert r.status_code == 202, r.text
    state = wait(client, r.json())
    assert state["state"] == "done", state
    meta = read_meta(io.BytesIO(client.get(state["images"][0]).content))
    stored = Path(meta["image"])
    assert stored.is_file() and stored.parent.name == "uploads"
    assert "evil" not in stored.name


def test_serve_refuses_a_bad_port_and_warns_off_loopback() -> None:
    from tests.conftest import run_zoo
    from zoo.cli.serve import is_loopback

    result = run_zoo("serve", "--port", "70000")
    assert result.returncode == 2 and result.stderr.strip() == (
        "zoo: --port 70000 is not a port number (1..65535)"
    )
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")


def test_a_hub_model_is_pulled_only_with_allow_pull(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registered Hub model that is not cached: without --allow-pull the page says so and
    nothing is fetched (the download functions are booby-trapped); with it, a pull runs."""
    import huggingface_hub

    from zoo.registry import hookimpl
    from zoo.registry.discovery import Registry, get_registry, reset_registry
    from zoo.registry.schemas import ModelSpec

    class Plugin:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register(ModelSpec(id="dcgan-remote", repo="someone/dcgan-remote@main"))

    calls: list[str] = []

    def trap(*args: object, **kwargs: object) -> None:
        calls.append("download")
        raise OSError("no network here")

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for name in ("snapshot_download", "hf_hub_download"):
        monkeypatch.setattr(huggingface_hub, name, trap)
    old = get_registry()
    reset_registry(Registry.discover(extra=[("remote", Plugin())]))
    try:
        closed = TestClient(create_app(tmp_path / "a"))
        page = closed.get("/models/dcgan-remote/")
        assert page.status_code in (400, 404) and "dcgan-remote" in page.text
        assert calls == []
        opened = TestClient(create_app(tmp_path / "b", allow_pull=True))
        opened.get("/models/dcgan-remote/")
        assert calls  # it tried to download (and failed: no network)
    finally:
        reset_registry(old)


def test_listening_beyond_loopback_warns(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zoo",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--data",
            str(tmp_path),
        ],  # fmt: skip
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert first.startswith("zoo: warning: listening on 0.0.0.0: anyone who can reach")


def test_jobs_queue_in_order_and_show_their_place(tmp_path: Path) -> None:
    """One job runs at a time; the others wait in order and know how many are ahead; a job
    whose model raises fails alone."""
    import threading

    from zoo.serve.jobs import Worker

    gate = threading.Event()
    ran: list[str] = []

    class Drawn:
        def save(self, folder: Path) -> list[Path]:
            return [folder / "000000.png"]

    class Model:
        def __init__(self, name: str) -> None:
            self.name = name

        def run(self, request: object, progress: object = None) -> Drawn:
            gate.wait(10)
            if self.name == "broken":
                raise RuntimeError("boom")
            ran.append(self.name)
            return Drawn()

    worker = Worker(tmp_path, Model)
    jobs = [worker.submit(name, None) for name in ("a", "broken", "c")]
    deadline = time.monotonic() + 10
    while jobs[0].state != "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [worker.position(j) for j in jobs] == [0, 1, 2]
    assert [worker.snapshot(j)["state"] for j in jobs] == ["running", "queued", "queued"]
    gate.set()
    while jobs[2].state not in ("done", "error") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ran == ["a", "c"]
    assert [j.state for j in jobs] == ["done", "error", "done"]
    assert jobs[1].error == "internal error: RuntimeError: boom"
