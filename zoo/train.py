"""``zoo train``: the loop shared by every family; the family's Recipe owns the losses.

Writes a model folder (README.md card, config.json, model.safetensors, a
sample grid) that ``zoo sample DIR`` loads.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo import checkpoint, distributed
from zoo.data import check_fit, check_name, load_split
from zoo.registry.discovery import get_registry, load_object
from zoo.registry.errors import RequestError

WEIGHTS_FILE = "model.safetensors"


def parse_sets(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are parsed as JSON when they can be (numbers, lists)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise RequestError(f"--set expects key=value, got '{item}'")
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


def train(
    family: str,
    data: str,
    out: str | Path,
    *,
    steps: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    preset: str = "default",
    sets: dict[str, Any] | None = None,
    device: str | None = None,
    force: bool = False,
    progress: bool = True,
    argv: list[str] | None = None,
    resume: bool = False,
    checkpoint_every: int | None = None,
) -> Path:
    """Train a family on a dataset and write a loadable model folder to ``out``.

    Under torchrun the workers share the global batch (``zoo.distributed``); worker 0
    writes the checkpoints and the folder, and every worker returns ``out``.
    """
    from pydantic import ValidationError

    from zoo.api import format_validation
    from zoo.device import DeviceManager

    reg = get_registry()
    fam = reg.family(family)
    if fam.trainer is None:
        raise RequestError(f"family '{family}' has no training recipe")
    check_name(data)
    out = Path(out)
    if (out / "README.md").exists() and not (force or resume):
        raise RequestError(
            f"{out} already holds a model; choose another --out, --resume or --force"
        )
    if steps is not None and steps < 1:
        raise RequestError("--steps must be at least 1")
    if checkpoint_every is not None and checkpoint_every < 1:
        raise RequestError("--checkpoint-every must be at least 1")
    if batch_size is not None and batch_size < 1:
        raise RequestError("--batch-size must be at least 1")

    gen_cls = load_object(fam.generator)
    overrides = dict(sets or {})
    try:
        config = gen_cls.config_class.preset(preset, **overrides)
    except ValidationError as err:
        raise RequestError(
            format_validation(err).replace("invalid request", "invalid --set")
        ) from None
    steps = steps or int(getattr(config, "steps", 1000))
    batch_size = batch_size or int(getattr(config, "batch_size", 64))
    recipe_cls = load_object(fam.trainer)
    distributed.check(family, recipe_cls.data_parallel, batch_size)
    if "steps" in type(config).model_fields:
        # the recipe's schedules and config.json follow the steps actually run
        # (validated again: a config may need more steps than --steps gives)
        try:
            config = type(config).model_validate({**config.model_dump(), "steps": steps})
        except ValidationError as err:
            raise RequestError(
                format_validation(err).replace("invalid request", "invalid --steps")
            ) from None

    workers, dev = distributed.start(DeviceManager.pick(device))
    run = Run(family, data, out, steps, batch_size, seed, preset, overrides, config)
    try:
        return _train(
            run, gen_cls, recipe_cls, workers, dev, force, resume, checkpoint_every, progress, argv
        )
    finally:
        workers.stop()


@dataclass(frozen=True)
class Run:
    """What ``zoo train`` was asked, after the checks and defaults."""

    family: str
    data: str
    out: Path
    steps: int
    batch_size: int  # the global batch; each of W torchrun workers takes batch_size / W
    seed: int
    preset: str
    overrides: dict[str, Any]
    config: Any


def _train(
    run: Run,
    gen_cls: Any,
    recipe_cls: Any,
    workers: distributed.Workers,
    dev: Any,
    force: bool,
    resume: bool,
    checkpoint_every: int | None,
    progress: bool,
    argv: list[str] | None,
) -> Path:
    """The run itself, on each worker: ``train`` after its checks and the process group."""
    import torch
    from tqdm import tqdm

    family, data, out, steps, batch_size = run.family, run.data, run.out, run.steps, run.batch_size
    seed, preset, overrides, config = run.seed, run.preset, run.overrides, run.config
    world = workers.world_size
    torch.manual_seed(seed)  # the same on every worker: one stream for the global batch
    tensors = load_split(data, "train", config.image_size)
    check_fit(recipe_cls.needs(config), tensors, family, data)  # before --force removes anything
    if workers.main:  # the other workers read the checkpoints only after this
        if force and not resume:
            checkpoint.remove(out)
        else:
            checkpoint.adopt_legacy(out)
    workers.barrier()
    n = len(next(iter(tensors.values())))
    generator = gen_cls(config)
    from zoo.api import attach_components

    attach_components(generator, None, device=str(dev))
    generator.to(dev)
    recipe = recipe_cls(generator, config, dev)
    if workers.parallel:
        recipe.distribute(workers.rank, world, workers.wrapper())
    recipe.prepare(tensors)
    local = batch_size // world  # this worker's rows of each global batch

    order = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=order)
    pos, start, spent = 0, 0, 0.0
    recent: dict[str, deque[float]] = {}
    settings = {
        "family": family,
        "data": data,
        "seed": seed,
        "batch_size": batch_size,
        "config": config.model_dump(mode="json", exclude={"steps"}),  # --resume may add steps
    }
    if workers.parallel:  # only then, so the checkpoints of one-process runs stay as they were
        settings["workers"] = world
    if resume:
        start, state = checkpoint.load_latest(out)
        if state["settings"] != json.loads(json.dumps(settings)):
            raise RequestError(
                f"the checkpoint in {out} was made with other settings (family, data, seed, "
                "batch size, config or number of torchrun workers); resume with the same ones "
                "or start afresh with --force"
            )
        if start >= steps:
            raise RequestError(f"{out} is already trained to step {start}; ask for more --steps")
        for name, net in recipe.trainable().items():
            net.load_state_dict(state["networks"][name])
        for name, opt in recipe.optimizers().items():
            opt.load_state_dict(state["optimizers"][name])
        # a row of worker_rng is cloned: set_rng_state reads a view from its storage's start
        rng = state["worker_rng"][workers.rank].clone() if workers.parallel else state["rng"]
        torch.set_rng_state(rng)
        order.set_state(state["order"])
        perm, pos, spent = state["perm"], state["pos"], state["seconds"]
        recent = {k: deque(v, maxlen=100) for k, v in state["recent"].items()}
    elif checkpoint.exists(out):
        raise RequestError(
            f"{checkpoint.folder_for(out)} holds a checkpoint of an earlier run writing {out}; "
            "pass --resume to continue it or --force to start afresh"
        )
    every = checkpoint_every or max(100, steps // 10)

    def save_checkpoint(step: int) -> None:
        # each worker's RNG state, as a recipe may draw per worker (dropout in a network)
        rngs = workers.gather_cpu(torch.get_rng_state())
        if not workers.main:
            return
        state = {
            "settings": settings,
            "networks": {k: net.state_dict() for k, net in recipe.trainable().items()},
            "optimizers": {k: opt.state_dict() for k, opt in recipe.optimizers().items()},
            "rng": rngs[0].clone(),
            "order": order.get_state(),
            "perm": perm,
            "pos": pos,
            "seconds": spent + time.perf_counter() - t0,
            "recent": {k: list(v) for k, v in recent.items()},
        }
        if workers.parallel:
            state["worker_rng"] = rngs
        checkpoint.save(out, step, state)

    t0 = time.perf_counter()
    bar = tqdm(
        range(start, steps),
        initial=start,
        total=steps,
        desc=f"train {family}",
        unit="step",
        disable=not (progress and workers.main),
        file=sys.stderr,
    )
    for step in bar:
        if pos + batch_size > n:
            perm, pos = torch.randperm(n, generator=order), 0
        idx = perm[pos : pos + batch_size][workers.rank * local : (workers.rank + 1) * local]
        pos += batch_size
        batch = {
            k: v[idx].to(dev) if isinstance(v, torch.Tensor) else [v[i] for i in idx.tolist()]
            for k, v in tensors.items()
        }
        for net in recipe.trainable().values():
            net.train()
        losses = workers.mean_losses(recipe.step(batch))
        for k, v in losses.items():
            if v != v or v in (float("inf"), float("-inf")):
                raise RequestError(
                    f"training diverged at step {step}: {k} = {v}; lower the learning rate"
                )
            recent.setdefault(k, deque(maxlen=100)).append(v)
        if step % 10 == 0:
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
        if (step + 1) % every == 0 or step + 1 == steps:
            save_checkpoint(step + 1)
    bar.close()
    elapsed = spent + time.perf_counter() - t0
    if not workers.main:
        workers.barrier()  # until worker 0 has written the model folder
        return out
    recipe.finish()
    generator.eval()

    final = {k: sum(v) / len(v) for k, v in recent.items()}
    command = (
        argv_command(argv)
        if argv
        else argv_command(
            ["train", family, "--data", data, "--out", out.name, "--steps", str(steps)]
            + ["--batch-size", str(batch_size), "--seed", str(seed), "--preset", preset]
            + [a for k, v in overrides.items() for a in ("--set", f"{k}={json.dumps(v)}")]
        )
    )
    if workers.parallel:
        command = f"{workers.launcher()} {command}"
    training = {
        "command": command,
        "dataset": f"{data} (train split, {n} images at {config.image_size}x{config.image_size})",
        "steps": steps,
        "batch_size": batch_size,
        **({"data_parallel": workers.describe(batch_size)} if workers.parallel else {}),
        "seed": seed,
        "preset": preset,
        "time_seconds": round(elapsed, 1),
        "hardware": f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
        if dev.type == "cpu"
        else str(dev),
        "torch": torch.__version__,
        "recipe": recipe.recipe_summary(),
        "final_losses": {k: round(v, 4) for k, v in final.items()},
    }
    # the generator's config: a recipe's prepare/finish may have filled in what the data and
    # the trained networks decide (a tokenizer's ids, an autoencoder's latent scale)
    write_model_folder(out, family, data, generator.config, generator, training)
    workers.barrier()
    return out


SHAREABLE_FLAGS = ("--out", "--data")  # flags whose value may be a path of this machine


def argv_command(argv: list[str], cwd: str | Path | None = None) -> str:
    """The command line ``zoo ARGV`` as a card records it: without the machine's paths.

    The values of ``--out`` and of ``--data folder:PATH`` pass through ``shareable_path``.
    """
    args = []
    for i, arg in enumerate(argv):
        flag, eq, value = arg.partition("=")
        if i > 0 and argv[i - 1] in SHAREABLE_FLAGS:
            arg = _shareable_value(argv[i - 1], arg, cwd)
        elif eq and flag in SHAREABLE_FLAGS:
            arg = f"{flag}={_shareable_value(flag, value, cwd)}"
        args.append(arg)
    return "zoo " + " ".join(shlex.quote(a) for a in args)


def _shareable_value(flag: str, value: str, cwd: str | Path | None) -> str:
    if flag == "--data":
        name, colon, path = value.partition(":")  # NAME:PATH, e.g. folder:./photos
        return f"{name}:{shareable_path(path, cwd)}" if colon else value
    return shareable_path(value, cwd)


def shareable_path(path: str, cwd: str | Path | None = None) -> str:
    """``path`` as a card may record it, without the folders of the training machine.

    A relative path stays as given; an absolute one becomes relative to ``cwd``
    (default: the current folder) when inside it, else only its last part. So a
    card never records a home, temporary or workspace folder.
    """
    if not Path(path).is_absolute():
        return path
    full = Path(os.path.abspath(path))
    here = Path(os.path.abspath(cwd if cwd is not None else os.getcwd()))
    if here.parent == here:  # from the root, a relative path still names every folder
        return full.name
    try:
        return full.relative_to(here).as_posix()
    except ValueError:
        return full.name


def write_model_folder(
    out: Path,
    family: str,
    data: str,
    config: Any,
    generator: Any,
    training: dict[str, Any],
    sampling: dict[str, Any] | None = None,
) -> None:
    """Write config.json, the weights, a sample grid and the card (written last)."""
    from zoo.cardtext import pipeline_tag
    from zoo.images import atomic_write
    from zoo.registry.schemas import FileEntry, ModelCard, ZooSection
    from zoo.weights import save_weights, sha256_file

    reg = get_registry()
    fam = reg.family(family)
    out.mkdir(parents=True, exist_ok=True)
    config_text = json.dumps(config.model_dump(mode="json"), indent=2) + "\n"
    atomic_write(out / "config.json", lambda f: f.write(config_text.encode()))
    assets = write_assets(generator, out)
    state = {k: v.detach().float().cpu().contiguous() for k, v in generator.state_dict().items()}
    save_weights(state, out / WEIGHTS_FILE, {"format": "pt", "family": family})
    path = out / WEIGHTS_FILE
    card = ModelCard(
        license="mit",
        library_name="zoo",
        pipeline_tag=pipeline_tag(fam.capabilities)
        if fam.kind == "generator"
        else "image-feature-extraction",
        tags=["zoo", family, data],
        datasets=[data],
        zoo=ZooSection(
            family=family,
            files={WEIGHTS_FILE: FileEntry(sha256=sha256_file(path), size=path.stat().st_size)},
            assets=assets,
            dataset=data,
            training=training,
            sampling=sampling or {},
            parameters=generator.parameter_count(),
        ),
    )
    _write_card(out, card)
    if sampling is None and fam.kind == "generator":
        from zoo.api import load
        from zoo.bench import measure_sampling

        model = load(str(out), device="cpu")
        # a first figure only (2 repeats keep training runs short); `zoo bench --write-card`
        # replaces it with the full warm-up and repeats
        rewrite_sampling(out, measure_sampling(model, repeats=2))
        write_samples(model)
    if sampling is None and fam.kind == "autoencoder":
        write_reconstructions(out)
    elif sampling is None and fam.can_reconstruct:
        write_reconstructions(out, name=RECONSTRUCTIONS)


def write_assets(generator: Any, out: Path) -> dict[str, Any]:
    """The network's own files (``write_files``: a tokenizer) written into ``out``, each
    moved into place whole; returns their card entries (name -> FileEntry), so a Hub pull
    fetches them with the weights and every load checks them."""
    import os
    import tempfile

    from zoo.registry.schemas import FileEntry
    from zoo.weights import sha256_file

    entries: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=out, prefix=".assets-") as tmp:
        generator.write_files(Path(tmp))
        for path in sorted(p for p in Path(tmp).rglob("*") if p.is_file()):
            name = path.relative_to(tmp).as_posix()
            entries[name] = FileEntry(sha256=sha256_file(path), size=path.stat().st_size)
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, out / name)
    return entries


def _write_card(out: Path, card: Any) -> None:
    from zoo.cardtext import render_body
    from zoo.images import atomic_write
    from zoo.registry.cards import render_card

    fam = get_registry().family(card.zoo.family)
    text = render_card(card, render_body(out.name, card, fam))
    atomic_write(out / "README.md", lambda f: f.write(text.encode()))


EXAMPLE_CONDITION = "example-input.png"  # written beside an image model's weights
RECONSTRUCTIONS = "reconstructions.png"  # test images over their reconstructions


def example_options(model: Any) -> dict[str, Any]:
    """Request options a model needs to draw anything (its bench and samples.png use them).

    The generator's ``example_request()`` (e.g. a prompt); a model that needs an image to
    draw (an image translator, an upsampler) gets the first condition of its dataset's test
    split, written into the model folder as example-input.png (so users have an input to
    try). A model that takes an image but draws without one (text-to-image with img2img and
    inpainting) is shown, and timed, drawing from its example request alone.
    """
    opts = dict(model.generator.example_request())
    if needs_image(model) and "image" not in opts:
        import os
        import tempfile

        from zoo.images import save_png, to_pil

        path = model.resolved.folder / EXAMPLE_CONDITION
        if not path.exists():
            if not os.access(path.parent, os.W_OK):  # e.g. a read-only Hub cache
                path = Path(tempfile.mkdtemp(prefix="zoo-example-")) / EXAMPLE_CONDITION
            save_png(to_pil(example_conditions(model, 1))[0], path)
        opts["image"] = str(path)
    return opts


def needs_image(model: Any) -> bool:
    """Whether a model draws nothing without an ``image`` condition: it says so
    (``required_conditions``), or its family takes no other condition to draw from."""
    if model.generator.condition_shape() is None:
        return False
    if "image" in model.generator.required_conditions():
        return True
    alone = {"unconditional", "class", "text"}
    return not alone & set(model.resolved.family.capabilities)


def example_conditions(model: Any, n: int) -> Any:
    """The first ``n`` condition images of the model's test split, at its condition size."""
    c, h, _ = model.generator.condition_shape()
    data = load_split(model.resolved.card.zoo.dataset, "test", h)
    key = next(k for k in ("condition", "image_a", "image") if k in data)
    images = data[key][:n]
    return images if images.shape[1] == c else images.mean(1, keepdim=True)


def write_samples(model: Any) -> None:
    """samples.png of a loaded generator: 16 draws (seed 0), or input/output pairs for a
    model that needs an image to draw (``needs_image``), in its folder (a text model that
    also takes an image, e.g. for img2img, shows its text-to-image draws)."""
    folder = model.resolved.folder
    if not needs_image(model):
        samples = model.sample(n=16, seed=0, **example_options(model))
        samples.save(folder / "samples.png", force=True)
    else:
        write_pairs(model, folder / "samples.png")


def write_reconstructions(folder: Path, n: int = 16, name: str = "samples.png") -> None:
    """A grid of test images over their reconstructions (an autoencoder's samples.png)."""
    import torch

    from zoo.api import load
    from zoo.images import grid, save_png, to_pil
    from zoo.reconstruct import reconstruct

    model = load(str(folder), device="cpu")
    size = int(model.generator.config.model_dump()["image_size"])  # autoencoders, not Generators
    images = load_split(model.resolved.card.zoo.dataset or "", "test", size)["image"][:n]
    out = reconstruct(model, images)["output"]
    save_png(to_pil(grid(torch.cat([images, out]), nrow=n))[0], folder / name)


def write_pairs(model: Any, path: Path, n: int = 8) -> None:
    """samples.png of an image-conditioned model: a row of inputs over a row of outputs."""
    import tempfile

    import torch

    from zoo.images import grid, save_png, to_pil

    conds = example_conditions(model, n)
    request = {k: v for k, v in model.generator.example_request().items() if k != "image"}
    outs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, cond in enumerate(conds):
            p = Path(tmp) / f"{i}.png"
            save_png(to_pil(cond[None])[0], p)
            outs.append(model.sample(n=1, seed=i, image=str(p), **request).images)
    out = torch.cat(outs)
    shown = conds.expand(-1, out.shape[1], -1, -1) if conds.shape[1] != out.shape[1] else conds
    if shown.shape[-2:] != out.shape[-2:]:
        shown = torch.nn.functional.interpolate(shown, size=out.shape[-2:], mode="nearest")
    save_png(to_pil(grid(torch.cat([shown, out]), nrow=len(conds)))[0], path)


def rewrite_sampling(folder: Path, sampling: dict[str, Any]) -> None:
    """Replace the sampling figures in a model folder's card and re-render it."""
    from zoo.registry.cards import read_card

    card, _ = read_card(folder)
    _write_card(
        folder, card.model_copy(update={"zoo": card.zoo.model_copy(update={"sampling": sampling})})
    )
