"""The scikit-learn digits (UCI optical recognition of handwritten digits).

1,797 grey 8x8 images with values 0..16 in 10 roughly balanced classes
(174-183 images each), shipped inside scikit-learn, so they load offline.
Here they are scaled to [0, 1] (0 background, 1 ink) and resized bilinearly to
``image_size``. The train/val/test split is a fixed, stratified 80/10/10 split:
it never depends on anything but the data, so every model sees the same images.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F

from zoo.registry.errors import RequestError

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = get_args(Split)
FRACTIONS = (0.8, 0.1, 0.1)
SPLIT_SEED = 0  # fixed: the split is part of the dataset, not of a run
MIN_SIZE, MAX_SIZE = 4, 256
NUM_CLASSES = 10


def load(split: str = "train", image_size: int = 16) -> dict[str, torch.Tensor]:
    """Load one split of the digits.

    Args:
        split: "train" (1,438 images), "val" (179) or "test" (180).
        image_size: side S of the returned images, 4..256 (8 is the native size).

    Returns:
        {"image": (N, 1, S, S) float32 in [0, 1], "label": (N,) int64 in 0..9}.

    Raises:
        RequestError: for an unknown split or a size out of range.
    """
    if split not in SPLITS:
        raise RequestError(f"unknown digits split '{split}'; choose from {', '.join(SPLITS)}")
    if isinstance(image_size, bool) or not isinstance(image_size, int):
        raise RequestError(f"digits image_size must be an integer, got {image_size!r}")
    if not MIN_SIZE <= image_size <= MAX_SIZE:
        raise RequestError(
            f"digits image_size {image_size} is out of range; use {MIN_SIZE}..{MAX_SIZE}"
        )
    from sklearn.datasets import load_digits

    data = load_digits()
    index = split_indices(data.target)[split]
    images = torch.from_numpy(data.images[index].astype(np.float32) / 16.0)[:, None]
    if image_size != images.shape[-1]:
        images = F.interpolate(
            images,
            size=(image_size, image_size),
            mode="bilinear",
            align_corners=False,
            antialias=image_size < images.shape[-1],  # antialias only matters when shrinking
        )
    return {
        "image": images.clamp(0.0, 1.0).contiguous(),
        "label": torch.from_numpy(data.target[index].astype(np.int64)),
    }


def split_indices(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Stratified 80/10/10 split of dataset indices, the same on every call.

    Each class is shuffled with a fixed seed and cut at 80% and 90% of its size,
    so every split holds each class in proportion. Indices are returned sorted.
    """
    rng = np.random.default_rng(SPLIT_SEED)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_train = round(FRACTIONS[0] * len(members))
        n_val = round(FRACTIONS[1] * len(members))
        parts["train"].append(members[:n_train])
        parts["val"].append(members[n_train : n_train + n_val])
        parts["test"].append(members[n_train + n_val :])
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}
