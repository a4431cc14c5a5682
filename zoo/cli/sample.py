"""``zoo sample``: validate the request, load the model, draw, write PNGs with their parameters.

Every check that needs no weights runs before torch is imported, so a bad
value fails in a fraction of a second.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from zoo.cli.options import ModelOptionsCommand, collect
from zoo.registry.errors import RequestError

# keys of a PNG's parameters that are not request fields or options
META_KEYS = frozenset(
    {"model", "revision", "family", "dtype", "sampler", "zoo", "drawn_label", "options", "stages"}
)
DTYPES = ("float32", "float16", "bfloat16")


def _default_out(model: str, seed: int) -> Path:
    """A new file name in the current folder: '<model>_seed<seed>.png', never overwriting."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", model.split("/")[-1]).strip("._") or "samples"
    path = Path(f"{stem}_seed{seed}.png")
    k = 1
    while path.exists():
        path = Path(f"{stem}_seed{seed}-{k}.png")
        k += 1
    return path


def _request(values: dict[str, Any], options: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from zoo.api import format_validation
    from zoo.registry.schemas import SampleRequest

    try:
        return SampleRequest(**{k: v for k, v in values.items() if v is not None}, options=options)
    except ValidationError as err:
        raise RequestError(format_validation(err)) from None


def _control(text: str) -> dict[str, Any]:
    """'edges.png@0.8' -> {"image": "edges.png", "scale": 0.8}; no '@SCALE' means 1."""
    path, at, scale = text.rpartition("@")
    if at:
        try:
            return {"image": path, "scale": float(scale)}
        except ValueError:
            pass
    return {"image": text, "scale": 1.0}


def replayed(meta: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(request fields, options) of a PNG's parameters; older PNGs kept options at the top."""
    from zoo.api import REQUEST_FIELDS

    fields = {k: meta[k] for k in REQUEST_FIELDS if k in meta and k != "sampler"}
    fields["sampler"] = meta.get("sampler")
    options = dict(meta.get("options") or {})
    for key, value in meta.items():
        if key not in REQUEST_FIELDS and key not in META_KEYS:
            options.setdefault(key, value)
    return fields, options


@click.command(cls=ModelOptionsCommand)
@click.argument("model", required=False)
@click.option("--prompt", help="Text condition (text-to-image models).")
@click.option("--negative-prompt", help="Text to steer away from (models with guidance).")
@click.option(
    "--label", type=int, help="Class label (class-conditional models), e.g. 0..9 for digits."
)
@click.option(
    "--image", type=click.Path(dir_okay=False), help="Input image (image-to-image models)."
)
@click.option(
    "--mask",
    type=click.Path(dir_okay=False),
    help="Mask PNG the size of --image, white = repaint (inpainting models).",
)
@click.option(
    "--control",
    "control",
    multiple=True,
    metavar="FILE[@SCALE]",
    help="Control image (ControlNet-style models; repeatable), with a conditioning scale "
    "after '@' (default 1).",
)
@click.option("--strength", type=float, help="How far --image may change, 0..1 (img2img).")
@click.option("--height", type=int, help="Output height in pixels (models that vary it).")
@click.option("--width", type=int, help="Output width in pixels (models that vary it).")
@click.option("-n", "n", type=int, default=1, show_default=True, help="Number of images.")
@click.option("--seed", type=int, default=0, show_default=True, help="Image i is seeded SEED+i.")
@click.option("--steps", type=int, help="Sampler steps (iterative samplers).")
@click.option("--sampler", help="Sampling algorithm (default: the model's; zoo info MODEL).")
@click.option("--guidance", type=float, help="Guidance scale (diffusion models).")
@click.option("--batch-size", type=int, help="Images per forward pass.")
@click.option(
    "-O",
    "--option",
    "option_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A family or sampler option by name (repeatable); the typed flags below are the same.",
)
@click.option(
    "--device", help="cpu, cuda, cuda:1 or mps (default: ZOO_DEVICE, else the best available)."
)
@click.option(
    "--dtype",
    type=click.Choice(DTYPES),
    help="Weights dtype (default: float32 on CPU).",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(),
    help=(
        "A .png path writes a grid; any other path (or one ending in /) a folder of PNGs."
        " Default: <model>_seed<seed>.png here."
    ),
)
@click.option(
    "--from",
    "from_png",
    type=click.Path(dir_okay=False),
    help="Redraw an image from the parameters stored in a PNG the zoo wrote.",
)
@click.option(
    "--allow-pull",
    is_flag=True,
    help="With --from: download the Hub model the PNG names if it is not in the cache.",
)
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
def sample(
    model: str | None,
    out: str | None,
    from_png: str | None,
    allow_pull: bool,
    force: bool,
    device: str | None,
    dtype: str | None,
    option_pairs: tuple[str, ...],
    **values: Any,
) -> None:
    """Draw images from MODEL into a PNG grid or a folder of PNGs.

    MODEL is a model id (zoo list), a model folder, or hf:org/name[@revision].
    Each PNG carries the parameters that reproduce it; image i of a request with
    seed S equals the single image drawn with --seed S+i.

    Options particular to MODEL's family and sampler (truncation, style mixing,
    token sampling, ...) are listed by `zoo sample MODEL --help`, and can also be
    given as -O KEY=VALUE.

    \b
    Examples:
      zoo sample dcgan-digits -n 16 --seed 0 -o grid.png
      zoo sample cgan-digits --label 7 -n 8 -o sevens/
      zoo sample biggan-digits --label 3 --truncation 0.5 -o threes.png
      zoo sample stylegan-scenes --seed 1 --mix-seed 7 --mix-layers coarse
      zoo sample pix2pix-scenes-edges --image edges.png -o scene.png
      zoo sample dalle-scenes --prompt "a red circle" --rerank 8 -n 4
      zoo sample vqvae-scenes -O temperature=0.8 -O top_k=20
      zoo sample --from grid.png -o again.png
    """
    from zoo.evaluate import parse_options

    options = parse_options(option_pairs)
    values["control"] = [_control(c) for c in values.get("control") or ()] or None
    for key, value in collect(values).items():
        if key in options:
            raise RequestError(
                f"option '{key}' is given twice (as --{key.replace('_', '-')} and -O)"
            )
        options[key] = value
    revision = None
    if allow_pull and from_png is None:
        raise RequestError(
            "--allow-pull applies to --from only (a model named on the command line is"
            " pulled as needed); drop --allow-pull"
        )
    if from_png is not None:
        from zoo.images import read_meta

        meta = read_meta(from_png)
        if model is not None and model != meta.get("model"):
            raise RequestError(
                f"{from_png} was drawn by '{meta.get('model')}', not '{model}'; drop MODEL"
            )
        model = meta.get("model")
        if not isinstance(model, str) or not model:
            raise RequestError(f"{from_png}: its zoo parameters name no model")
        revision = meta.get("revision")
        given = [k for k, v in values.items() if v is not None and k not in ("n", "seed")]
        given += [k for k in ("n", "seed") if _on_command_line(k)]
        given += list(options)
        if given:
            raise RequestError(
                f"--from takes its parameters from the image; drop {_flag(given[0])}"
            )
        dtype = _replayed_dtype(meta, dtype, from_png)
        values, options = replayed(meta)
        values["n"] = meta.get("n", 1)
        values["seed"] = meta.get("seed", 0)
    if not model:
        raise RequestError("name a model (zoo list) or pass --from IMAGE.png")
    request = _request(values, options)

    # checks that need the card but no weights (and no torch)
    from zoo.catalog import resolve

    # a PNG is someone else's file: it may not make this machine download a model
    download = from_png is None or allow_pull
    res = resolve(model) if download else _resolve_cached(model, str(from_png))
    if from_png is not None:
        request = _from_before_autocast(res, request)
    res.check(request)
    paths = [("image", request.image), ("mask", request.mask)]
    paths += [("control image", c.image) for c in request.control]
    for what, path in paths:
        if path is not None and not Path(path).is_file():
            raise RequestError(f"{what} {path} does not exist")
    if revision is not None and revision != res.revision:
        click.echo(
            f"zoo: warning: {from_png} was drawn by revision {revision}; '{res.name}' is now at {res.revision}",
            err=True,
        )
    from zoo.images import output_kind

    target = Path(out) if out else _default_out(res.name, request.seed)
    grid = output_kind(out if out else target) == "grid"
    _check_out(target, grid, force)

    from zoo.api import load
    from zoo.bulk import world, write_folder

    if grid and world()[1] > 1:
        raise RequestError("a grid (.png) cannot be split across workers; give a folder as -o")
    loaded = load(model, device=device, dtype=dtype, download=download)
    if request.n > 1 and not loaded.generator.seed_varies:
        click.echo(
            f"zoo: note: {loaded.id} draws the same image whatever the seed (its output "
            f"depends only on its input); the {request.n} images will be identical",
            err=True,
        )
    if grid:
        loaded.run(request).save(target, force=force)
        click.echo(str(target))
    else:
        written = write_folder(loaded, request, target, force=force)
        skipped = len(range(world()[0], request.n, world()[1])) - written
        note = f", {skipped} already there" if skipped else ""
        images = "image" if written == 1 else "images"
        click.echo(f"{target}/ ({written} {images} written{note})")


def _resolve_cached(model: str, png: str) -> Any:
    """Resolve the model a PNG names without downloading it: a Hub model must be cached."""
    from zoo.catalog import hub_repo, resolve
    from zoo.registry.errors import UnknownModelError

    repo = hub_repo(model)
    if repo is None:
        return resolve(model)
    try:
        return resolve(model, download=False)
    except UnknownModelError:
        raise RequestError(
            f"{png} names the Hub repository {repo}, which is not in the cache;"
            " pass --allow-pull to download it"
        ) from None


def _from_before_autocast(res: Any, request: Any) -> Any:
    """A PNG drawn before the diffusion samplers took ``autocast`` (default bfloat16) was
    drawn in float32: replay it so, as its parameters name no autocast."""
    spec = res.sampler_spec(request.sampler)
    sampler_options = res.option_classes(spec)["sampler"]
    if "autocast" in sampler_options.model_fields and "autocast" not in request.options:
        return request.model_copy(update={"options": {**request.options, "autocast": "none"}})
    return request


def _replayed_dtype(meta: dict[str, Any], given: str | None, png: str) -> str | None:
    """The dtype a PNG was drawn in (None for PNGs older than that record); a --dtype
    that differs from it is refused, since it would draw other pixels."""
    recorded = meta.get("dtype")
    if recorded is None:
        return given
    if recorded not in DTYPES:
        raise RequestError(
            f"{png}: its dtype {str(recorded)[:40]!r} is none of {', '.join(DTYPES)}"
        )
    if given is not None and given != recorded:
        raise RequestError(
            f"--from takes its parameters from the image ({png} was drawn in {recorded});"
            " drop --dtype"
        )
    return str(recorded)


def _flag(name: str) -> str:
    """The command-line spelling of a parameter: '-n', '--batch-size'."""
    return "-n" if name == "n" else "--" + name.replace("_", "-")


def _on_command_line(param: str) -> bool:
    """Whether ``param`` was given on the command line (not its default)."""
    source = click.get_current_context().get_parameter_source(param)
    return source not in (None, click.core.ParameterSource.DEFAULT)


def _check_out(target: Path, grid: bool, force: bool) -> None:
    """Refuse an output that exists (a grid without --force) or that cannot be written."""
    if grid:
        if target.exists() and not force:
            raise RequestError(f"{target} exists; choose another -o or pass --force")
        parent = target.parent
    else:
        parent = target if target.exists() else target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    import os

    if not os.access(parent, os.W_OK):
        raise RequestError(f"cannot write to {parent}; choose another -o")
