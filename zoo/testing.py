"""Contract checks that a plugin's own test suite runs on its families and models.

    from zoo.testing import check_family, check_model

    def test_family():
        check_family("checkers")          # builds the tiny preset, samples, saves, reloads

    def test_model():
        check_model("checkers-demo")      # card, weights and sampling of a shipped model

Each check is a plain function that raises ``AssertionError`` with a message
naming the family or model, the check and what was seen, so it works under
pytest, unittest or a bare script. The zoo's own suite runs the same checks
over every registered family and model (tests/test_contracts.py).

Checks run on the CPU against the process registry (``get_registry()``), that
is, the plugins installed in this environment. torch is imported inside the
functions, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from zoo.registry.contracts import Generator
    from zoo.registry.discovery import Registry
    from zoo.registry.schemas import FamilySpec

__all__ = ["check_family", "check_model"]

# Image k of a batch may differ from the same image drawn alone by at most this
# much (batched kernels may round differently); a real dependence is far larger.
BATCH_TOLERANCE = 1e-5
DIFFUSION_STEPS = 2  # enough to run every line of a diffusion sampler


class _Check:
    """Builds the failure messages of one check: 'check_family('x'): what: why'."""

    def __init__(self, subject: str) -> None:
        self.subject = subject

    def fail(self, message: str) -> AssertionError:
        return AssertionError(f"{self.subject}: {message}")

    def expect(self, ok: bool, message: str) -> None:
        if not ok:
            raise self.fail(message)

    @contextmanager
    def stage(self, what: str) -> Iterator[None]:
        """Turn any exception raised while doing ``what`` into a clear AssertionError."""
        try:
            yield
        except AssertionError:
            raise
        except Exception as err:
            first = (str(err).strip().splitlines() or [""])[0][:400]
            raise self.fail(f"{what} failed: {type(err).__name__}: {first}") from err


# -- shared pieces -----------------------------------------------------------------


def _request_options(
    check: _Check,
    capabilities: tuple[str, ...],
    num_classes: int | None,
    process: str,
    image: str | None = None,
    required: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """One set of request options per capability a generic check can exercise.

    ``image``: a condition PNG for image-conditioned families (see ``_condition_png``).
    ``required``: the generator's ``required_conditions()``, put into every set (an
    upsampler draws nothing without its image).
    """
    extra: dict[str, Any] = {"steps": DIFFUSION_STEPS} if process == "diffusion" else {}
    options: list[dict[str, Any]] = []
    if "unconditional" in capabilities:
        options.append(dict(extra))
    if "class" in capabilities:
        check.expect(
            num_classes is not None and num_classes >= 1,
            "declares the 'class' capability but its config has no num_classes >= 1",
        )
        options.append({**extra, "label": min(1, num_classes - 1)})  # type: ignore[operator]
    if "text" in capabilities:
        options.append({**extra, "prompt": "a red circle on a blue square"})
    if set(capabilities) & {"image", "control"}:
        check.expect(
            image is not None,
            "takes an input image but condition_shape() gives no (C, H, W) to draw one at",
        )
        options.append({**extra, "image": image})
    if not options:
        raise check.fail(f"the generic checks cannot draw requests for {list(capabilities)}")
    if "image" in required:
        check.expect(image is not None, "requires an input image but gives no condition_shape()")
        options = [{**o, "image": image} for o in options]
    return options


def _condition_png(check: _Check, generator: Any, folder: Path) -> str | None:
    """A random condition image of the generator's ``condition_shape()``, saved as PNG."""
    import torch

    from zoo.images import save_png, to_pil

    with check.stage("asking the generator for condition_shape()"):
        shape = generator.condition_shape()
    if shape is None:
        return None
    check.expect(
        len(shape) == 3 and all(isinstance(d, int) and d > 0 for d in shape),
        f"condition_shape() is {shape}, not (C, H, W)",
    )
    x = torch.rand(1, *shape, generator=torch.Generator().manual_seed(0))
    path = folder / "condition.png"
    save_png(to_pil(x)[0], path)
    return str(path)


def _check_autoencoder(check: _Check, config: Any, network: Any) -> Any:
    """encode/decode/reconstruct of random images: shapes, range, determinism, per image."""
    import torch

    from zoo.registry.contracts import Autoencoder

    check.expect(
        isinstance(network, Autoencoder),
        f"{type(network).__name__} is registered as reconstructing but is not a "
        "zoo.registry.contracts.Autoencoder",
    )
    x = _reference_input(check, config, 3)
    with check.stage("reconstructing 3 random images"), torch.inference_mode():
        latents = network.encode(x)
        recon = network.decode(latents)
        again = network.reconstruct(x)
        shape = tuple(network.latent_shape())
    check.expect(
        tuple(latents.shape) == (3, *shape),
        f"encode gave latents of shape {tuple(latents.shape)}; latent_shape() says {shape}",
    )
    _check_images(check, recon, 3, tuple(x.shape[1:]), "decode(encode(images))")
    _same(
        check, recon, again, "reconstruct() differs from decode(encode()) or is not deterministic"
    )
    for i in range(3):
        with check.stage(f"reconstructing image {i} alone"), torch.inference_mode():
            alone = network.reconstruct(x[i : i + 1])
        _same(
            check,
            recon[i],
            alone[0],
            f"the reconstruction of image {i} depends on the batch",
            BATCH_TOLERANCE,
        )
    with check.stage("decoding random_latents(2, generator)"), torch.inference_mode():
        z = network.random_latents(2, torch.Generator().manual_seed(0))
        drawn = network.decode(z)
    _check_images(check, drawn, 2, tuple(x.shape[1:]), "decode(random_latents(2))")
    return x, recon


def _check_images(
    check: _Check, images: Any, n: int, shape: tuple[int, ...], where: str
) -> torch.Tensor:
    import torch

    check.expect(
        isinstance(images, torch.Tensor),
        f"{where} returned {type(images).__name__}, not a tensor",
    )
    check.expect(
        tuple(images.shape) == (n, *shape),
        f"{where} gave images of shape {tuple(images.shape)}; expected {(n, *shape)}"
        " = (n, *image_shape)",
    )
    check.expect(images.is_floating_point(), f"{where} gave {images.dtype} images, not floats")
    check.expect(images.device.type == "cpu", f"{where} returned images on {images.device}")
    bad = int((~torch.isfinite(images)).sum())
    check.expect(bad == 0, f"{where} gave {bad} NaN/Inf values")
    lo, hi = float(images.min()), float(images.max())
    check.expect(
        0.0 <= lo and hi <= 1.0, f"{where} gave values in [{lo:.4g}, {hi:.4g}], not [0, 1]"
    )
    return images


def _same(check: _Check, a: torch.Tensor, b: torch.Tensor, what: str, atol: float = 0.0) -> None:
    diff = float((a.float() - b.float()).abs().max()) if a.shape == b.shape else math.inf
    check.expect(diff <= atol, f"{what} (largest difference {diff:.3g}, allowed {atol:g})")


def _pick_sampler(check: _Check, reg: Registry, generator: Generator, process: str) -> str:
    with check.stage("asking the generator for its default sampler"):
        preferred = generator.default_sampler()
    if preferred in reg.samplers and reg.samplers[preferred].process == process:
        return preferred
    others = sorted(name for name, s in reg.samplers.items() if s.process == process)
    check.expect(
        bool(others),
        f"no sampler is registered for the '{process}' process (is the plugin that provides "
        "it installed and loading? see `zoo plugins`)",
    )
    return others[0]


def _check_sampling(
    check: _Check,
    draw: Any,
    options: dict[str, Any],
    n: int,
    seed: int,
    shape: tuple[int, ...],
    seed_varies: bool = True,
) -> torch.Tensor:
    """Shape, range, determinism and batch independence of ``draw(n, seed, **options)``."""
    where = f"sampling n={n}, seed={seed}, {options or 'no conditions'}"
    with check.stage(where):
        images = draw(n, seed, options)
    _check_images(check, images, n, shape, where)
    with check.stage(where + " again"):
        again = draw(n, seed, options)
    _same(check, images, again, f"{where} is not deterministic: two draws differ")
    for i in range(n):
        with check.stage(f"sampling image {i} alone with seed {seed + i}"):
            alone = draw(1, seed + i, options)
        _check_images(check, alone, 1, shape, f"sampling seed {seed + i} alone")
        _same(
            check,
            images[i],
            alone[0],
            f"image {i} of a batch with seed {seed} differs from the image drawn alone with "
            f"seed {seed + i}; image i must depend only on seed + i, never on the batch",
            BATCH_TOLERANCE,
        )
    if n > 1 and seed_varies:
        check.expect(
            any(not images[0].equal(images[i]) for i in range(1, n)),
            f"{where}: all {n} images are identical; the seed must change the image",
        )
    return images


def _check_plugin_is_light(check: _Check, reg: Registry, plugin: str) -> None:
    """Importing the plugin's entry-point module must not import torch (lazy registration)."""
    info = reg.plugins.get(plugin)
    if info is None or not info.distribution:
        return  # registered in-process, not through an entry point
    module = info.module.partition(":")[0]
    code = f"import sys, {module}; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    check.expect(
        proc.returncode == 0,
        f"importing plugin module {module} failed: {proc.stderr.strip()[-300:]}",
    )
    check.expect(
        proc.stdout.strip() == "False",
        f"importing plugin module {module} imports torch; register families by import path "
        "and import torch only in model.py / train.py (keeps `zoo list` fast)",
    )


# -- families ----------------------------------------------------------------------


def check_family(name: str, preset: str = "tiny", *, n: int = 3, seed: int = 5) -> None:
    """Check that family ``name`` keeps the zoo's contracts, at preset ``preset``.

    Checks, in order: the family is registered and its plugin loaded; its class
    matches the registered spec (family, process, capabilities); the config has
    the preset, builds and survives JSON; importing the plugin does not import
    torch. Then, for a generator family: sampling through the registered
    sampler for its process gives (n, C, H, W) finite images in [0, 1],
    deterministically, image i equal to the image drawn alone with seed + i; a
    model folder written by ``zoo.train.write_model_folder`` loads with
    ``zoo.load`` and gives the same images. For a reference family (networks
    the metrics use): features (and logits) of random images have the declared
    shape, are finite, deterministic and per image, and survive the same folder
    round trip. If the family has a recipe, two steps on random data give
    finite losses.

    Raises:
        AssertionError: naming the family and the contract it breaks.
    """
    from zoo.registry.contracts import Generator, Network, ReferenceNetwork
    from zoo.registry.discovery import get_registry

    check = _Check(f"check_family({name!r})")
    reg = get_registry()
    spec = _registered_family(check, reg, name)
    kind = getattr(spec, "kind", "generator")
    base = {"reference": ReferenceNetwork, "autoencoder": Network}.get(kind, Generator)
    cls, config, network = _build(check, reg, spec, base, preset)
    if kind == "reference":
        _check_reference(check, name, config, network)
    elif kind == "autoencoder":
        x, want = _check_autoencoder(check, config, network)

        def reload(model: Any) -> None:
            import torch

            with check.stage("reconstructing with the loaded network"), torch.inference_mode():
                got = model.network.reconstruct(x)
            _same(check, got, want, f"reconstructions of zoo.load(folder) differ{LOST}")

        _check_round_trip(check, name, config, network, reload)
    else:
        if spec.reconstructs:
            _check_autoencoder(check, config, network)
        _check_generator(check, reg, spec, config, network, n, seed)
    if spec.trainer is not None:
        _check_recipe(check, spec.trainer, cls, config)


def _build(check: _Check, reg: Registry, spec: FamilySpec, base: type, preset: str) -> Any:
    """Import the family's class, check it against the spec, build it at ``preset``."""
    import torch

    from zoo.registry.contracts import FamilyConfig
    from zoo.registry.discovery import load_object

    with check.stage(f"importing {spec.generator}"):
        cls = load_object(spec.generator)
    check.expect(
        isinstance(cls, type) and issubclass(cls, base),
        f"{spec.generator} is not a zoo.registry.contracts.{base.__name__} subclass",
    )
    check.expect(
        getattr(cls, "family", None) == spec.name,
        f"{cls.__name__}.family is {getattr(cls, 'family', None)!r}, not {spec.name!r}",
    )
    if spec.process is not None:
        check.expect(
            getattr(cls, "process", None) == spec.process,
            f"{cls.__name__}.process is {getattr(cls, 'process', None)!r} but the family "
            f"is registered as {spec.process!r}",
        )
        caps = tuple(getattr(cls, "capabilities", ()))
        check.expect(
            set(caps) == set(spec.capabilities),
            f"{cls.__name__}.capabilities are {list(caps)} but the family is registered with "
            f"{list(spec.capabilities)}",
        )
    config_class = getattr(cls, "config_class", None)
    if not (isinstance(config_class, type) and issubclass(config_class, FamilyConfig)):
        raise check.fail(f"{cls.__name__}.config_class is not a FamilyConfig subclass")
    presets = getattr(config_class, "PRESETS", {})
    check.expect(
        preset in presets,
        f"{config_class.__name__} has no {preset!r} preset (it has {sorted(presets) or 'none'});"
        f" add PRESETS[{preset!r}] with a few channels at 8x8 so that tests stay fast",
    )
    with check.stage(f"building {config_class.__name__} from preset {preset!r}"):
        config = config_class.preset(preset)
    with check.stage("round-tripping the config through JSON (config.json)"):
        again = config_class.model_validate_json(config.model_dump_json())
    check.expect(again == config, "the config changes when written to JSON and read back")

    _check_plugin_is_light(check, reg, spec.plugin)

    torch.manual_seed(0)
    with check.stage(f"building {cls.__name__} from preset {preset!r}"):
        network = cls(config).to("cpu").eval()
        nets = network.networks()
    with check.stage("loading the components it names (component_refs)"):
        from zoo.api import attach_components

        attach_components(network, None, device="cpu")
    check.expect(
        isinstance(nets, dict) and len(nets) > 0, "networks() must return a non-empty dict"
    )
    check.expect(
        all(isinstance(m, torch.nn.Module) for m in nets.values()),
        "networks() must map part names to torch.nn.Module",
    )
    check.expect(network.parameter_count() > 0, "the networks have no parameters")
    return cls, config, network


def _check_generator(
    check: _Check,
    reg: Registry,
    spec: FamilySpec,
    config: Any,
    generator: Generator,
    n: int,
    seed: int,
) -> None:
    import torch

    from zoo.api import make_request
    from zoo.catalog import options_class
    from zoo.conditions import decode
    from zoo.registry.contracts import Draw
    from zoo.registry.discovery import load_object
    from zoo.registry.options import split_options
    from zoo.registry.seeds import image_seeds

    with check.stage("reading image_shape"):
        shape = tuple(generator.image_shape)
    check.expect(
        len(shape) == 3 and all(isinstance(d, int) and d > 0 for d in shape),
        f"image_shape is {shape}, not (C, H, W)",
    )
    process = spec.process or ""
    caps = tuple(spec.capabilities)
    sampler_name = _pick_sampler(check, reg, generator, process)
    with check.stage(f"loading sampler {sampler_name!r}"):
        sampler = load_object(reg.samplers[sampler_name].sampler)()
    tmp = tempfile.TemporaryDirectory(prefix=f"zoo-check-{spec.name}-")
    image = _condition_png(check, generator, Path(tmp.name))
    with check.stage("asking the generator for required_conditions()"):
        required = tuple(generator.required_conditions())
    options = _request_options(check, caps, generator.num_classes, process, image, required)

    sampler_spec = reg.samplers[sampler_name]
    with check.stage("loading the options classes"):
        classes = {
            "family": options_class(spec.options, f"family '{spec.name}'"),
            "sampler": options_class(sampler_spec.options, f"sampler '{sampler_name}'"),
        }
    check.expect(
        type(generator).options_class is classes["family"],
        f"{type(generator).__name__}.options_class is not the class FamilySpec.options names "
        f"({spec.options})",
    )

    def draw_direct(k: int, s: int, opts: dict[str, Any]) -> torch.Tensor:
        request = make_request(n=k, seed=s, sampler=sampler_name, **opts)
        request.check_against(
            spec.name, process, caps, generator.num_classes, spec.kind, sampler_spec
        )
        split = split_options(request.options, classes, spec.name)
        draw = Draw(
            seeds=tuple(image_seeds(s, k)),
            conditions=decode(request, generator, spec.name),
            options=split["family"],
            sampler_options=split["sampler"],
            device=torch.device("cpu"),
            batch_size=request.batch_size,
            steps=request.steps,
            guidance=request.guidance,
        )
        return sampler.sample(generator, draw)

    varies = generator.seed_varies
    direct = [_check_sampling(check, draw_direct, o, n, seed, shape, varies) for o in options]

    def reload(model: Any) -> None:
        for opts, want in zip(options, direct, strict=True):
            where = f"zoo.load(folder).sample(n={n}, seed={seed}, {opts or 'no conditions'})"
            with check.stage(where):
                samples = model.sample(n=n, seed=seed, sampler=sampler_name, **opts)
            got = _check_images(check, samples.images, n, shape, where)
            _same(check, got, want, f"{where} differs from the generator that was saved{LOST}")
            seeds = [r.get("seed") for r in samples.records]
            check.expect(
                seeds == [seed + i for i in range(n)],
                f"{where}: records carry seeds {seeds}, expected {seed}..{seed + n - 1}",
            )

    _check_round_trip(check, spec.name, config, generator, reload)
    tmp.cleanup()


LOST = ": weights or config are lost on the way through config.json / model.safetensors"


def _reference_input(check: _Check, config: Any, batch: int) -> torch.Tensor:
    import torch

    c, s = getattr(config, "channels", None), getattr(config, "image_size", None)
    if not (isinstance(c, int) and isinstance(s, int)):
        raise check.fail(
            "the config needs integer 'channels' and 'image_size' (the size of its images)"
        )
    return torch.rand(batch, c, s, s, generator=torch.Generator().manual_seed(0))


def _check_loaded_reference(check: _Check, config: Any, network: Any) -> None:
    """A loaded reference network gives finite, deterministic features."""
    import torch

    x = _reference_input(check, config, 2)
    with check.stage("features of 2 random images"), torch.inference_mode():
        a, b = network.features(x), network.features(x)
    check.expect(
        tuple(a.shape) == (2, network.num_features),
        f"features(images) has shape {tuple(a.shape)}; expected (2, {network.num_features})",
    )
    check.expect(bool(torch.isfinite(a).all()), "features of random images hold NaN/Inf")
    _same(check, a, b, "features are not deterministic")


def _check_reference(check: _Check, name: str, config: Any, network: Any) -> None:
    """features/logits of random images: shape, finite, deterministic, per image; round trip."""
    import torch

    x = _reference_input(check, config, 3)

    def outputs(net: Any, images: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            out = {"features": net.features(images)}
            logits = net.logits(images)
        if logits is not None:
            out["logits"] = logits
        return out

    with check.stage("features/logits of 3 random images"):
        want = outputs(network, x)
        num_features = network.num_features
    feats = want["features"]
    check.expect(
        tuple(feats.shape) == (3, num_features),
        f"features(images) has shape {tuple(feats.shape)}; expected (3, num_features="
        f"{num_features})",
    )
    for key, value in want.items():
        check.expect(value.ndim == 2 and value.shape[0] == 3, f"{key} must be (B, K)")
        check.expect(bool(torch.isfinite(value).all()), f"{key} of random images hold NaN/Inf")
    with check.stage("features/logits again"):
        again = outputs(network, x)
    for key in want:
        _same(check, want[key], again[key], f"{key} are not deterministic")
    for i in range(3):
        with check.stage(f"features/logits of image {i} alone"):
            alone = outputs(network, x[i : i + 1])
        for key in want:
            _same(
                check,
                want[key][i],
                alone[key][0],
                f"{key} of image {i} depend on the batch (use eval-mode statistics)",
                BATCH_TOLERANCE,
            )

    def reload(model: Any) -> None:
        with check.stage("features/logits of the loaded network"):
            got = outputs(model.network, x)
        for key in want:
            _same(check, got[key], want[key], f"{key} of zoo.load(folder).network differ{LOST}")

    _check_round_trip(check, name, config, network, reload)


def _registered_family(check: _Check, reg: Registry, name: str) -> FamilySpec:
    if name in reg.families:
        return reg.families[name]
    broken = [
        f"{p.name}: {'; '.join(p.errors)}" for p in reg.plugins.values() if p.status == "broken"
    ]
    hint = f"; broken plugins: {' | '.join(broken)}" if broken else ""
    raise check.fail(
        f"no family {name!r} is registered (families: {', '.join(sorted(reg.families))}); "
        f"is the plugin installed (`pip install -e .`) and its entry point in the "
        f"'zoo.plugins' group?{hint}"
    )


def _check_round_trip(check: _Check, name: str, config: Any, network: Any, compare: Any) -> None:
    """write_model_folder -> read the card -> zoo.load -> ``compare(model)``."""
    import zoo
    from zoo.registry.cards import parse_card_text, read_card, read_config, render_card
    from zoo.train import write_model_folder

    with tempfile.TemporaryDirectory(prefix=f"zoo-check-{name}-") as tmp:
        folder = Path(tmp) / f"{name}-check"
        training = {"command": "zoo.testing.check_family", "steps": 0}
        with check.stage("writing a model folder with zoo.train.write_model_folder"):
            write_model_folder(folder, name, "none", config, network, training, sampling={})
        with check.stage("reading the written card"):
            card, body = read_card(folder)
            config_data = read_config(folder)
        check.expect(card.zoo.family == name, f"the written card names family {card.zoo.family!r}")
        check.expect(
            card.zoo.parameters == network.parameter_count(),
            f"the card records {card.zoo.parameters} parameters, the networks have "
            f"{network.parameter_count()}",
        )
        check.expect(
            type(config)(**config_data) == config, "config.json does not rebuild the same config"
        )
        with check.stage("rendering the card and parsing it again"):
            reparsed, _ = parse_card_text(render_card(card, body), str(folder / "README.md"))
        check.expect(reparsed == card, "the card changes when rendered and parsed again")
        with check.stage(f"loading the written folder with zoo.load({str(folder)!r})"):
            model = zoo.load(str(folder), device="cpu")
        compare(model)


def _check_recipe(check: _Check, trainer: str, cls: Any, config: Any) -> None:
    """Two recipe steps on a random batch (images, captions, and labels if the config has classes)."""
    import torch

    from zoo.registry.contracts import Recipe
    from zoo.registry.discovery import load_object

    with check.stage(f"importing the recipe {trainer}"):
        recipe_cls = load_object(trainer)
    check.expect(
        isinstance(recipe_cls, type) and issubclass(recipe_cls, Recipe),
        f"{trainer} is not a zoo.registry.contracts.Recipe subclass",
    )
    torch.manual_seed(0)
    device = torch.device("cpu")
    with check.stage(f"building {recipe_cls.__name__}"):
        from zoo.api import attach_components

        network = cls(config).to(device)
        attach_components(network, None, device="cpu")
        recipe = recipe_cls(network, config, device)
        trainable = recipe.trainable()
    check.expect(
        isinstance(trainable, dict)
        and all(isinstance(m, torch.nn.Module) for m in trainable.values()),
        "Recipe.trainable() must map names to torch.nn.Module",
    )
    b = 4
    # captions ride along for text families; recipes ignore keys they do not use
    batch: dict[str, Any] = {
        "image": _reference_input(check, config, b),
        "caption": ["a small red circle on the left", "a blue square", "", "a yellow triangle"],
    }
    classes = getattr(config, "num_classes", None)
    if isinstance(classes, int) and classes > 0:
        batch["label"] = torch.randint(classes, (b,), generator=torch.Generator().manual_seed(1))
    shape = network.condition_shape() if hasattr(network, "condition_shape") else None
    if shape is not None:  # paired (condition, image) and unpaired (image_a, image_b) data
        g = torch.Generator().manual_seed(2)
        batch["condition"] = torch.rand(b, *shape, generator=g)
        batch["image_a"], batch["image_b"] = (
            batch["image"],
            torch.rand(batch["image"].shape, generator=g),
        )
    for step in range(2):
        for net in trainable.values():
            net.train()
        with check.stage(f"recipe step {step} on a random batch of {b}"):
            losses = recipe.step(batch)
        check.expect(
            isinstance(losses, dict) and len(losses) > 0,
            f"Recipe.step returned {type(losses).__name__}; expected a non-empty dict of floats",
        )
        for key, value in losses.items():
            check.expect(
                isinstance(value, (int, float)) and not isinstance(value, bool),
                f"loss {key!r} is a {type(value).__name__}; return plain floats (loss.item())",
            )
            check.expect(math.isfinite(value), f"loss {key!r} is {value} at step {step}")
    with check.stage("Recipe.recipe_summary() as JSON (it goes into the card)"):
        json.dumps(recipe.recipe_summary())


# -- models ------------------------------------------------------------------------


def check_model(model_id: str, *, n: int = 2, seed: int = 0) -> None:
    """Check a registered model (or model folder): card, weights and sampling.

    Checks: the card validates and names a registered family; config.json
    builds the family's config; each weight file matches the card's size and
    sha256, is safetensors, holds no NaN/Inf and fits the network exactly (no
    missing or unexpected keys); ``zoo.load(model_id).sample`` gives (n, C, H,
    W) finite images in [0, 1], deterministically, image i equal to the image
    drawn alone with seed + i. For a reference network (a metrics model) the
    last step is instead: features of random images are finite and deterministic.

    Raises:
        AssertionError: naming the model and the contract it breaks.
    """
    import zoo
    from zoo.catalog import resolve
    from zoo.registry.cards import parse_card_text, render_card
    from zoo.registry.discovery import load_object
    from zoo.registry.hookspecs import API_VERSION
    from zoo.weights import load_weights, refuse_pickles, scan_values, verify_files

    check = _Check(f"check_model({model_id!r})")
    with check.stage("resolving the model and validating its card"):
        res = resolve(model_id)
    card = res.card
    check.expect(
        card.zoo.api <= API_VERSION,
        f"the card asks for zoo API v{card.zoo.api}; this zoo provides v{API_VERSION}",
    )
    with check.stage("rendering the card and parsing it again"):
        reparsed, _ = parse_card_text(render_card(card, res.body), str(res.folder / "README.md"))
    check.expect(
        reparsed.model_dump() == card.model_dump(),
        "the card's data changes when rendered and parsed again",
    )
    with check.stage(f"importing the network class {res.family.generator}"):
        gen_cls = load_object(res.family.generator)
    with check.stage("building the network from config.json"):
        config = gen_cls.config_class(**res.config)
        generator = gen_cls(config)
    with check.stage("verifying the weight files against the card"):
        refuse_pickles(res.folder)
        verify_files(res.folder, card.zoo.files, res.name)
        verify_files(res.folder, card.zoo.assets, res.name, kind="file")
    state: dict[str, Any] = {}
    for fname in sorted(card.zoo.files):
        path = res.folder / fname
        with check.stage(f"loading {fname}"):
            state.update(load_weights(path))
            counts = scan_values(path)
        bad = {k: v for k, v in counts.items() if v != (0, 0)}
        check.expect(not bad, f"{fname} holds NaN/Inf values (name: (nan, inf)): {bad}")
    expected = set(generator.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    check.expect(not missing, f"the weights lack {len(missing)} keys: {missing[:5]}")
    check.expect(
        not unexpected, f"the weights hold {len(unexpected)} unexpected keys: {unexpected[:5]}"
    )
    if card.zoo.parameters is not None:
        check.expect(
            card.zoo.parameters == generator.parameter_count(),
            f"the card says {card.zoo.parameters} parameters, the network has "
            f"{generator.parameter_count()}",
        )

    with check.stage(f"zoo.load({model_id!r}, device='cpu')"):
        model = zoo.load(model_id, device="cpu")
    kind = getattr(res.family, "kind", "generator")
    if kind == "reference":
        _check_loaded_reference(check, config, model.network)
        return
    if res.family.can_reconstruct:
        _check_autoencoder(check, config, model.network)
    if kind == "autoencoder":
        return
    shape = tuple(model.generator.image_shape)
    tmp = tempfile.TemporaryDirectory(prefix="zoo-check-model-")
    image = _condition_png(check, model.generator, Path(tmp.name))
    with check.stage("asking the generator for required_conditions()"):
        required = tuple(model.generator.required_conditions())
    options = _request_options(
        check,
        tuple(res.family.capabilities),
        res.num_classes,
        res.family.process or "",
        image,
        required,
    )

    def draw(k: int, s: int, opts: dict[str, Any]) -> Any:
        return model.sample(n=k, seed=s, **opts).images

    for opts in options:
        _check_sampling(check, draw, opts, n, seed, shape, model.generator.seed_varies)
    tmp.cleanup()
