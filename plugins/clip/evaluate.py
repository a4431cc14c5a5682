"""Held-out figures of a trained CLIP, in the Hub's model-index form.

Retrieval, top-1 of 100: for each test image, the candidates are its own
caption and the captions of 99 other test scenes whose attributes differ from
its own (``same_scene``: "A right of B" equals "B left of A"; drawn without
replacement by a generator seeded 0), so exactly one candidate describes it; a hit is when its own caption has the highest
cosine similarity. Scenes with identical attributes are left out of each
other's candidates because their captions are equally right ("a small red dot
on the left" vs "a tiny crimson circle at the left"); with them in, about a
fifth of one-object scenes would face such a twin and the figure would measure
coin flips. Reported on "test" (a quarter of its objects take colour-shape
pairs never seen in training) and on "heldout" (object 1 always does), with
the mean CLIP score of matching and of mismatched pairs.

``zoo reference-eval`` (zoo/reference.py) loads the network and the data and calls
``evaluate_reference``; ``retrieval`` is plugins/nn/clip.py's (the noise-aware CLIP
reports it too), ``same_scene`` plugins/nn/scenes.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from zoo.plugins.clip.model import ClipNetwork
from zoo.plugins.nn.clip import CANDIDATES, retrieval

BATCH = 500  # images or texts per forward pass


def evaluate_reference(
    net: ClipNetwork,
    dataset: str,
    load_split: Callable[[str], dict[str, Any]],
    n: int | None = None,
    split: str = "test",
) -> dict[str, Any]:
    """Measure a CLIP on ``split`` of its dataset (its first ``n`` scenes) and on "heldout".

    Args:
        net: the trained CLIP.
        dataset: the name of the dataset it was trained on (for the results).
        load_split: split name -> that split of the dataset at the network's size.

    Returns:
        {"results": [{task: {type}, dataset: {name, type, split}, metrics: [{type, name,
        value}]}]}: one result per split, as in a card's model-index.
    """
    results = []
    for part in (split, "heldout"):
        data = load_split(part)
        images, captions = data["image"][:n], data["caption"][: n or None]
        count = len(images)
        with torch.no_grad():
            image = torch.cat([net.features(images[i : i + BATCH]) for i in range(0, count, BATCH)])
            text = torch.cat(
                [net.encode_text(captions[i : i + BATCH]) for i in range(0, count, BATCH)]
            )
        top1 = retrieval(image, text, data["attributes"][:n])
        cos = image @ text.T
        match = (100 * cos.diagonal()).clamp(min=0).mean().item()
        off = ~torch.eye(count, dtype=torch.bool)
        mismatch = (100 * cos[off]).clamp(min=0).mean().item()
        where = f"{part} split, first {count}" if n else f"{part} split, {count} scenes"
        metrics = [
            {
                "type": "accuracy",
                "name": f"top-1 caption retrieval among {CANDIDATES} ({where})",
                "value": round(top1, 4),
            },
            {
                "type": "clip_score",
                "name": f"mean CLIP score, matching pairs ({where})",
                "value": round(match, 2),
            },
            {
                "type": "clip_score",
                "name": f"mean CLIP score, mismatched pairs ({where})",
                "value": round(mismatch, 2),
            },
        ]
        results.append(
            {
                "task": {"type": "zero-shot-image-classification"},
                "dataset": {"name": dataset, "type": dataset, "split": part},
                "metrics": metrics,
            }
        )
    return {"results": results}
