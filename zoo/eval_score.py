"""Scoring for ``zoo eval``: image sets, the reference networks, features once, every metric.

An ``ImageSet`` is what gets scored (images, with prompts or targets where the
metrics need them); ``Networks`` runs a reference network over images fitted to
its size; ``features_of`` extracts what the metrics need once per set, and
``score_set`` computes each metric against the test set's features with the
maths in ``zoo.metrics``. Importing this module does not import torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from zoo.eval_metrics import METRICS
from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    import torch

    from zoo.registry.contracts import ReferenceNetwork

K_NEIGHBOURS = 3  # precision and recall: a sample counts within its k-th neighbour's radius

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
    labels: torch.Tensor | None = None  # (N,) the class each image should show


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


# -- the reference networks, and scoring -------------------------------------------------


def load_reference(name: str, device: str | None) -> tuple[ReferenceNetwork, str]:
    """Load a reference network by id or folder; (network, its id)."""
    from zoo.api import load
    from zoo.registry.contracts import ReferenceNetwork

    model = load(name, device=device)
    if not isinstance(model.network, ReferenceNetwork):
        raise RequestError(f"'{name}' is a generator; --reference takes a reference network")
    return model.network, model.id


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
        encoded = [t.float().cpu() for t in texts if t is not None]
        if len(encoded) < len(texts):
            raise RequestError(f"'{nets.clip_id}' encodes no text; it cannot give a CLIP score")
        out["text_embeddings"] = torch.cat(encoded)
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
        elif m == "label_accuracy":
            if s.labels is None:
                value = None
            else:
                value = M.label_accuracy(side["logits"], s.labels)
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
