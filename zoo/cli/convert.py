"""``zoo convert``: a checkpoint in another layout -> a model folder the zoo loads."""

from __future__ import annotations

from pathlib import Path

import click

from zoo.registry.errors import RequestError


@click.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option(
    "--like",
    "like",
    required=True,
    help="A model of the same architecture (id, folder or hf:org/name@rev) whose configs and "
    "tokenizer the converted folder takes.",
)
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False), help="New folder.")
@click.option("--ema", is_flag=True, help="Take the checkpoint's EMA weights where it has both.")
def convert(checkpoint: str, like: str, out: str, ema: bool) -> None:
    """Convert CHECKPOINT (e.g. a single-file Stable Diffusion .safetensors in the original
    layout) into a model folder, taking configs, tokenizer and scheduler from --like.

    A single file holds weights only; nothing in it says which prediction type or
    scheduler it was trained with, so the model it is like says so.

    \b
    Example:
      zoo convert v1-5-pruned-emaonly.safetensors --like hf:org/sd-1-5@COMMIT -o sd15/
      zoo sample sd15/ --prompt "a red circle"
    """
    from zoo.catalog import resolve
    from zoo.registry.discovery import load_object

    source = Path(checkpoint)
    if not source.is_file():
        raise RequestError(f"{checkpoint} does not exist")
    res = resolve(like)
    if res.family.converter is None:
        raise RequestError(
            f"the {res.family.name} family converts no checkpoints; --like a model of a family "
            "that does (e.g. a Stable Diffusion repo)"
        )
    written = load_object(res.family.converter)(source, res.folder, Path(out), ema)
    click.echo(f"{written}/")
