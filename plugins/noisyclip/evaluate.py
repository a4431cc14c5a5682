"""Held-out figures of a noise-aware CLIP: caption retrieval on the test split at several t.

Retrieval is the clip family's top-1 among 100 (``plugins/nn/clip.py``: each image's own
caption against those of 99 scenes whose attributes differ), with the image read as x_t
(noise seeded 0, the same for every t) and the captions as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from zoo.plugins.nn.clip import CANDIDATES, retrieval
from zoo.plugins.nn.diffusion import NOISE_FRACTIONS, noised
from zoo.plugins.noisyclip.model import NoisyClipNetwork

BATCH = 500


def embeddings_at(
    net: NoisyClipNetwork, images: torch.Tensor, t: int, seed: int = 0
) -> torch.Tensor:
    """(N, D) unit image embeddings of x_t of ``images`` (N, C, S, S) in [0, 1]."""
    ac = net.config.schedule.alphas_cumprod()
    out = []
    with torch.no_grad():
        for _, x_t, tt in noised(images, t, ac, seed, BATCH):
            out.append(net.image_embeddings(x_t, tt))
    return torch.cat(out)


def evaluate_reference(
    net: NoisyClipNetwork,
    dataset: str,
    load_split: Callable[[str], dict[str, Any]],
    n: int | None = None,
    split: str = "test",
) -> dict[str, Any]:
    """Top-1 retrieval on ``split`` at t = 0, T/4, T/2 and 3T/4 (model-index results)."""
    data = load_split(split)
    images, captions = data["image"][:n], data["caption"][: n or None]
    where = f"{split} split, {len(images)} scenes"
    with torch.no_grad():
        text = torch.cat(
            [net.encode_text(captions[i : i + BATCH]) for i in range(0, len(captions), BATCH)]
        ).float()
    T = net.config.schedule.num_train_timesteps
    metrics = []
    by_t = {}
    for f in NOISE_FRACTIONS:
        t = int(f * T)
        top1 = retrieval(embeddings_at(net, images, t), text, data["attributes"][:n])
        by_t[t] = round(top1, 4)
        metrics.append(
            {
                "type": "accuracy",
                "name": f"top-1 caption retrieval among {CANDIDATES} at t = {t} ({where})",
                "value": round(top1, 4),
            }
        )
    result = {
        "task": {"type": "zero-shot-image-classification"},
        "dataset": {"name": dataset, "type": dataset, "split": split},
        "metrics": metrics,
    }
    return {"results": [result], "retrieval_by_t": by_t}
