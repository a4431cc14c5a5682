"""Held-out figures of a trained classifier, in the Hub's model-index form.

Digits: accuracy on the test split. Scenes (attribute heads): the true
attributes are first put in the classifier's canonical object order (object 1
left of or above object 2: an image cannot show which object its caption named
first); then for each attribute column, the accuracy over the test scenes where
that attribute is present (object 2 and the relation exist only in two-object
scenes); the headline is the mean of those ten accuracies. Also reported: the exact-match rate (all ten
columns right, -1 included, as ``predict_attributes`` gives them) and the
accuracy of ``logits`` on the label (object 1's colour-shape pair, canonical
object 1).

``zoo reference-eval`` (zoo/reference.py) loads the network and the data and calls
``evaluate_reference``; the scenes' label rule comes from plugins/nn/scenes.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from zoo.plugins.classifier.model import ClassifierNetwork
from zoo.plugins.nn.scenes import labels

BATCH = 500  # images per forward pass: keeps memory flat without slowing the CPU


def _batched(fn: Any, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(images[i : i + BATCH]) for i in range(0, len(images), BATCH)])


def evaluate_reference(
    net: ClassifierNetwork,
    dataset: str,
    load_split: Callable[[str], dict[str, Any]],
    n: int | None = None,
    split: str = "test",
) -> dict[str, Any]:
    """Measure a classifier on ``split`` of its dataset (its first ``n`` images).

    Args:
        net: the trained classifier.
        dataset: the name of the dataset it was trained on (for the results).
        load_split: split name -> that split of the dataset at the network's size.

    Returns:
        {"results": [{task: {type}, dataset: {name, type, split}, metrics: [{type,
        name, value}]}] (a card's model-index results), "per_attribute": {column: accuracy}
        (scenes only)}; values in [0, 1].
    """
    data = load_split(split)
    images = data["image"][:n]
    count = len(images)
    where = f"{split} split, first {count}" if n else f"{split} split, {count} images"
    result: dict[str, Any] = {
        "task": {"type": "image-classification"},
        "dataset": {"name": dataset, "type": dataset, "split": split},
    }
    out: dict[str, Any] = {"results": [result]}
    label_pred = _batched(lambda x: net.logits(x).argmax(1), images)
    if net.config.target == "label":
        label_acc = (label_pred == data["label"][:n]).float().mean().item()
        result["metrics"] = [
            {"type": "accuracy", "name": f"accuracy ({where})", "value": round(label_acc, 4)}
        ]
        return out

    truth = net.canonical(data["attributes"][:n])
    label_acc = (label_pred == labels(truth)).float().mean().item()
    pred = _batched(net.predict_attributes, images)
    present = truth >= 0
    per_column = ((pred == truth) & present).sum(0).float() / present.sum(0).clamp(min=1)
    per_attribute = {
        name: round(v, 4) for name, v in zip(net.config.heads, per_column.tolist(), strict=True)
    }
    mean_acc = per_column.mean().item()
    exact = (pred == truth).all(1).float().mean().item()
    result["metrics"] = [
        {
            "type": "accuracy",
            "name": f"attribute accuracy, mean over the 10 attributes where present ({where})",
            "value": round(mean_acc, 4),
        },
        {
            "type": "exact_match",
            "name": f"all attributes right ({where})",
            "value": round(exact, 4),
        },
        {
            "type": "accuracy",
            "name": f"label accuracy: object 1's colour-shape pair, 24 classes ({where})",
            "value": round(label_acc, 4),
        },
    ]
    out["per_attribute"] = per_attribute
    return out
