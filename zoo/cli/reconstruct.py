"""``zoo reconstruct`` and ``zoo interpolate``: the autoencoder commands."""

from __future__ import annotations

from pathlib import Path

import click

from zoo.registry.errors import RequestError


def _check_out(out: str, force: bool) -> Path:
    path = Path(out)
    if path.suffix.lower() != ".png":
        raise RequestError(f"-o must be a .png path, got {out}")
    if path.exists() and not force:
        raise RequestError(f"{path} exists; choose another -o or pass --force")
    return path


@click.command("reconstruct")
@click.argument("model")
@click.option(
    "--image",
    "image",
    required=True,
    type=click.Path(dir_okay=False),
    help="Input image (the model's size).",
)
@click.option("-o", "--out", default="reconstruction.png", show_default=True, help="Output PNG.")
@click.option(
    "--noise",
    type=float,
    default=0.0,
    show_default=True,
    help="Add Gaussian noise of this std first (a DAE removes it).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise.")
@click.option(
    "--grid", is_flag=True, help="Write input | noisy input | reconstruction side by side."
)
@click.option("--force", is_flag=True, help="Overwrite the output file.")
def reconstruct_cmd(
    model: str, image: str, out: str, noise: float, seed: int, grid: bool, force: bool
) -> None:
    """Encode IMAGE with MODEL (an autoencoder) and decode it again.

    \b
    Examples:
      zoo reconstruct ae-digits --image digit.png -o again.png
      zoo reconstruct dae-digits --image digit.png --noise 0.3 --grid -o denoised.png
    """
    path = _check_out(out, force)
    import torch

    from zoo.api import load
    from zoo.images import grid as tile
    from zoo.images import save_png, to_pil
    from zoo.reconstruct import autoencoder_of, load_inputs, reconstruct

    loaded = load(model)
    autoencoder_of(loaded)
    images = load_inputs(loaded, [image])
    r = reconstruct(loaded, images, noise=noise, seed=seed)
    meta = {
        "model": loaded.id,
        "revision": loaded.resolved.revision,
        "input": image,
        "noise": noise,
        "seed": seed,
    }
    shown = tile(torch.cat([r["input"], r["noisy"], r["output"]]), nrow=3) if grid else r["output"]
    save_png(to_pil(shown)[0], path, meta)
    click.echo(str(path))


@click.command("interpolate")
@click.argument("model")
@click.option("--images", nargs=2, type=click.Path(dir_okay=False), help="Two images: the ends.")
@click.option(
    "--seeds", nargs=2, type=int, help="Two seeds: the ends are their random latents (VAEs)."
)
@click.option(
    "--steps", type=int, default=8, show_default=True, help="Images along the line, ends included."
)
@click.option(
    "-o", "--out", default="interpolation.png", show_default=True, help="Output PNG (one row)."
)
@click.option("--force", is_flag=True, help="Overwrite the output file.")
def interpolate_cmd(
    model: str,
    images: tuple[str, str] | None,
    seeds: tuple[int, int] | None,
    steps: int,
    out: str,
    force: bool,
) -> None:
    """Decode STEPS points on the straight line between two latents of MODEL.

    \b
    Examples:
      zoo interpolate vae-digits --seeds 0 1 --steps 10 -o walk.png
      zoo interpolate ae-digits --images a.png b.png -o walk.png
    """
    if (images is None) == (seeds is None):
        raise RequestError("give either --images A B or --seeds S T")
    path = _check_out(out, force)
    from zoo.api import load
    from zoo.images import grid, save_png, to_pil
    from zoo.reconstruct import autoencoder_of, interpolate, load_inputs

    loaded = load(model)
    autoencoder_of(loaded)
    ends = load_inputs(loaded, list(images)) if images else None
    row = interpolate(loaded, images=ends, seeds=list(seeds) if seeds else None, steps=steps)
    meta = {
        "model": loaded.id,
        "revision": loaded.resolved.revision,
        "images": images,
        "seeds": seeds,
        "steps": steps,
    }
    save_png(to_pil(grid(row, nrow=steps))[0], path, meta)
    click.echo(str(path))
