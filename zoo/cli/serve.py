"""``zoo serve``: the web app on a local port."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import click

from zoo.registry.errors import RequestError


def default_data() -> Path:
    """Where uploads and drawn images are kept: ZOO_SERVE_DATA, else the user's cache."""
    if os.environ.get("ZOO_SERVE_DATA"):
        return Path(os.environ["ZOO_SERVE_DATA"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "zoo" / "serve"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=7860, show_default=True, help="Port to listen on.")
@click.option(
    "--data",
    type=click.Path(file_okay=False),
    help="Folder for uploads and drawn images (default: ZOO_SERVE_DATA, else ~/.cache/zoo/serve).",
)
@click.option("--device", help="cpu, cuda, cuda:1 or mps (default: ZOO_DEVICE, else the best).")
@click.option(
    "--allow-pull",
    is_flag=True,
    help="Let a page load a registered Hub model that is not in the cache (downloads it).",
)
def serve(host: str, port: int, data: str | None, device: str | None, allow_pull: bool) -> None:
    """Serve a local web page: browse the models and their cards, draw from any model with
    a form made from its request fields and options, follow the progress, compare models
    side by side, and read the leaderboard.

    Draws run one at a time on a worker thread, in the order they were asked for. Each
    image links to its PNG, which carries the parameters `zoo sample --from` redraws it
    with. Uploaded images are kept under --data so that those parameters still find them.
    The server never installs anything and pulls from the Hub only with --allow-pull.

    \b
    Examples:
      zoo serve                       # http://127.0.0.1:7860
      zoo serve --port 8000 --data ./zoo-web
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise RequestError("zoo serve needs its web extras: pip install 'zoo[serve]'") from None
    if not 0 < port < 65536:
        raise RequestError(f"--port {port} is not a port number (1..65535)")
    if not is_loopback(host):
        click.echo(
            f"zoo: warning: listening on {host}: anyone who can reach this address can run "
            "models on this machine",
            err=True,
        )
    from zoo.serve.app import create_app

    folder = Path(data) if data else default_data()
    app = create_app(folder, allow_pull=allow_pull, device=device)
    click.echo(f"zoo: serving on http://{host}:{port} (data in {folder})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
