"""``zoo eval``: score a model's samples with the zoo's reference networks, beside two reference rows.

Every figure comes with two others measured the same way, so it can be read
without a published baseline: **real vs real** (the dataset's train split
scored against its test split, same N: what a perfect generator reaches) and
**untrained** (a generator of the same family built from the model's
config.json with fresh weights seeded 0, drawn with the same sampler and seeds:
a floor). A trained model should lie between them.

The steps, top to bottom (``evaluate``):

1. Plan (no torch): the metrics (asked, or the defaults for the model's
   capabilities) and the reference networks: ``classifier-<dataset>``, and
   ``clip-<dataset>`` for text models.
2. Load the real images at the reference network's size, rounded to 8 bits like
   the PNGs: the test split (the real side of every comparison) and N train
   images (the real-vs-real row). Per-image conditions (prompts, condition
   images) come from the test split.
3. Draw N images from the model and N from the untrained generator with
   ``zoo.bulk.write_folder`` into a cache folder, so a second run resumes.
   Images of another size than the reference network's are resized (a note
   says so).
4. Extract features, logits and embeddings once per image set.
5. Compute each metric for the model and both rows.

A family plugs in through its capabilities: ``CAPABILITY_METRICS`` gives the
default metrics and ``CONDITIONS`` how a test item becomes image k's request
fields; a generator class may set ``eval_metrics`` (metric names) to override
the defaults. Importing this module does not import torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from zoo.registry.errors import CardError, RequestError, UnknownModelError

if TYPE_CHECKING:
    import torch

    from zoo.api import Model
    from zoo.catalog import Resolved
    from zoo.registry.contracts import ReferenceNetwork

# -- the metrics ------------------------------------------------------------------------

MetricName = Literal[
    "fid", "is", "kid", "precision", "recall", "ssim", "psnr", "clip_score", "prompt_accuracy"
]
METRIC_NAMES: tuple[str, ...] = get_args(MetricName)
Needs = Literal["features", "logits", "clip", "attributes", "pairs"]


@dataclasses.dataclass(frozen=True)
class MetricInfo:
    """How a metric is shown and what it needs ("features", "logits", "clip" image and
    text embeddings, "attributes" read by a classifier, "pairs" of image and target)."""

    title: str
    higher_is_better: bool
    needs: Needs
    of: str = "features"  # what of the reference network it reads, for the card


METRICS: dict[str, MetricInfo] = {
    "fid": MetricInfo("FID", False, "features"),
    "is": MetricInfo("IS", True, "logits", "logits"),
    "kid": MetricInfo("KID", False, "features"),
    "precision": MetricInfo("Precision", True, "features", "features, k=3"),
    "recall": MetricInfo("Recall", True, "features", "features, k=3"),
    "ssim": MetricInfo("SSIM", True, "pairs", ""),
    "psnr": MetricInfo("PSNR (dB)", True, "pairs", ""),
    "clip_score": MetricInfo("CLIP score", True, "clip", "embeddings"),
    "prompt_accuracy": MetricInfo("Prompt accuracy", True, "attributes", "attributes"),
}

TEST_SPLIT = "test"  # the real side of every comparison
ROW_SPLIT = "train"  # the other side of the real-vs-real row
UNTRAINED_SEED = 0
K_NEIGHBOURS = 3
MIN_N, MAX_N = 10, 100_000  # at least k + 1 images for precision/recall, some for FID
DISTRIBUTION = ("fid", "is", "kid", "precision", "recall")

# capability -> default metrics; a model gets the union over its capabilities
CAPABILITY_METRICS: dict[str, tuple[str, ...]] = {
    "unconditional": DISTRIBUTION,
    "class": DISTRIBUTION,
    "text": (*DISTRIBUTION, "clip_score", "prompt_accuracy"),
    "image": ("ssim", "psnr"),
    "control": ("ssim", "psnr"),
}


def parse_metrics(text: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """'fid,is' -> ('fid', 'is'); an unknown name is a one-line error listing the valid ones."""
    if text is None:
        return None
    names = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    for name in names:
        if name not in METRICS:
            raise RequestError(f"unknown metric '{name}'; choose from {', '.join(METRIC_NAMES)}")
    if not names:
        raise RequestError(f"--metrics is empty; choose from {', '.join(METRIC_NAMES)}")
    return tuple(dict.fromkeys(names))


def default_metrics(capabilities: Sequence[str], generator_class: Any = None) -> tuple[str, ...]:
    """The generator class's ``eval_metrics``, else the union for its capabilities."""
    own = generator_class.eval_metrics if generator_class is not None else None
    if own:
        return parse_metrics(list(own)) or ()
    wanted = {m for cap in capabilities for m in CAPABILITY_METRICS.get(cap, ())}
    return tuple(m for m in METRIC_NAMES if m in wanted)


def check_applicable(
    name: str, metrics: Sequence[str], capabilities: Sequence[str], family: Any = None
) -> None:
    caps = set(capabilities)
    reconstructs = family is not None and family.can_reconstruct and not caps & {"image", "control"}
    if reconstructs:
        pairs = [m for m in metrics if METRICS[m].needs == "pairs"]
        if family.kind == "autoencoder" and len(pairs) < len(metrics):
            raise RequestError(
                f"'{name}' cannot generate, so only its reconstructions are scored: "
                "choose from ssim, psnr"
            )
        if pairs and len(pairs) < len(metrics):
            raise RequestError(
                f"score reconstructions ({', '.join(pairs)}) and samples in separate runs of "
                f"zoo eval {name}"
            )
        if pairs:
            return
    for m in metrics:
        needs = METRICS[m].needs
        if needs in ("clip", "attributes") and "text" not in caps:
            raise RequestError(f"metric '{m}' scores prompts; '{name}' takes no text")
        if needs == "pairs" and not caps & {"image", "control"}:
            raise RequestError(
                f"metric '{m}' compares each image with a target; '{name}' takes no input image"
            )


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
    """The model's family built from its config.json with fresh weights seeded 0."""
    import torch

    from zoo.api import Model
    from zoo.registry.discovery import load_object

    r = model.resolved
    cls = load_object(r.family.generator)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        generator = cls(cls.config_class(**r.config))
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


# -- images at the reference network's size ---------------------------------------------


@dataclasses.dataclass
class ImageSet:
    """Images scored together.

    Attributes:
        images: (N, C, H, W) in [0, 1], 8-bit levels, at their own size (each
            reference network sees them resized to its own).
        prompts: the prompt of each image (text models), else None.
        targets: (N, C, H, W) in [0, 1] at the size of ``images``, the image each
            should reproduce (image-conditioned models), else None.
    """

    images: torch.Tensor
    prompts: list[str] | None = None
    targets: torch.Tensor | None = None


def to_8bit(images: torch.Tensor) -> torch.Tensor:
    """Round to the 256 levels a PNG keeps, so real and generated images match in kind."""
    return (images.clamp(0, 1) * 255).round() / 255


def shape_of(network: Any) -> tuple[int, int] | None:
    """(channels, size) a reference network takes, from its config; None if it does not say."""
    c = network.config
    size, channels = getattr(c, "image_size", None), getattr(c, "channels", None)
    return (int(channels), int(size)) if size and channels else None


def fit(images: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    """Resize (bilinear, antialiased when shrinking) and repeat grey to RGB if the network wants."""
    from zoo.registry.contracts import fit_images

    return fit_images(images, size, channels)


# -- scoring ----------------------------------------------------------------------------


@dataclasses.dataclass
class Networks:
    """The reference networks of one evaluation, with their ids."""

    classifier: ReferenceNetwork
    classifier_id: str
    clip: ReferenceNetwork | None = None
    clip_id: str | None = None
    progress: bool = True

    def run(self, fn: Callable[[torch.Tensor], Any], images: torch.Tensor, desc: str) -> Any:
        """Method ``fn`` of a network over images fitted to that network, in batches.

        Returns:
            (N, ...) on the CPU.
        """
        import torch

        from zoo.metrics import extract

        shape = shape_of(getattr(fn, "__self__", None) or self.classifier)
        if shape is not None:
            images = fit(images, shape[1], shape[0])

        def call(x: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                out = fn(x)
            if out is None:
                name = getattr(fn, "__name__", "output")
                raise RequestError(f"the reference network has no {name}; choose other --metrics")
            return out

        return extract(call, images, progress=self.progress, desc=desc)


def features_of(nets: Networks, s: ImageSet, metrics: Sequence[str], label: str) -> dict[str, Any]:
    """What the metrics need from one image set, each extracted once."""
    import torch

    needs = {METRICS[m].needs for m in metrics}
    cls = nets.classifier
    out: dict[str, Any] = {}
    if "features" in needs:
        out["features"] = nets.run(cls.features, s.images, f"features {label}")
    if "logits" in needs:
        out["logits"] = nets.run(cls.logits, s.images, f"logits {label}")
    if "clip" in needs and s.prompts is not None and nets.clip is not None:
        clip = nets.clip
        out["image_embeddings"] = nets.run(clip.features, s.images, f"clip {label}")
        with torch.inference_mode():
            texts = [
                clip.encode_text(s.prompts[i : i + 256]) for i in range(0, len(s.prompts), 256)
            ]
        if any(t is None for t in texts):
            raise RequestError(f"'{nets.clip_id}' encodes no text; it cannot give a CLIP score")
        out["text_embeddings"] = torch.cat([t.float().cpu() for t in texts])
    if "attributes" in needs and s.prompts is not None:
        out["attributes"] = nets.run(cls.predict_attributes, s.images, f"attributes {label}")
        # the classifier names objects in its own order ("B left of A" for "A right of B")
        out["canonical"] = cls.canonical
    return out


def wanted_attributes(dataset: str, prompts: list[str]) -> torch.Tensor:
    """Attributes each prompt names, (N, K) int64 with -1 where it names none.

    The dataset's loader module provides the parser: ``caption_to_attributes(text)``
    returning {name: index} over its ``ATTRIBUTES`` (the scenes have both).
    """
    import importlib

    import torch

    from zoo.registry.discovery import get_registry

    spec = get_registry().dataset(dataset)
    module = importlib.import_module(spec.loader.partition(":")[0])
    parse = getattr(module, "caption_to_attributes", None)
    names = getattr(module, "ATTRIBUTES", None)
    if parse is None or names is None:
        raise RequestError(f"dataset '{dataset}' has no caption parser; prompt_accuracy needs one")
    rows = [[int((parse(text) or {}).get(a, -1)) for a in names] for text in prompts]
    return torch.tensor(rows, dtype=torch.long).reshape(len(prompts), len(names))


def score_set(
    metrics: Sequence[str], side: dict[str, Any], test: dict[str, Any], s: ImageSet, dataset: str
) -> dict[str, float | None]:
    """Every metric for one image set (``side``: its extracted features) against the test set."""
    from zoo import metrics as M

    out: dict[str, float | None] = {}
    pr: tuple[float, float] | None = None
    for m in metrics:
        value: float | None
        if m == "fid":
            value = M.fid(test["features"], side["features"])
        elif m == "kid":
            value = M.kid(test["features"], side["features"])[0]
        elif m in ("precision", "recall"):
            if pr is None:  # both from one pass
                pr = M.precision_recall(test["features"], side["features"], K_NEIGHBOURS)
            value = pr[0] if m == "precision" else pr[1]
        elif m == "is":
            value = M.inception_score(side["logits"], M.is_splits(len(side["logits"])))[0]
        elif m == "clip_score":
            value = M.clip_score(side["image_embeddings"], side["text_embeddings"])
        elif m == "prompt_accuracy":
            wanted = wanted_attributes(dataset, s.prompts or [])
            if side.get("canonical") is not None:
                wanted = side["canonical"](wanted)
            value = M.prompt_accuracy(side["attributes"].long(), wanted)
        elif s.targets is None:
            value = None  # no pairs: the real-vs-real row of a reconstruction metric
        else:
            pair = M.ssim if m == "ssim" else M.psnr
            value = M.finite_or_none(pair(s.images, s.targets))
        out[m] = None if value is None else float(f"{value:.6g}")
    return out


# -- the whole evaluation ---------------------------------------------------------------


def check_numbers(n: int, seed: int, batch_size: int) -> None:
    """Raise a one-line RequestError for an out-of-range N, seed or batch size."""
    from zoo.registry.schemas import MAX_SEED

    if not MIN_N <= n <= MAX_N:
        raise RequestError(f"--n must lie in {MIN_N}..{MAX_N}, got {n}")
    if not 0 <= seed <= MAX_SEED - n:
        raise RequestError(f"--seed must lie in 0..{MAX_SEED - n}, got {seed}")
    if not 1 <= batch_size <= 4096:
        raise RequestError(f"--batch-size must lie in 1..4096, got {batch_size}")


def evaluate(
    model: str | Plan,
    *,
    metrics: Sequence[str] | str | None = None,
    n: int = 1000,
    seed: int = 0,
    batch_size: int = 64,
    device: str | None = None,
    reference: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    options: dict[str, Any] | None = None,
    split: str = TEST_SPLIT,
) -> dict[str, Any]:
    """Score ``model`` and the two reference rows; returns the JSON-ready result.

    Args:
        model: a model id, folder or ``hf:`` name (or a ``plan`` of one).
        metrics: names, or one string "fid,is"; default: the model's defaults.
        n: images drawn from the model (and from the untrained generator), 10..100,000.
        seed: image i is seeded seed + i.
        batch_size: images per forward pass when drawing.
        device: where the model and the reference networks run.
        reference: a reference network instead of ``classifier-<dataset>``.
        cache_dir: where drawn images are kept (default ``cache_root()``).
        progress: progress bars on stderr.
        options: request options every image is drawn with (the family's OPTIONS,
            e.g. {"truncation": 0.5}); figures with options are kept apart in the card.
        split: the split real images and conditions come from ("test"; scenes also
            have "heldout", the attribute pairs training never saw).

    Returns:
        {model, revision, n, seed, sampler, options, reference_network, dataset, split,
        n_real, metrics: {name: {value, real_vs_real, untrained}}, notes, cache,
        written}; "written" counts the model's images drawn now (0 on a rerun).
    """
    from zoo.api import load
    from zoo.data import load_split
    from zoo.registry.schemas import SampleRequest

    check_numbers(n, seed, batch_size)
    # 1. plan
    p = model if isinstance(model, Plan) else plan(model, metrics, reference)
    r, family = p.resolved, p.resolved.family
    if (
        family.can_reconstruct
        and p.needs == {"pairs"}
        and not {"image", "control"} & set(family.capabilities)
    ):
        return evaluate_reconstruction(p, n=n, batch_size=batch_size, device=device, split=split)
    options = check_options(r, options)
    loaded = load(r.name, device=device)
    nets = Networks(*load_reference(p.reference, device), progress=progress)
    if p.clip is not None:
        nets.clip, nets.clip_id = load_reference(p.clip, device)
    notes: list[str] = []

    # 2. real images at the reference network's size (conditions at the model's); a
    #    family may take them from other datasets per option (an unpaired translator's
    #    targets are the other domain)
    from zoo.api import make_request

    family_options = r.options(make_request(options=options))["family"]
    sides = loaded.generator.eval_datasets(family_options)
    real_ds, cond_ds = sides or (p.dataset, p.dataset)
    ref_shape = shape_of(nets.classifier)
    test = load_split(real_ds, split, ref_shape[1] if ref_shape else None)
    rows = load_split(real_ds, ROW_SPLIT, ref_shape[1] if ref_shape else None)
    n_test, n_rows = len(test["image"]), min(n, len(rows["image"]))
    if n_rows < n:
        notes.append(f"the {ROW_SPLIT} split holds {n_rows} images: real vs real uses {n_rows}")
    index = [k % n_test for k in range(n)]  # the test item behind generated image k
    conditioned = [c for c in family.capabilities if c in CONDITIONS]
    own = test
    gen_shape = tuple(loaded.generator.image_shape)
    if (conditioned or "pairs" in p.needs) and (
        tuple(test["image"].shape[1:]) != gen_shape or cond_ds != real_ds
    ):
        own = load_split(cond_ds, split, gen_shape[-1])

    # 3. draw from the model and from its untrained twin (cached, resumable)
    sampler = loaded.sampler_name(SampleRequest(n=n, seed=seed))
    request = {
        "n": n,
        "seed": seed,
        "batch_size": batch_size,
        "sampler": sampler,
        "options": options,
    }
    key = {"seed": seed, "sampler": sampler, "dataset": p.dataset, "conditions": conditioned}
    if options or split != TEST_SPLIT:  # (keys of older caches stay as they were)
        key.update(options=options, split=split, sides=[real_ds, cond_ds])
    folder = cache_folder(cache_root(cache_dir), r, key)
    per_image: list[dict[str, Any]] | None = None
    if conditioned:
        per_image = [{} for _ in range(n)]
        for cap in conditioned:
            fields = CONDITIONS[cap](own, index, folder / "conditions")
            per_image = [{**a, **b} for a, b in zip(per_image, fields, strict=True)]
    images, written = draw(loaded, request, per_image, folder / "samples", progress=progress)
    twin = untrained_twin(loaded)
    untrained, _ = draw(twin, request, per_image, folder / "untrained", progress=progress)
    for net, name in ((nets.classifier, nets.classifier_id), (nets.clip, nets.clip_id)):
        want = shape_of(net) if net is not None else None
        if want is not None and tuple(images.shape[1:]) != (want[0], want[1], want[1]):
            c, h, w = images.shape[1:]
            notes.append(
                f"generated images are {c}x{h}x{w}; resized to {want[0]}x{want[1]}x{want[1]} "
                f"for {name}"
            )

    prompts = None
    if "text" in family.capabilities and "caption" in test:
        prompts = [test["caption"][i] for i in index]
    targets = to_8bit(own["image"][index]) if "pairs" in p.needs else None
    sets = {
        "value": ImageSet(images, prompts, targets),
        "real_vs_real": ImageSet(
            to_8bit(rows["image"][:n_rows]),
            list(rows["caption"][:n_rows]) if prompts is not None else None,
        ),
        "untrained": ImageSet(untrained, prompts, targets),
    }

    # 4. features once per image set; 5. metrics
    real = ImageSet(to_8bit(test["image"]))
    test_side = features_of(nets, real, [m for m in p.metrics if m in DISTRIBUTION], "test")
    results: dict[str, dict[str, float | None]] = {m: {} for m in p.metrics}
    for row, image_set in sets.items():
        side = features_of(nets, image_set, p.metrics, row.replace("_", " "))
        for m, value in score_set(p.metrics, side, test_side, image_set, p.dataset).items():
            results[m][row] = value

    return {
        "model": r.name,
        "revision": r.revision,
        "n": n,
        "seed": seed,
        "sampler": sampler,
        "options": options,
        "reference_network": nets.classifier_id,
        **({"clip_network": nets.clip_id} if nets.clip_id else {}),
        "dataset": real_ds,
        "split": split,
        "n_real": n_test,
        "metrics": results,
        "notes": notes,
        "cache": str(folder),
        "written": written,
    }


def evaluate_reconstruction(
    p: Plan, *, n: int, batch_size: int, device: str | None, split: str = TEST_SPLIT
) -> dict[str, Any]:
    """SSIM/PSNR of an autoencoder's reconstructions of the first ``n`` test images.

    Reconstructions are rounded to 8 bits like every image `zoo eval` scores; the
    untrained row is the same config with fresh weights. There is no real-vs-real
    row: a perfect reconstruction scores SSIM 1 (PSNR unbounded).
    """
    import torch

    from zoo import metrics as M
    from zoo.api import load
    from zoo.data import load_split
    from zoo.reconstruct import reconstruct

    r = p.resolved
    loaded = load(r.name, device=device)
    c = loaded.generator.config
    test = load_split(p.dataset, split, c.image_size)["image"][:n]
    results: dict[str, dict[str, float | None]] = {m: {"real_vs_real": None} for m in p.metrics}
    for row, model in (("value", loaded), ("untrained", untrained_twin(loaded))):
        out = torch.cat(
            [
                reconstruct(model, test[i : i + batch_size])["output"]
                for i in range(0, len(test), batch_size)
            ]
        )
        out = to_8bit(out)
        for m in p.metrics:
            value = M.ssim(out, test) if m == "ssim" else M.psnr(out, test)
            results[m][row] = float(f"{M.finite_or_none(value):.6g}")
    return {
        "model": r.name,
        "revision": r.revision,
        "n": len(test),
        "seed": 0,
        "sampler": "reconstruct",
        "options": {},
        "reference_network": None,
        "dataset": p.dataset,
        "split": split,
        "n_real": len(test),
        "metrics": results,
        "notes": [f"reconstructions of the first {len(test)} images of the {split} split"],
        "cache": None,
        "written": 0,
    }


def check_options(resolved: Resolved, options: dict[str, Any] | None) -> dict[str, Any]:
    """Validate eval ``options`` as request fields the model's family accepts; sorted copy."""
    from pydantic import ValidationError

    from zoo.api import format_validation
    from zoo.registry.schemas import SampleRequest

    options = dict(sorted((options or {}).items()))
    if not options:
        return {}
    try:
        request = SampleRequest(options=options)
    except ValidationError as err:
        raise RequestError(format_validation(err)) from None
    resolved.check(request)
    validated = resolved.options(request)
    values = {k: v for opts in validated.values() for k, v in opts.model_dump().items()}
    return {k: values[k] for k in request.options}


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """['truncation=0.5', 'direction=b2a'] -> {'truncation': 0.5, 'direction': 'b2a'}.

    Values are read as JSON where they parse (numbers, true/false), else kept as text.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not key:
            raise RequestError(f"--option takes KEY=VALUE (e.g. truncation=0.5), got '{pair}'")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out[key] = value
    return out


def options_label(options: dict[str, Any] | None) -> str:
    """' [truncation=0.5]' for metric names; '' without options."""
    if not options:
        return ""
    return (
        " ["
        + ", ".join(
            f"{k}={json.dumps(v) if isinstance(v, bool) else v}" for k, v in options.items()
        )
        + "]"
    )


def load_reference(name: str, device: str | None) -> tuple[ReferenceNetwork, str]:
    """Load a reference network by id or folder; (network, its id)."""
    from zoo.api import load
    from zoo.registry.contracts import ReferenceNetwork

    model = load(name, device=device)
    if not isinstance(model.network, ReferenceNetwork):
        raise RequestError(f"'{name}' is a generator; --reference takes a reference network")
    return model.network, model.id


# -- the card ---------------------------------------------------------------------------


def _short(name: str) -> str:
    """A reference network's display name: its id, or a folder's name."""
    return Path(name).name if ("/" in name or os.sep in name) else name


def model_index_metrics(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The Hub model-index ``metrics`` list of one evaluation (values that are numbers)."""
    out = []
    for m, row in result["metrics"].items():
        if row.get("value") is None:
            continue
        info = METRICS[m]
        net = result.get("clip_network") if info.needs == "clip" else result["reference_network"]
        of = f" ({_short(net)} {info.of})" if info.of else ""
        args = {
            "n": result["n"],
            "seed": result["seed"],
            "sampler": result["sampler"],
            **({"options": result["options"]} if result.get("options") else {}),
            "real_vs_real": row.get("real_vs_real"),
            "untrained": row.get("untrained"),
            "n_real": result["n_real"],
        }
        if info.of:
            args["reference"] = _short(net)
        name = f"{info.title}{of}{options_label(result.get('options'))}"
        out.append({"type": m, "name": name, "value": row["value"], "args": args})
    return out


def merge_model_index(
    index: list[dict[str, Any]] | None,
    name: str,
    task: str,
    dataset: str,
    split: str,
    metrics: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """``index`` with ``metrics`` put into the result for (task, dataset, split).

    A metric of the same type and name is replaced in place, new ones are appended,
    and other metrics, results and entries are kept.
    """
    entries = [dict(e) for e in (index or [])]
    entry = next((e for e in entries if e.get("name") == name), None)
    if entry is None:
        entry = {"name": name, "results": []}
        entries.append(entry)
    results = [dict(res) for res in entry.get("results", [])]
    entry["results"] = results
    want = {"task": {"type": task}, "dataset": {"name": dataset, "type": dataset, "split": split}}
    result = next(
        (
            res
            for res in results
            if res.get("task", {}).get("type") == task
            and res.get("dataset", {}).get("name") == dataset
            and res.get("dataset", {}).get("split") == split
        ),
        None,
    )
    if result is None:
        result = {**want, "metrics": []}
        results.append(result)
    new = {(m["type"], m["name"]): m for m in metrics}
    merged = [new.pop((m.get("type"), m.get("name")), m) for m in result.get("metrics", [])]
    result["metrics"] = merged + list(new.values())
    return entries


def check_writable(resolved: Resolved) -> None:
    """Raise unless the model is a folder (shipped in cards/ or local) that can be written."""
    if resolved.source == "hub":
        raise RequestError(
            f"'{resolved.name}' is a Hub model; --write-card writes only model folders "
            "(evaluate a local copy of it, then upload that)"
        )
    if not os.access(resolved.folder, os.W_OK):
        raise RequestError(
            f"cannot write to {resolved.folder}; --write-card needs a writable model folder"
        )


def write_card(result: dict[str, Any], model: str | None = None) -> Path:
    """Put an evaluation into its model folder's card (model-index) and re-render the README.

    Only folder models (shipped in cards/ or a local folder) can be written; the
    README is replaced atomically.

    Returns:
        The README.md path.
    """
    from zoo.cardtext import pipeline_tag, render_body
    from zoo.catalog import resolve
    from zoo.images import atomic_write
    from zoo.registry.cards import render_card

    r = resolve(model or result["model"])
    check_writable(r)
    if r.revision != result["revision"]:
        raise RequestError(
            f"'{r.name}' changed since it was evaluated ({result['revision']} -> {r.revision}); "
            "evaluate it again"
        )
    card = r.card
    index = merge_model_index(
        card.model_index,
        r.folder.name,
        card.pipeline_tag or pipeline_tag(r.family.capabilities),
        result["dataset"],
        result.get("split", TEST_SPLIT),
        model_index_metrics(result),
    )
    card = card.model_copy(update={"model_index": index})
    text = render_card(card, render_body(r.folder.name, card, r.family))
    path = r.folder / "README.md"
    atomic_write(path, lambda f: f.write(text.encode()))
    return path


def write_figure(
    model: str,
    key: str,
    *,
    title: str,
    command: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    note: str = "",
) -> Path:
    """Store a table under ``zoo.figures[key]`` of a model folder's card; re-render README.md.

    For figures that are not `zoo eval` rows: a comparison over training, a sweep
    measured by a script. ``command`` is written beside the table and must reproduce it.

    Returns:
        The README.md path.
    """
    from pydantic import ValidationError

    from zoo.cardtext import render_body
    from zoo.catalog import resolve
    from zoo.images import atomic_write
    from zoo.registry.cards import render_card
    from zoo.registry.schemas import Figure

    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", key):
        raise RequestError(f"figure key '{key}' must be lowercase letters, digits, '_' or '-'")
    try:
        figure = Figure(
            title=title,
            command=command,
            columns=list(columns),
            rows=[[_plain(v) for v in row] for row in rows],
            note=note,
        )
    except ValidationError as err:
        from zoo.api import format_validation

        raise RequestError(f"figure '{key}': {format_validation(err)}") from None
    r = resolve(model)
    check_writable(r)
    card = r.card
    zoo_section = card.zoo.model_copy(update={"figures": {**card.zoo.figures, key: figure}})
    card = card.model_copy(update={"zoo": zoo_section})
    text = render_card(card, render_body(r.folder.name, card, r.family))
    path = r.folder / "README.md"
    atomic_write(path, lambda f: f.write(text.encode()))
    return path


def _plain(value: Any) -> Any:
    """Numbers from numpy/torch as Python numbers (6 significant digits), other values as is."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


# -- the leaderboard --------------------------------------------------------------------


def leaderboard_rows() -> list[dict[str, Any]]:
    """Every registered generator x metric in the cards' model-index (no torch, no downloads).

    Returns:
        One dict per figure: model, family, task, dataset, split, metric, name,
        value, real_vs_real, untrained, n, seed, sampler, reference.
    """
    from zoo.catalog import resolve_spec
    from zoo.registry.discovery import get_registry
    from zoo.registry.errors import ZooError

    reg = get_registry()
    rows = []
    for mid in sorted(reg.models):
        for spec in reg.models[mid]:
            try:
                r = resolve_spec(spec, reg, download=False)
            except ZooError:
                continue  # unreadable or not pulled: `zoo list` reports it
            if r.family.kind == "reference":
                continue  # reference networks record accuracies, not generation metrics
            for entry in r.card.model_index or []:
                for res in entry.get("results", []):
                    ds = res.get("dataset", {})
                    for m in res.get("metrics", []):
                        args = m.get("args") or {}
                        rows.append(
                            {
                                # a setting (e.g. truncation) is its own row, beside the plain one
                                "model": mid + options_label(args.get("options")),
                                "family": r.family.name,
                                "task": res.get("task", {}).get("type"),
                                "dataset": ds.get("name"),
                                "split": ds.get("split"),
                                "metric": m.get("type"),
                                "name": m.get("name"),
                                "value": m.get("value"),
                                "real_vs_real": args.get("real_vs_real"),
                                "untrained": args.get("untrained"),
                                "n": args.get("n"),
                                "seed": args.get("seed"),
                                "sampler": args.get("sampler"),
                                "reference": args.get("reference"),
                            }
                        )
    return rows
