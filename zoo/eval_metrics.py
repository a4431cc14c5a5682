"""The metrics ``zoo eval`` knows: names, how each is shown, what it needs, which apply.

A table and a few checks over it, no torch and no other part of eval: the card
text (``zoo.cardtext``), the leaderboard and the CLI read it without loading the
scoring code. The maths of each metric is in ``zoo.metrics``; which metric is
computed how is in ``zoo.eval_score``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, Literal, get_args

from zoo.registry.errors import RequestError

MetricName = Literal[
    "fid",
    "is",
    "kid",
    "precision",
    "recall",
    "label_accuracy",
    "ssim",
    "psnr",
    "clip_score",
    "prompt_accuracy",
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
    "label_accuracy": MetricInfo("Label accuracy", True, "logits", "class logits"),
    "ssim": MetricInfo("SSIM", True, "pairs", ""),
    "psnr": MetricInfo("PSNR (dB)", True, "pairs", ""),
    "clip_score": MetricInfo("CLIP score", True, "clip", "embeddings"),
    "prompt_accuracy": MetricInfo("Prompt accuracy", True, "attributes", "attributes"),
}

# the metrics that compare two image distributions (the test split is one side)
DISTRIBUTION = ("fid", "is", "kid", "precision", "recall")

# capability -> default metrics; a model gets the union over its capabilities
CAPABILITY_METRICS: dict[str, tuple[str, ...]] = {
    "unconditional": DISTRIBUTION,
    "class": (*DISTRIBUTION, "label_accuracy"),
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
    """The generator class's ``eval_metrics``, else the union for its capabilities.

    A class without the attribute (an autoencoder's network is no Generator) has no own.
    A model that draws from text, a label or nothing is scored on those draws: the image
    it may also take (img2img, inpainting) adds no paired metric by default.
    """
    own = getattr(generator_class, "eval_metrics", None)
    if own:
        return parse_metrics(list(own)) or ()
    extra = ("image", "control") if {"unconditional", "class", "text"} & set(capabilities) else ()
    wanted = {
        m for cap in capabilities if cap not in extra for m in CAPABILITY_METRICS.get(cap, ())
    }
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
