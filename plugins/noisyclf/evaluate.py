"""Held-out figures of a noise-aware classifier: accuracy on the test split at several t."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from zoo.plugins.nn.diffusion import NOISE_FRACTIONS, noised
from zoo.plugins.noisyclf.model import NoisyClassifier


def accuracy_at(
    net: NoisyClassifier, images: torch.Tensor, labels: torch.Tensor, t: int, seed: int = 0
) -> float:
    """Top-1 accuracy on x_t of ``images`` (noise from ``seed``, the same for every t)."""
    ac = net.config.schedule.alphas_cumprod()
    right = 0
    with torch.no_grad():
        for rows, x_t, tt in noised(images, t, ac, seed):
            pred = net.log_probs(x_t, tt).argmax(1)
            right += int((pred == labels[rows]).sum())
    return right / max(len(images), 1)


def evaluate_reference(
    net: NoisyClassifier,
    dataset: str,
    load_split: Callable[[str], dict[str, Any]],
    n: int | None = None,
    split: str = "test",
) -> dict[str, Any]:
    """Accuracy on ``split`` at t = 0, T/4, T/2 and 3T/4 (model-index results)."""
    data = load_split(split)
    images, labels = data["image"][:n], data["label"][:n]
    where = f"{split} split, {len(images)} images"
    T = net.config.schedule.num_train_timesteps
    metrics = []
    by_t = {}
    for f in NOISE_FRACTIONS:
        t = int(f * T)
        acc = accuracy_at(net, images, labels, t)
        by_t[t] = round(acc, 4)
        metrics.append(
            {"type": "accuracy", "name": f"accuracy at t = {t} ({where})", "value": round(acc, 4)}
        )
    result = {
        "task": {"type": "image-classification"},
        "dataset": {"name": dataset, "type": dataset, "split": split},
        "metrics": metrics,
    }
    return {"results": [result], "accuracy_by_t": by_t}
