"""The Python API: ``zoo.load(name)`` gives a Model; ``model.sample(...)`` gives Samples.

model = zoo.load("cgan-digits")
samples = model.sample(n=8, seed=0, label=7)
samples.images        # (8, 1, 16, 16) float in [0, 1]
samples.save("sevens.png")      # a grid; a folder path writes one PNG per image
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo import __version__
from zoo.catalog import Resolved, resolve
from zoo.device import manager, seeds_for
from zoo.registry.discovery import get_registry, load_object
from zoo.registry.errors import NumericsError, RequestError
from zoo.registry.schemas import SampleRequest

if TYPE_CHECKING:
    import torch

    from zoo.registry.contracts import Generator


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
        """Write a grid (``out`` ends in .png) or a folder of one PNG per image.

        Returns the written paths. Existing files are kept unless ``force``.
        """
        from zoo.images import grid, save_png, to_pil

        out = Path(out)
        if out.suffix.lower() == ".png":
            if out.exists() and not force:
                raise RequestError(f"{out} exists; choose another path or pass --force")
            if len(self) == 1:  # one image is written as itself, not as a 1-image grid
                save_png(to_pil(self.images)[0], out, self.records[0])
            else:
                save_png(to_pil(grid(self.images, nrow))[0], out, self.request)
            return [out]
        if out.exists() and not out.is_dir():
            raise RequestError(f"{out} exists and is not a folder; give a .png path or a folder")
        paths = [out / f"{r['seed']:06d}.png" for r in self.records]
        clash = [p for p in paths if p.exists()]
        if clash and not force:
            raise RequestError(f"{clash[0]} exists; choose another folder or pass --force")
        for img, rec, path in zip(to_pil(self.images), self.records, paths, strict=True):
            save_png(img, path, rec)
        return paths


class Model:
    """A loaded model: its card, its generator on a device, and ``sample``."""

    def __init__(self, resolved: Resolved, generator: Generator, device: torch.device) -> None:
        self.resolved = resolved
        self.generator = generator
        self.device = device

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

    def sample(self, n: int = 1, seed: int = 0, **options: Any) -> Samples:
        """Draw ``n`` images; image i is seeded ``seed + i``.

        Options are the fields of ``SampleRequest`` (prompt, label, steps,
        sampler, guidance, image, batch_size, and the family's own options such as
        truncation, direction, mix_seed, stage, temperature or rerank: see
        ``zoo info MODEL``).
        """
        try:
            request = SampleRequest(n=n, seed=seed, **options)
        except Exception as err:
            from pydantic import ValidationError

            if isinstance(err, ValidationError):
                raise RequestError(format_validation(err)) from None
            raise
        return self.run(request)

    def run(self, request: SampleRequest, seeds: list[int] | None = None) -> Samples:
        """Draw the images of ``request`` (or only those of ``seeds``, a subset of its seeds)."""
        import torch

        r = self.resolved
        r.check(request)
        sampler_name = self.sampler_name(request)
        spec = get_registry().sampler(sampler_name)
        if spec.process != r.family.process:
            raise RequestError(
                f"sampler '{sampler_name}' draws {spec.process} models; '{r.name}' is {r.family.process}"
            )
        sampler = load_object(spec.sampler)()
        seeds = seeds_for(request.seed, request.n) if seeds is None else list(seeds)
        images = sampler.sample(self.generator, request, seeds, self.device)
        if not torch.isfinite(images).all():
            raise NumericsError(f"model '{r.name}' produced NaN/Inf values (try --dtype float32)")
        return Samples(
            images=images, records=self.records(request, seeds), request=self.whole(request)
        )

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
        zoo_card = self.resolved.card.zoo
        return request.sampler or zoo_card.default_sampler or self.generator.default_sampler()

    def whole(self, request: SampleRequest) -> dict[str, Any]:
        """The parameters of a whole request (what a grid PNG carries)."""
        r = self.resolved
        asked = request.model_dump(
            exclude_none=True, exclude={"n", "seed", "batch_size", "sampler"}
        )
        return {
            "model": r.name,
            "revision": r.revision,
            "family": r.family.name,
            "sampler": self.sampler_name(request),
            "zoo": __version__,
            **asked,
            "seed": request.seed,
            "n": request.n,
        }

    def records(self, request: SampleRequest, seeds: list[int]) -> list[dict[str, Any]]:
        """Per-image parameters: each redraws its image alone (n=1, its own seed)."""
        base = self.whole(request)
        conditions = getattr(self.generator, "conditions", None)
        labels = conditions(request, seeds).get("label") if conditions else None
        out = []
        for k, s in enumerate(seeds):
            rec = {**base, "seed": s, "n": 1}
            if labels is not None and request.label is None:
                rec["drawn_label"] = int(labels[k])
            out.append(rec)
        return out


def format_validation(err: Any) -> str:
    """One line from a pydantic ValidationError: 'field: reason'."""
    parts = []
    for e in err.errors()[:3]:
        loc = ".".join(str(p) for p in e["loc"]) or "value"
        parts.append(f"{loc}: {e['msg']}")
    return "invalid request: " + "; ".join(parts)


def build_generator(resolved: Resolved, dtype: torch.dtype | None = None) -> Generator:
    """Build the family's network from config.json and load its verified weights."""
    from pydantic import ValidationError

    from zoo.registry.errors import CardError
    from zoo.weights import apply_weights, load_weights, refuse_pickles, verify_files

    cls = load_object(resolved.family.generator)
    try:
        config = cls.config_class(**resolved.config)
    except ValidationError as err:
        raise CardError(f"{resolved.folder}/config.json: {format_validation(err)}") from None
    generator = cls(config)
    refuse_pickles(resolved.folder)
    verify_files(resolved.folder, resolved.card.zoo.files, resolved.name)
    state: dict[str, Any] = {}
    for fname in sorted(resolved.card.zoo.files):
        state.update(load_weights(resolved.folder / fname))
    apply_weights(generator.networks(), state, where=resolved.name)
    if dtype is not None:
        generator.to("cpu", dtype)
    return generator.eval()


def load(name: str, *, device: str | None = None, dtype: str | None = None) -> Model:
    """Load a model by registered id, folder path, or ``hf:org/name[@revision]``.

    Loaded generators are kept by the device manager, so loading the same model
    twice in a process reuses it.
    """
    dm = manager(device)
    resolved = resolve(name)
    torch_dtype = dm.dtype(dtype)
    key = f"{resolved.folder.resolve()}@{resolved.revision}:{torch_dtype}"
    generator = dm.get(key, lambda: build_generator(resolved, torch_dtype))
    return Model(resolved, generator, dm.device)


def describe(name: str) -> Resolved:
    """Card, config and family of a model without loading weights (no torch)."""
    return resolve(name)
