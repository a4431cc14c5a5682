"""``zoo train`` and ``zoo bench``."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("train")
@click.argument("family")
@click.option("--data", required=True, help="Dataset name (e.g. digits).")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Model folder to write."
)
@click.option("--steps", type=int, help="Optimisation steps (default: the preset's).")
@click.option("--batch-size", type=int, help="Batch size (default: the preset's).")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for init and data order."
)
@click.option(
    "--preset", default="default", show_default=True, help="Config preset (e.g. tiny, default)."
)
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config field; repeatable."
)
@click.option(
    "--device", help="cpu, cuda, cuda:1 or mps (default: ZOO_DEVICE, else the best available)."
)
@click.option("--force", is_flag=True, help="Overwrite a model already in --out.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue from the last checkpoint (kept beside --out, in .zoo-train/).",
)
@click.option(
    "--checkpoint-every",
    type=int,
    help="Steps between checkpoints (default: steps/10, at least 100).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_cmd(
    family: str,
    data: str,
    out: str,
    steps: int | None,
    batch_size: int | None,
    seed: int,
    preset: str,
    sets: tuple[str, ...],
    device: str | None,
    force: bool,
    resume: bool,
    checkpoint_every: int | None,
    quiet: bool,
) -> None:
    """Train FAMILY on a dataset and write a model folder that `zoo sample DIR` loads.

    \b
    Examples:
      zoo train dcgan --data digits --out runs/dcgan --steps 5000
      torchrun --standalone --nproc-per-node 2 -m zoo train ddpm --data digits --out runs/ddpm
    """
    from zoo.distributed import is_main_process
    from zoo.train import parse_sets, train

    path = train(
        family,
        data,
        out,
        steps=steps,
        batch_size=batch_size,
        seed=seed,
        preset=preset,
        sets=parse_sets(sets),
        device=device,
        force=force,
        progress=not quiet,
        resume=resume,
        checkpoint_every=checkpoint_every,
        argv=[a for a in sys.argv[1:] if a != "--resume"] if _run_as_zoo() else None,
    )
    if is_main_process():  # under torchrun, one line for the one folder
        click.echo(str(path))


def _run_as_zoo() -> bool:
    """Whether this process is the ``zoo`` command (or ``python -m zoo``), so its argv is ours."""
    first = Path(sys.argv[0])
    if first.name == "__main__.py":
        return first.parent.name == "zoo" or first.parent.as_posix().endswith("zoo/cli")
    return first.stem == "zoo"


@click.command()
@click.argument("model")
@click.option("-n", "n", type=int, default=64, show_default=True, help="Images to draw.")
@click.option("--write-card", is_flag=True, help="Record the figures in the model folder's card.")
def bench(model: str, n: int, write_card: bool) -> None:
    """Time drawing N images from MODEL on the CPU (after a warm-up)."""
    import json
    import time

    from zoo.api import load
    from zoo.registry.errors import RequestError

    if n < 1:
        raise RequestError("-n must be at least 1")
    from zoo.catalog import resolve
    from zoo.registry.schemas import SampleRequest
    from zoo.train import example_options

    # autoencoders and reference networks draw nothing: refuse them before loading
    resolve(model).check(SampleRequest())
    loaded = load(model, device="cpu")
    opts = example_options(loaded)  # a prompt or an input image for conditioned models
    loaded.sample(n=2, seed=0, **opts)
    t0 = time.perf_counter()
    loaded.sample(n=n, seed=0, **opts)
    dt = time.perf_counter() - t0
    result = {
        "model": loaded.id,
        "images": n,
        "seconds": round(dt, 3),
        "images_per_second": round(n / dt, 1),
    }
    click.echo(json.dumps(result))
    if write_card:
        from zoo.train import measure_sampling, rewrite_sampling

        rewrite_sampling(loaded.resolved.folder, measure_sampling(loaded.resolved.folder, n))
