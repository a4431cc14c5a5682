"""The Python API: ``zoo.load(name)`` gives a Model; ``model.sample(...)`` gives Samples.

model = zoo.load("cgan-digits")
samples = model.sample(n=8, seed=0, label=7)
samples.images        # (8, 1, 16, 16) float in [0, 1]
samples.save("sevens.png")      # a grid; a folder path writes one PNG per image
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo import __version__
from zoo.cascade import Tally, run_stage, stage_model
from zoo.catalog import Resolved, option_names, resolve
from zoo.device import manager
from zoo.registry.discovery import load_object
from zoo.registry.errors import NumericsError, RequestError, ZooError
from zoo.registry.schemas import SampleRequest
from zoo.registry.seeds import image_seeds

if TYPE_CHECKING:
    import torch

    from zoo.registry.contracts import Conditions, Generator
    from zoo.registry.options import Options


@dataclass
class Samples:
    """Images in [0, 1] with the parameters that reproduce them.

    Attributes:
        images: (N, C, H, W) float tensor in [0, 1] on the CPU.
        records: one dict per image, each enough to draw that image alone.
        request: the parameters of the whole request (for grids).
    """

    images: torch.Tensor
    records: list[dict[str, Any]]
    request: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)

    def pil(self) -> list[Any]:
        from zoo.images import to_pil

        return to_pil(self.images)

    def save(self, out: str | Path, *, nrow: int | None = None, force: bool = False) -> list[Path]:
        """Write a grid (``out`` ends in .png) or a folder of one PNG per image (any other
        path, or one ending in a slash).

        Returns the written paths. Existing files are kept unless ``force``.
        """
        from zoo.images import grid, output_kind, save_png, to_pil

        kind = output_kind(out)
        out = Path(out)
        if kind == "grid":
            if out.exists() and not force:
                raise RequestError(f"{out} exists; choose another path or pass --force")
            if len(self) == 1:  # one image is written as itself, not as a 1-image grid
                save_png(to_pil(self.images)[0], out, self.records[0])
            else:
                save_png(to_pil(grid(self.images, nrow))[0], out, self.request)
            return [out]
        paths = [out / f"{r['seed']:06d}.png" for r in self.records]
        clash = [p for p in paths if p.exists()]
        if clash and not force:
            raise RequestError(f"{clash[0]} exists; choose another folder or pass --force")
        for img, rec, path in zip(to_pil(self.images), self.records, paths, strict=True):
            save_png(img, path, rec)
        return paths


class Model:
    """A loaded model: its card, its generator on a device, and ``sample``."""

    def __init__(
        self,
        resolved: Resolved,
        generator: Generator,
        device: torch.device,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.resolved = resolved
        self.generator = generator
        self.device = device
        self._dtype = dtype

    @property
    def dtype(self) -> str:
        """The dtype the model was loaded with ('float32', 'bfloat16', ...): the one given
        to ``load``, else that of the generator's first floating-point weight."""
        if self._dtype is None:
            import torch

            floats = (
                p.dtype
                for net in self.generator.networks().values()
                for p in net.parameters()
                if p.is_floating_point()
            )
            self._dtype = next(floats, torch.float32)
        return str(self._dtype).removeprefix("torch.")

    @property
    def id(self) -> str:
        return self.resolved.name

    @property
    def card(self) -> Any:
        return self.resolved.card

    @property
    def network(self) -> Any:
        """The loaded network (a Generator, or a ReferenceNetwork for metric models)."""
        return self.generator

    def __repr__(self) -> str:
        r = self.resolved
        return f"Model({r.name!r}, family={r.family.name!r}, device={str(self.device)!r})"

    def sample(self, n: int = 1, seed: int = 0, **kwargs: Any) -> Samples:
        """Draw ``n`` images; image i is seeded ``seed + i``.

        Keyword arguments are the shared fields of ``SampleRequest`` (prompt, label, image,
        mask, steps, sampler, guidance, batch_size, ...) and the options the model's family
        and sampler declare (truncation, direction, mix_seed, stage, temperature, rerank,
        ...: ``zoo info MODEL`` lists them), or those options as ``options={...}``.
        """
        try:
            return self.run(make_request(n=n, seed=seed, **kwargs))
        except ZooError as err:
            names = REQUEST_FIELDS | set(option_names(self.resolved, kwargs.get("sampler")))
            err.args = (keyword_message(str(err), names),)
            raise

    def run(
        self,
        request: SampleRequest,
        seeds: list[int] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Samples:
        """Draw the images of ``request`` (or only those of ``seeds``, a subset of its seeds).

        ``progress`` is called with (done, total) as the sampler goes: denoising steps,
        tokens or batches, whichever its process counts; a cascade's later stages count too
        (``zoo.cascade.Tally``).
        """
        from zoo.conditions import decode

        r = self.resolved
        r.check(request)
        options = r.options(request)
        conditions = decode(request, self.generator, r.name)
        seeds = image_seeds(request.seed, request.n) if seeds is None else list(seeds)
        images, stages = self.draw(
            conditions,
            seeds,
            options=options["family"],
            sampler=request.sampler,
            sampler_options=options["sampler"],
            steps=request.steps,
            guidance=request.guidance,
            batch_size=request.batch_size,
            tally=Tally(progress),
        )
        labels = self.generator.drawn_labels(conditions, seeds)
        return Samples(
            images=images,
            records=self.records(request, seeds, labels, stages),
            request=self.whole(request, stages),
        )

    def draw(
        self,
        conditions: Conditions,
        seeds: list[int],
        *,
        options: Options,
        sampler: str | None,
        sampler_options: Options,
        steps: int | None,
        guidance: float | None,
        batch_size: int,
        tally: Tally,
        ahead: Callable[[int], int] = lambda total: 0,
    ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """Draw decoded ``conditions`` with ``seeds``: this model's images, then those of the
        stages its generator's ``next_stage`` asks for (a cascade, ``zoo.cascade``).

        Returns (images (N, C, H, W) in [0, 1], one record per later stage: its role, model,
        revision and sampler). ``ahead(total)``: progress units reckoned after this draw.
        """
        import torch

        from zoo.registry.contracts import Draw

        r = self.resolved
        spec = r.sampler_spec(sampler)
        if spec is None:
            raise RequestError(f"model '{r.name}' draws no images")
        sampler_class = load_object(spec.sampler)
        if not isinstance(self.generator, sampler_class.generator_class):
            raise RequestError(
                f"sampler '{spec.name}' cannot drive '{r.name}' (a {type(self.generator).__name__})"
            )
        stage = self.generator.next_stage(conditions, options)
        own = conditions if stage is None else stage.conditions
        self.generator.shape_for(own)
        nxt = None if stage is None else stage_model(self, stage.role)
        draw = Draw(
            seeds=tuple(seeds),
            conditions=own,
            options=options,
            sampler_options=sampler_options,
            device=self.device,
            batch_size=batch_size,
            steps=steps,
            guidance=guidance,
            progress=tally.part(lambda t: ahead(t) + (t if stage is not None else 0)),
        )
        images = sampler_class().sample(self.generator, draw)
        tally.finish()
        if not torch.isfinite(images).all():
            raise NumericsError(f"model '{r.name}' produced NaN/Inf values (try --dtype float32)")
        if stage is None or nxt is None:
            return images, []
        return run_stage(self, stage, nxt, images, seeds, sampler_options, tally)

    def reconstruct(
        self, images: Any, *, noise: float = 0.0, seed: int = 0
    ) -> dict[str, torch.Tensor]:
        """Encode and decode ``images`` ((N, C, S, S) in [0, 1], or paths of image files).

        Returns {"input", "noisy", "output"}; ``noise`` > 0 adds seeded Gaussian noise
        first (what a denoising autoencoder removes).
        """
        from zoo.reconstruct import load_inputs, reconstruct

        if isinstance(images, (str, Path)) or (
            isinstance(images, list) and images and isinstance(images[0], (str, Path))
        ):
            images = load_inputs(self, [images] if isinstance(images, (str, Path)) else images)
        return reconstruct(self, images, noise=noise, seed=seed)

    def interpolate(
        self, *, images: Any = None, seeds: list[int] | None = None, steps: int = 8
    ) -> torch.Tensor:
        """Decodes along the line between two latents: of two images (tensor or paths) or seeds."""
        from zoo.reconstruct import interpolate, load_inputs

        if isinstance(images, list) and images and isinstance(images[0], (str, Path)):
            images = load_inputs(self, images)
        return interpolate(self, images=images, seeds=seeds, steps=steps)

    def sampler_name(self, request: SampleRequest) -> str:
        return request.sampler or self.resolved.default_sampler() or ""

    def whole(
        self, request: SampleRequest, stages: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The parameters of a whole request (what a grid PNG carries); ``stages``: the later
        models of a cascade that drew it (provenance: ``--from`` replays the request)."""
        r = self.resolved
        asked = request.model_dump(
            mode="json", exclude_none=True, exclude={"n", "seed", "batch_size", "sampler"}
        )
        # options as validated (so --x 3 and -O x=3 record the same 3.0), only those given
        options = {
            k: v
            for opts in r.options(request).values()
            for k, v in opts.model_dump(mode="json").items()
            if k in opts.model_fields_set or k in opts.always_recorded
        }
        asked["options"] = options
        for key in ("options", "control"):  # recorded only when given
            if not asked.get(key):
                asked.pop(key, None)
        return {
            "model": r.name,
            "revision": r.revision,
            "family": r.family.name,
            "dtype": self.dtype,  # another precision draws other pixels
            "sampler": self.sampler_name(request),
            "zoo": __version__,
            **asked,
            **({"stages": stages} if stages else {}),
            "seed": request.seed,
            "n": request.n,
        }

    def records(
        self,
        request: SampleRequest,
        seeds: list[int],
        labels: list[int] | None = None,
        stages: list[dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """Per-image parameters: each redraws its image alone (n=1, its own seed).

        ``labels``: the class each image drew when the request named none; ``stages``: as
        for ``whole``.
        """
        base = self.whole(request, stages)
        out = []
        for k, s in enumerate(seeds):
            rec = {**base, "seed": s, "n": 1}
            if labels is not None and request.label is None:
                rec["drawn_label"] = int(labels[k])
            out.append(rec)
        return out


REQUEST_FIELDS = frozenset(SampleRequest.model_fields) - {"options"}


def make_request(**kwargs: Any) -> SampleRequest:
    """A SampleRequest from keyword arguments: shared fields by name, the rest as options.

    ``options={...}`` may carry options too; one given both ways is refused.
    """
    from pydantic import ValidationError

    options = dict(kwargs.pop("options", None) or {})
    for key in [k for k in kwargs if k not in REQUEST_FIELDS]:
        if key in options:
            raise RequestError(f"option '{key}' is given twice (as a keyword and in options)")
        options[key] = kwargs.pop(key)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        return SampleRequest(**kwargs, options=options)
    except ValidationError as err:
        raise RequestError(format_validation(err)) from None


_FLAG = re.compile(r"--([a-z][a-z0-9-]*)(?: ('[^']*'|\"[^\"]*\"|-?\d+(?:\.\d+)?)(?![\w.]))?")


def keyword_message(message: str, names: Iterable[str]) -> str:
    """An error as the keyword API says it: the CLI's ``--mix-seed 3`` becomes ``mix_seed=3``
    and a bare ``--prompt`` becomes ``prompt=...``, for the flags of ``names`` only.

    Errors are written for the CLI, which shows them as they are; ``Model.sample`` speaks
    of its keyword arguments instead.
    """
    known = set(names)

    def keyword(m: re.Match[str]) -> str:
        name = m.group(1).replace("-", "_")
        if name not in known:
            return m.group(0)
        return f"{name}={m.group(2) or '...'}"

    return _FLAG.sub(keyword, message)


def format_validation(err: Any, what: str = "invalid request") -> str:
    """One line from a pydantic ValidationError: '<what>: field: reason'."""
    parts = []
    for e in err.errors()[:3]:
        loc = ".".join(str(p) for p in e["loc"]) or "value"
        parts.append(f"{loc}: {e['msg']}")
    return f"{what}: " + "; ".join(parts)


def build_generator(resolved: Resolved, dtype: torch.dtype | None = None) -> Generator:
    """Build the family's network from config.json and load its verified weights.

    The network's random initialisation (overwritten by the weights) runs on a fork of
    torch's global RNG, so loading a model never moves a caller's random numbers.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        return _build_generator(resolved, dtype)


def _build_generator(resolved: Resolved, dtype: torch.dtype | None) -> Generator:
    import torch
    from pydantic import ValidationError

    from zoo.registry.errors import CardError
    from zoo.weights import (
        apply_weights,
        ignored_note,
        load_weights,
        refuse_pickles,
        verify_files,
    )

    cls = load_object(resolved.family.generator)
    try:
        config = cls.config_class(**resolved.config)
    except ValidationError as err:
        raise CardError(
            f"{resolved.folder}/config.json: {format_validation(err, 'invalid config')}"
        ) from None
    generator = cls(config)
    assets = resolved.card.zoo.assets
    verify_files(resolved.folder, assets, resolved.name, resolved.source, kind="file")
    generator.read_files(resolved.folder)
    ignored = refuse_pickles(resolved.folder)
    verify_files(resolved.folder, resolved.card.zoo.files, resolved.name, resolved.source)
    if ignored:
        print(ignored_note(resolved.folder, ignored), file=sys.stderr)
    parts = set(generator.networks())
    state: dict[str, Any] = {}
    for fname in sorted(resolved.card.zoo.files):
        weights = load_weights(resolved.folder / fname)
        part = fname.split("/", 1)[0] if "/" in fname else None
        if part in parts:  # a network's own subfolder (diffusers' layout): its own names
            weights = generator.own_names(part, weights)
            weights = {f"{part}.{key}": value for key, value in weights.items()}
        state.update(weights)
    stored = resolved.card.zoo.weights_dtype
    apply_weights(
        generator.networks(),
        state,
        where=resolved.name,
        family=resolved.family.name,
        stored=getattr(torch, stored) if stored else None,
    )
    if dtype is not None:
        generator.to("cpu", dtype)
    return generator.eval()


def load(
    name: str, *, device: str | None = None, dtype: str | None = None, download: bool = True
) -> Model:
    """Load a model by registered id, folder path, or ``hf:org/name[@revision]``.

    ``download=False`` loads a Hub model only from the cache (UnknownModelError if it
    is not there), never contacting the Hub.

    ``device`` is for this load only (None: the process default, see ``zoo.device``);
    it never changes where later loads go. Loaded generators are kept by the
    process's device manager, keyed by source, revision, dtype and device, so
    loading the same model twice in a process reuses it.
    """
    from zoo.device import component_key

    dm = manager()
    where = dm.where(device)
    resolved = resolve(name, download=download)
    torch_dtype = dm.dtype(dtype, where)
    key = component_key(str(resolved.folder.resolve()), resolved.revision, torch_dtype)
    generator = dm.get(key, lambda: build_generator(resolved, torch_dtype), where)
    attach_components(generator, resolved, device=device)
    return Model(resolved, generator, where, torch_dtype)


def component_sources(
    generator: Any, resolved: Resolved | None
) -> dict[str, tuple[str, str | None]]:
    """{role: (what to load, dtype)} for each component: the card's entry, else the network's."""
    out: dict[str, tuple[str, str | None]] = {
        role: (ref, None) for role, ref in generator.component_refs().items()
    }
    if resolved is None:  # a network being trained: no card yet
        return out
    for role, src in resolved.card.zoo.components.items():
        target = (
            src.model if src.model is not None else str(resolved.folder / (src.subfolder or ""))
        )
        out[role] = (target, src.dtype)
    return out


_LOADING: list[str] = []  # the chain of models whose components are being loaded


def attach_components(
    generator: Any, resolved: Resolved | None, *, device: str | None = None
) -> None:
    """Load each component of ``generator`` once (shared through the device manager's cache
    with every other model that names it) and hand it over in ``generator.components``."""
    for role, (target, dtype) in component_sources(generator, resolved).items():
        if role in generator.components:
            continue
        if target in _LOADING:
            chain = " -> ".join([*_LOADING, target])
            raise RequestError(f"the models' components form a cycle: {chain}")
        _LOADING.append(target)
        try:
            generator.components[role] = load(target, device=device, dtype=dtype).network
        finally:
            _LOADING.pop()


def describe(name: str) -> Resolved:
    """Card, config and family of a model without loading weights (no torch)."""
    return resolve(name)
