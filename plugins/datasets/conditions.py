"""Condition maps derived from images, and paired scenes datasets built on them.

For paired image-to-image models (pix2pix) and control models (a ControlNet-style
branch): the condition is a map computed from the target image, the target is
the scene itself.

- ``edges``: Sobel gradient magnitude over the RGB channels, thresholded to a
  binary map. Works on any images (a user's condition image too); the colour
  gradient, not the grey one, so a yellow shape on a light grey background
  (equal luminance) still has its outline.
- ``segmentation``: the per-pixel shape class of a scene (0 background, 1 + shape
  index of ``scenes.SHAPES`` where an object covers at least half the pixel),
  taken exactly from the renderer's coverage and normalised to [0, 1] as
  class / len(SHAPES); ``segmentation_classes`` inverts it.

The datasets ``scenes-edges`` and ``scenes-segmentation`` are the ``scenes``
splits (same scenes, captions and labels) with their map as "condition".
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.datasets import scenes

EDGE_THRESHOLD = 0.1  # gradient per pixel (of a [0, 1] image) that counts as an edge
NUM_SEGMENT_CLASSES = 1 + len(scenes.SHAPES)
CHUNK_PIXELS = 2**20  # pixels per piece in `edges`


def edges(images: torch.Tensor, threshold: float = EDGE_THRESHOLD) -> torch.Tensor:
    """Binary edge map of images.

    Args:
        images: (N, C, S, S) in [0, 1].
        threshold: smallest RGB gradient magnitude per pixel that counts as an edge.

    Returns:
        (N, 1, S, S) float32 in {0, 1}.
    """
    out = torch.empty(images.shape[0], 1, *images.shape[2:])
    step = max(1, CHUNK_PIXELS // (images.shape[-1] * images.shape[-2]))
    with scenes.one_thread():  # see there: faster for these small pieces
        for i in range(0, len(images), step):  # small pieces stay in cache: several times faster
            out[i : i + step] = _sobel(images[i : i + step].float()) > threshold
    return out


def _sobel(x: torch.Tensor) -> torch.Tensor:
    """RGB gradient magnitude per pixel, (N, C, S, S) -> (N, 1, S, S), replicate padding."""
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    # Sobel kernels / 8, written as shifted differences (faster than a grouped conv on CPU)
    dx = p[..., 2:] - p[..., :-2]  # (N, C, S + 2, S)
    dy = p[..., 2:, :] - p[..., :-2, :]  # (N, C, S, S + 2)
    gx = (dx[..., :-2, :] + 2 * dx[..., 1:-1, :] + dx[..., 2:, :]) / 8
    gy = (dy[..., :-2] + 2 * dy[..., 1:-1] + dy[..., 2:]) / 8
    return (gx.square() + gy.square()).sum(dim=1, keepdim=True).sqrt()


def segmentation(classes: torch.Tensor) -> torch.Tensor:
    """Class map (N, S, S) int64 in 0..len(SHAPES) -> (N, 1, S, S) float32 in [0, 1]."""
    return (classes.float() / (NUM_SEGMENT_CLASSES - 1))[:, None]


def segmentation_classes(maps: torch.Tensor) -> torch.Tensor:
    """Inverse of ``segmentation``: (N, 1, S, S) in [0, 1] -> (N, S, S) int64, rounding."""
    k = NUM_SEGMENT_CLASSES - 1
    return (maps[:, 0] * k).round().clamp(0, k).long()


def load_edges(
    split: str = "train",
    image_size: int = 32,
    n: int | None = None,
    seed: int = 0,
    objects: Any = (1, 2),
) -> dict[str, Any]:
    """A ``scenes`` split with its edge maps.

    Returns:
        {"image": (N, 3, S, S) float32 in [0, 1], "condition": (N, 1, S, S) float32
        in {0, 1}, "caption": list of N str, "attributes": (N, 10) int64,
        "label": (N,) int64}; see ``scenes.load`` for the arguments.
    """
    out = scenes.load(split, image_size, n, seed, objects)
    out["condition"] = edges(out["image"])
    return out


def load_segmentation(
    split: str = "train",
    image_size: int = 32,
    n: int | None = None,
    seed: int = 0,
    objects: Any = (1, 2),
) -> dict[str, Any]:
    """A ``scenes`` split with its exact segmentation maps.

    Returns:
        {"image": (N, 3, S, S) float32 in [0, 1], "condition": (N, 1, S, S) float32
        in {0, 1/4, ..., 1}, "classes": (N, S, S) int64 in 0..4, "caption": list of
        N str, "attributes": (N, 10) int64, "label": (N,) int64}.
    """
    out = scenes.generate(split, image_size, n, seed, objects, with_classes=True)
    out["condition"] = segmentation(out["classes"])
    return out
