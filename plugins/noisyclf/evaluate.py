"""Held-out figures of a noise-aware classifier: accuracy on the test split at several t."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from zoo.plugins.nn.diffusion import q_sample
from zoo.plugins.noisyclf.model import NoisyClassifier

BATCH = 500
FRACTIONS = (0.0, 0.25, 0.5, 0.75)  # t as a fraction of T


def accuracy_at(
    net: NoisyClassifier, images: torch.Tensor, labels: torch.Tensor, t: int, seed: int = 0
) -> float:
    """Top-1 accuracy on x_t of ``images`` (noise from ``seed``, the same for every t)."""
    ac = net.config.schedule.alphas_cumprod()
    gen = torch.Generator().manual_seed(seed)
    right = 0
    with torch.no_grad():
        for i in range(0, len(images), BATCH):
            x_0 = images[i : i + BATCH] * 2 - 1
            eps = torch.randn(x_0.shape, generator=gen)
            tt = torch.full((len(x_0),), t, dtype=torch.long)
            x_t = q_sample(x_0, tt, eps, ac)
            pred = net.log_probs(x_t, tt).argmax(1)
            right += int((pred == labels[i : i + BATCH]).sum())
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
    for f in FRACTIONS:
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
