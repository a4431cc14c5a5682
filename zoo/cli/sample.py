"""``zoo sample``: validate the request, load the model, draw, write PNGs with their parameters.

Every check that needs no weights runs before torch is imported, so a bad
value fails in a fraction of a second.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from zoo.registry.errors import RequestError

REQUEST_FIELDS = (
    "prompt",
    "negative_prompt",
    "label",
    "n",
    "seed",
    "steps",
    "sampler",
    "guidance",
    "truncation",
    "image",
    "batch_size",
    "direction",
    "mix_seed",
    "mix_layers",
    "noise",
    "stage",
    "temperature",
    "top_k",
    "top_p",
    "rerank",
)


def _default_out(model: str, seed: int) -> Path:
    """A new file name in the current folder: '<model>_seed<seed>.png', never overwriting."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", model.split("/")[-1]).strip("._") or "samples"
    path = Path(f"{stem}_seed{seed}.png")
    k = 1
    while path.exists():
        path = Path(f"{stem}_seed{seed}-{k}.png")
        k += 1
    return path


def _request(values: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from zoo.api import format_validation
    from zoo.registry.schemas import SampleRequest

    try:
        return SampleRequest(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as err:
        raise RequestError(format_validation(err)) from None


@click.command()
@click.argument("model", required=False)
@click.option("--prompt", help="Text condition (text-to-image models).")
@click.option("--negative-prompt", help="Text to steer away from (models with guidance).")
@click.option(
    "--label", type=int, help="Class label (class-conditional models), e.g. 0..9 for digits."
)
@click.option("-n", "n", type=int, default=1, show_default=True, help="Number of images.")
@click.option("--seed", type=int, default=0, show_default=True, help="Image i is seeded SEED+i.")
@click.option("--steps", type=int, help="Sampler steps (diffusion and autoregressive models).")
@click.option("--sampler", help="Sampling algorithm (default: the model's).")
@click.option("--guidance", type=float, help="Guidance scale (diffusion models).")
@click.option("--truncation", type=float, help="Truncation psi for the latent (GANs).")
@click.option(
    "--image", type=click.Path(dir_okay=False), help="Condition image (image-to-image models)."
)
@click.option(
    "--direction",
    type=click.Choice(["a2b", "b2a"]),
    help="Unpaired translators (CycleGAN): map domain A to B (default) or B to A.",
)
@click.option("--mix-seed", type=int, help="Style mixing (StyleGAN): seed of a second latent.")
@click.option(
    "--mix-layers",
    type=click.Choice(["coarse", "fine"]),
    help="Style mixing: the layers that take the second latent (default coarse).",
)
@click.option(
    "--noise/--no-noise", default=None, help="Per-layer noise inputs on or off (StyleGAN)."
)
@click.option("--stage", type=int, help="Multi-stage models (StackGAN): 1 returns the first stage.")
@click.option("--temperature", type=float, help="Token sampling temperature (autoregressive).")
@click.option("--top-k", type=int, help="Sample among the K most likely tokens.")
@click.option("--top-p", type=float, help="Sample among the most likely tokens holding mass P.")
@click.option(
    "--rerank", type=int, help="Draw N candidates per image and keep the best (DALL-E: by CLIP)."
)
@click.option("--batch-size", type=int, help="Images per forward pass.")
@click.option(
    "--device", help="cpu, cuda, cuda:1 or mps (default: ZOO_DEVICE, else the best available)."
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float16", "bfloat16"]),
    help="Weights dtype (default: float32 on CPU).",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(),
    help="A .png path writes a grid; any other path a folder of PNGs. Default: <model>_seed<seed>.png here.",
)
@click.option(
    "--from",
    "from_png",
    type=click.Path(dir_okay=False),
    help="Redraw an image from the parameters stored in a PNG the zoo wrote.",
)
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
def sample(
    model: str | None,
    out: str | None,
    from_png: str | None,
    force: bool,
    device: str | None,
    dtype: str | None,
    **options: Any,
) -> None:
    """Draw images from MODEL into a PNG grid or a folder of PNGs.

    MODEL is a model id (zoo list), a model folder, or hf:org/name[@revision].
    Each PNG carries the parameters that reproduce it; image i of a request with
    seed S equals the single image drawn with --seed S+i.

    \b
    Examples:
      zoo sample dcgan-digits -n 16 --seed 0 -o grid.png
      zoo sample cgan-digits --label 7 -n 8 -o sevens/
      zoo sample biggan-digits --label 3 --truncation 0.5 -o threes.png
      zoo sample stylegan-scenes --seed 1 --mix-seed 7 --mix-layers coarse
      zoo sample pix2pix-scenes-edges --image edges.png -o scene.png
      zoo sample dalle-scenes --prompt "a red circle" --rerank 8 -n 4
      zoo sample --from grid.png -o again.png
    """
    revision = None
    if from_png is not None:
        from zoo.images import read_meta

        meta = read_meta(from_png)
        if model is not None and model != meta.get("model"):
            raise RequestError(
                f"{from_png} was drawn by '{meta.get('model')}', not '{model}'; drop MODEL"
            )
        model = meta.get("model")
        revision = meta.get("revision")
        given = {k: v for k, v in options.items() if v is not None and k not in ("n", "seed")}
        if given:
            raise RequestError(
                f"--from takes its parameters from the image; drop --{next(iter(given)).replace('_', '-')}"
            )
        options = {k: meta.get(k) for k in REQUEST_FIELDS}
        options["n"] = meta.get("n", 1)
        options["seed"] = meta.get("seed", 0)
    if not model:
        raise RequestError("name a model (zoo list) or pass --from IMAGE.png")
    request = _request(options)

    # checks that need the card but no weights (and no torch)
    from zoo.catalog import resolve
    from zoo.registry.discovery import get_registry

    res = resolve(model)
    res.check(request)
    if request.sampler is not None:
        spec = get_registry().sampler(request.sampler)
        if spec.process != res.family.process:
            raise RequestError(
                f"sampler '{request.sampler}' draws {spec.process} models; '{res.name}' is {res.family.process}"
            )
    if request.image is not None and not Path(request.image).is_file():
        raise RequestError(f"image {request.image} does not exist")
    if revision is not None and revision != res.revision:
        click.echo(
            f"zoo: warning: {from_png} was drawn by revision {revision}; '{res.name}' is now at {res.revision}",
            err=True,
        )
    target = Path(out) if out else _default_out(res.name, request.seed)
    _check_out(target, force)

    from zoo.api import load
    from zoo.bulk import world, write_folder

    grid = target.suffix.lower() == ".png"
    if grid and world()[1] > 1:
        raise RequestError("a grid (.png) cannot be split across workers; give a folder as -o")
    loaded = load(model, device=device, dtype=dtype)
    if grid:
        loaded.run(request).save(target, force=force)
        click.echo(str(target))
    else:
        written = write_folder(loaded, request, target, force=force)
        skipped = len(range(world()[0], request.n, world()[1])) - written
        note = f", {skipped} already there" if skipped else ""
        click.echo(f"{target}/ ({written} images written{note})")


def _check_out(target: Path, force: bool) -> None:
    if target.suffix.lower() == ".png":
        if target.exists() and not force:
            raise RequestError(f"{target} exists; choose another -o or pass --force")
        parent = target.parent
    else:
        if target.exists() and not target.is_dir():
            raise RequestError(f"{target} exists and is not a folder; give a .png path or a folder")
        parent = target if target.exists() else target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    import os

    if not os.access(parent, os.W_OK):
        raise RequestError(f"cannot write to {parent}; choose another -o")
