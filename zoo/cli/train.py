"""``zoo train`` and ``zoo bench``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from zoo.bench import REPEATS


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
@click.option("-n", "n", type=int, default=64, show_default=True, help="Images per batch.")
@click.option(
    "--repeats",
    type=int,
    default=REPEATS,
    show_default=True,
    help="Timed batches after one warm-up; the median and min-max are reported.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--write-card", is_flag=True, help="Record the figures in the model folder's card.")
def bench(model: str, n: int, repeats: int, as_json: bool, write_card: bool) -> None:
    """Time drawing batches of N images from MODEL on the CPU.

    One warm-up batch, then REPEATS timed batches of the same request; prints the
    median and the spread (min-max) per batch and per image.
    """
    import json

    from zoo.api import load
    from zoo.bench import measure_sampling, report
    from zoo.catalog import resolve
    from zoo.registry.errors import RequestError
    from zoo.registry.schemas import SampleRequest

    if n < 1:
        raise RequestError(f"-n must be at least 1, not {n}")
    if repeats < 1:
        raise RequestError(f"--repeats must be at least 1, not {repeats}")
    # autoencoders and reference networks draw nothing: refuse them before loading
    resolve(model).check(SampleRequest())
    loaded = load(model, device="cpu")
    sampling = measure_sampling(loaded, n, repeats)
    if as_json:
        click.echo(json.dumps({"model": loaded.id, **sampling}))
    else:
        click.echo(f"{loaded.id}: {report(sampling)}")
    if write_card:
        from zoo.train import rewrite_sampling

        rewrite_sampling(loaded.resolved.folder, sampling)
