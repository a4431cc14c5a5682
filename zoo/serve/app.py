"""The web app of ``zoo serve``: pages over the catalog and the cards, and a draw queue.

Built on FastAPI (Starlette underneath, served by uvicorn): the zoo's requests and options
are pydantic models already, FastAPI speaks them natively, and Starlette gives streaming
responses for progress (server-sent events) without a second framework. No route knows a
family: forms come from ``zoo.serve.forms``, figures from the cards' model-index.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse

from zoo.registry.errors import RequestError, UnknownModelError, ZooError
from zoo.serve import pages
from zoo.serve.forms import form_fields
from zoo.serve.uploads import MAX_UPLOAD_BYTES, store_upload

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 2 * MAX_UPLOAD_BYTES + 2**20  # an image, a mask and the text fields
_JOB_ID = re.compile(r"[0-9a-f]{12}")
_OUTPUT_NAME = re.compile(r"[0-9]{6,20}\.png")
_CARD_FILE = re.compile(r"[\w.-]+\.(png|jpg|jpeg|gif|webp)")


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413, whether its
    Content-Length says so up front or it streams past the limit."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send, self.limit)


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps({"error": f"the request is larger than {limit // 2**20} MiB"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Catalog:
    """The registered models as the pages show them (read once per page, no torch)."""

    def __init__(self, allow_pull: bool) -> None:
        self.allow_pull = allow_pull

    def rows(self) -> list[dict[str, Any]]:
        from zoo.catalog import list_models
        from zoo.eval_card import leaderboard_rows

        figures: dict[str, dict[str, Any]] = {}
        for r in leaderboard_rows():
            got = figures.setdefault(r["model"], {})
            if r["metric"] == "fid":
                got.setdefault("fid", r["value"])
            elif r["metric"] in ("prompt_accuracy", "label_accuracy"):
                got.setdefault("accuracy", r["value"])
        rows = []
        for m in list_models():
            if m.get("error"):
                continue
            m.update(figures.get(m["id"], {}))
            try:
                res = self.resolve(m["id"])
            except ZooError:
                continue
            per_image = (res.card.zoo.sampling.get("seconds_per_image") or {}).get("median")
            m["ms_per_image"] = per_image * 1000 if isinstance(per_image, (int, float)) else None
            m["sample"] = "samples.png" if (res.folder / "samples.png").is_file() else None
            rows.append(m)
        return rows

    def resolve(self, model: str) -> Any:
        """The registered model ``model``; anything else (paths, hf: ids) is unknown here."""
        from zoo.catalog import resolve_spec
        from zoo.registry.discovery import get_registry

        reg = get_registry()
        plugin, _, mid = model.rpartition(":")
        specs = reg.models.get(mid, [])
        if plugin:
            specs = [s for s in specs if s.plugin == plugin]
        if len(specs) != 1 or len(model) > 200:
            raise UnknownModelError(f"unknown model '{model[:80]}' (see the model list)")
        return resolve_spec(specs[0], reg, download=self.allow_pull)


def create_app(data: Path, *, allow_pull: bool = False, device: str | None = None) -> Any:
    """The ASGI app; ``data`` holds uploads and drawn images (kept across restarts, so the
    PNGs' recorded inputs stay where ``zoo sample --from`` finds them)."""
    from markdown_it import MarkdownIt

    from zoo.api import load, make_request
    from zoo.serve.forms import request_values
    from zoo.serve.jobs import Worker

    data = data.resolve()
    uploads, outputs = data / "uploads", data / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(allow_pull)
    worker = Worker(outputs, lambda mid: load(mid, device=device, download=allow_pull))
    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    app = FastAPI(title="zoo", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.worker = worker

    def html(text: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(text, status_code=status)

    def row(model: str) -> dict[str, Any]:
        for m in catalog.rows():
            if m["id"] == model:
                return m
        raise UnknownModelError(f"unknown model '{model[:80]}' (see the model list)")

    @app.exception_handler(ZooError)
    async def zoo_error(request: Request, err: ZooError) -> Any:
        status = 404 if isinstance(err, UnknownModelError) else 400
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(err)}, status_code=status)
        return html(pages.error_page(str(err)), status)

    @app.exception_handler(404)
    async def not_found(request: Request, err: Any) -> Any:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "nothing at this address"}, status_code=404)
        return html(pages.error_page("nothing at this address (see the model list)"), 404)

    @app.get("/", response_class=HTMLResponse)
    async def index(family: str = "", capability: str = "") -> Any:
        rows = catalog.rows()
        families = sorted({m["family"] for m in rows if m["family"]})
        caps = sorted({c for m in rows for c in m["capabilities"]})
        shown = [
            m
            for m in rows
            if (not family or m["family"] == family)
            and (not capability or capability in m["capabilities"])
        ]
        chosen = {"family": family, "capability": capability}
        return html(pages.model_list(shown, families, caps, chosen))

    @app.get("/api/models")
    async def api_models() -> Any:
        return catalog.rows()

    @app.get("/models/{model}")
    @app.get("/models/{model}/", response_class=HTMLResponse)
    async def model_page(model: str) -> Any:
        res = catalog.resolve(model)
        fields, why_not = None, None
        if res.family.process is None:
            why_not = f"{model} is a {res.family.kind}: it does not draw images"
        else:
            fields = form_fields(res)
        card = markdown.render(res.body)
        return html(pages.model_page(row(res.name), card, fields, why_not))

    @app.get("/api/models/{model}/form")
    async def api_form(model: str) -> Any:
        res = catalog.resolve(model)
        if res.family.process is None:
            raise RequestError(f"model '{model}' draws no images")
        return [f.as_dict() for f in form_fields(res)]

    @app.get("/models/{model}/{name}")
    async def card_file(model: str, name: str) -> Any:
        res = catalog.resolve(model)
        # only a file the card folder lists by that exact name; never a path from the client
        listed = {p.name: p for p in res.folder.iterdir() if p.is_file()}
        if not _CARD_FILE.fullmatch(name) or name not in listed:
            return html(pages.error_page(f"{model} has no image '{name[:80]}'"), 404)
        return FileResponse(listed[name])

    @app.post("/api/models/{model}/jobs")
    async def submit(model: str, request: Request) -> Any:
        res = catalog.resolve(model)
        if res.family.process is None:
            raise RequestError(f"model '{model}' draws no images")
        form = await request.form(max_files=4, max_fields=200)
        text: dict[str, str] = {}
        stored: dict[str, str] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                text[key] = value
                continue
            if key not in ("image", "mask"):
                raise RequestError(f"'{key[:40]}' is not an upload this form takes")
            blob = await value.read(MAX_UPLOAD_BYTES + 1)
            if not blob and not value.filename:
                continue  # an empty file input
            stored[key] = str(store_upload(blob, key, uploads))
        values = request_values(res, text, stored)
        req = make_request(**values)
        res.check(req)
        job = worker.submit(res.name, req)
        return JSONResponse(worker.snapshot(job), status_code=202)

    @app.get("/api/jobs/{job_id}")
    async def job_state(job_id: str) -> Any:
        job = worker.get(job_id) if _JOB_ID.fullmatch(job_id) else None
        if job is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return worker.snapshot(job)

    @app.get("/api/jobs/{job_id}/events")
    async def job_events(job_id: str) -> Any:
        job = worker.get(job_id) if _JOB_ID.fullmatch(job_id) else None
        if job is None:
            return JSONResponse({"error": "no such job"}, status_code=404)

        async def stream() -> Any:
            last = None
            while True:
                now = worker.snapshot(job)
                if now != last:
                    yield f"data: {json.dumps(now)}\n\n"
                    last = now
                if now["state"] in ("done", "error"):
                    return
                await asyncio.sleep(0.1)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/outputs/{job_id}/{name}")
    async def output(job_id: str, name: str) -> Any:
        path = outputs / job_id / name
        if not (_JOB_ID.fullmatch(job_id) and _OUTPUT_NAME.fullmatch(name)) or not path.is_file():
            return JSONResponse({"error": "no such image"}, status_code=404)
        return FileResponse(path, media_type="image/png", filename=f"{job_id}-{name}")

    @app.get("/leaderboard", response_class=HTMLResponse)
    async def leaderboard() -> Any:
        from zoo.cli.evaluate import tables
        from zoo.eval_card import leaderboard_rows
        from zoo.eval_metrics import METRICS

        titles = {k: m.title for k, m in METRICS.items()}
        return html(pages.leaderboard(tables(leaderboard_rows()), titles))

    @app.get("/compare", response_class=HTMLResponse)
    async def compare(capability: str = "text") -> Any:
        rows = [m for m in catalog.rows() if m["process"]]
        caps = sorted({c for m in rows for c in m["capabilities"]})
        if capability not in caps:
            raise RequestError(f"no model takes '{capability[:40]}'; pick one of {', '.join(caps)}")
        sharing = [m for m in rows if capability in m["capabilities"]]
        return html(pages.compare_page(capability, caps, sharing))

    @app.get("/static/{name}")
    async def static(name: str) -> Any:
        files = {p.name: p for p in STATIC.iterdir()}
        if name not in files:
            return JSONResponse({"error": "no such file"}, status_code=404)
        return FileResponse(files[name])

    return BodyLimit(app, MAX_BODY_BYTES)
