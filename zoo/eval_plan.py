"""What ``zoo eval`` draws, decided before any weights load, and the cache it draws into.

``plan`` resolves the model and picks the metrics and the reference networks;
``CONDITIONS`` turns test items into per-image request fields for conditioned
families; ``draw`` writes N images (from the model, or from its
``untrained_twin``) into a cache folder keyed by what the images depend on, so a
second run resumes. Importing this module does not import torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.eval_metrics import METRIC_NAMES, METRICS, check_applicable, default_metrics, parse_metrics
from zoo.registry.errors import CardError, RequestError, UnknownModelError

if TYPE_CHECKING:
    import torch

    from zoo.api import Model
    from zoo.catalog import Resolved

TEST_SPLIT = "test"  # the real side of every comparison
ROW_SPLIT = "train"  # the other side of the real-vs-real row
UNTRAINED_SEED = 0

# -- per-image conditions (the hook for conditioned families) ---------------------------


def _prompt_fields(test: dict[str, Any], index: list[int], folder: Path) -> list[dict[str, Any]]:
    if "caption" not in test:
        raise RequestError("this text model's dataset has no captions to prompt it with")
    return [{"prompt": test["caption"][i]} for i in index]


def _image_fields(test: dict[str, Any], index: list[int], folder: Path) -> list[dict[str, Any]]:
    """Condition images (the dataset's 'condition', else the image itself) saved as PNGs."""
    from zoo.images import save_png, to_pil

    source = test.get("condition", test["image"])
    out = []
    for i in index:
        path = folder / f"{i:06d}.png"
        if not path.exists():
            save_png(to_pil(source[i : i + 1])[0], path)
        out.append({"image": str(path)})
    return out


ConditionFn = Callable[[dict[str, Any], list[int], Path], list[dict[str, Any]]]
# capability -> request fields of image k, made from test item index[k]
CONDITIONS: dict[str, ConditionFn] = {
    "text": _prompt_fields,
    "image": _image_fields,
    "control": _image_fields,
}


# -- plan -------------------------------------------------------------------------------


@dataclasses.dataclass
class Plan:
    """What one evaluation does, decided before any weights load."""

    resolved: Resolved
    dataset: str
    metrics: tuple[str, ...]
    reference: str
    clip: str | None

    @property
    def needs(self) -> set[str]:
        return {METRICS[m].needs for m in self.metrics}


def reference_id(kind: str, dataset: str) -> str:
    """``<kind>-<dataset>`` if registered, else ``<kind>-<base>`` (scenes-edges -> scenes)."""
    from zoo.registry.discovery import get_registry

    models = get_registry().models
    base = dataset.split("-")[0]
    for candidate in dict.fromkeys((f"{kind}-{dataset}", f"{kind}-{base}")):
        if candidate in models:
            return candidate
    raise UnknownModelError(
        f"no reference network '{kind}-{dataset}' for dataset '{dataset}'; train it with "
        f"`zoo train {kind} --data {dataset} --out cards/{kind}-{dataset}` (or pass --reference)"
    )


def plan(
    model: str, metrics: str | Sequence[str] | None = None, reference: str | None = None
) -> Plan:
    """Resolve the model and choose the metrics and reference networks; raises on bad input."""
    from zoo.catalog import resolve
    from zoo.registry.discovery import load_object

    asked = parse_metrics(metrics)
    resolved = resolve(model)
    family = resolved.family
    if family.kind == "reference":
        raise RequestError(
            f"'{resolved.name}' is a reference network, not a generator; evaluate a generator"
        )
    dataset = resolved.card.zoo.dataset
    if not dataset:
        raise CardError(
            f"the card of '{resolved.name}' names no dataset; eval needs its test split"
        )
    if asked is None:
        asked = default_metrics(family.capabilities, load_object(family.generator))
        if family.kind == "autoencoder":
            asked = ("ssim", "psnr")
        if not asked:
            caps = "/".join(family.capabilities)
            raise RequestError(
                f"no default metrics for a {caps} model; choose some with --metrics "
                f"({', '.join(METRIC_NAMES)})"
            )
    check_applicable(resolved.name, asked, family.capabilities, family)
    needs = {METRICS[m].needs for m in asked}
    return Plan(
        resolved=resolved,
        dataset=dataset,
        metrics=asked,
        reference=reference or reference_id("classifier", dataset),
        clip=reference_id("clip", dataset) if "clip" in needs else None,
    )


# -- the cache of drawn images ----------------------------------------------------------


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$ZOO_CACHE/eval``, else ``$XDG_CACHE_HOME`` (or ~/.cache) ``/zoo/eval``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("ZOO_CACHE"):
        return Path(os.path.expandvars(os.environ["ZOO_CACHE"])).expanduser() / "eval"
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "zoo" / "eval"


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "model"
    if slug != text:  # paths and hf: names: keep them apart after flattening
        slug = slug[-48:] + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return slug


def cache_folder(root: Path, resolved: Resolved, key: dict[str, Any]) -> Path:
    """``<root>/<model>/<revision>/<hash of what the images depend on, n excluded>/``.

    Files are named by seed, so a larger N reuses the images of a smaller one.
    """
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return root / _slug(resolved.name) / _slug(resolved.revision) / digest[:16]


def untrained_twin(model: Model) -> Model:
    """The model's family built from its config.json and its folder's other files (a
    tokenizer) with fresh weights seeded 0, using the model's components (a reranker)."""
    import torch

    from zoo.api import Model
    from zoo.registry.discovery import load_object

    r = model.resolved
    cls = load_object(r.family.generator)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        generator = cls(cls.config_class(**r.config))
    generator.read_files(r.folder)  # the model's own files (a learned tokenizer), not weights
    generator.components.update(model.generator.components)  # other models it uses (a reranker)
    dtype = next(next(iter(model.generator.networks().values())).parameters()).dtype
    generator.to(model.device, dtype).eval()
    twin = dataclasses.replace(
        r, name=f"{r.name} (untrained)", revision=f"untrained-seed{UNTRAINED_SEED}"
    )
    return Model(twin, generator, model.device)


def draw(
    model: Model,
    base: dict[str, Any],
    per_image: list[dict[str, Any]] | None,
    out: Path,
    *,
    progress: bool,
) -> tuple[torch.Tensor, int]:
    """Draw ``base['n']`` images into ``out`` (or reuse them); returns (images, newly written).

    Without per-image fields the whole request goes to ``write_folder`` at once;
    with them each image is its own one-image request (its seed, its condition).

    Returns:
        ((N, C, H, W) in [0, 1] read back from the PNGs, number of files written).
    """
    import sys

    import torch
    from tqdm import tqdm

    from zoo.bulk import file_for, write_folder
    from zoo.device import seeds_for
    from zoo.images import load_image
    from zoo.registry.schemas import SampleRequest

    seeds = seeds_for(base["seed"], base["n"])
    if per_image is None:
        written = write_folder(model, SampleRequest(**base), out, progress=progress)
    else:
        written = 0
        bar = tqdm(
            seeds, desc=f"sample {model.id}", unit="img", disable=not progress, file=sys.stderr
        )
        for s, fields in zip(bar, per_image, strict=True):
            one = SampleRequest(**{**base, **fields, "n": 1, "seed": s})
            written += write_folder(model, one, out, progress=False)
    channels = model.generator.image_shape[0]
    return torch.cat([load_image(file_for(out, s), channels) for s in seeds]), written
