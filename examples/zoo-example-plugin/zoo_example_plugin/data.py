"""The checkerboards dataset: procedural, so it needs no download and no file.

Each image is a grey checkerboard with cells of 1, 2 or 4 pixels (at 8x8;
scaled with the image), a random phase, and random dark and light levels
(dark in [0, 0.3], light in [0.7, 1]). The label is the cell-size index. Each
split has its own fixed seed, so the data never changes between runs.
"""

from __future__ import annotations

import torch
from zoo.registry.errors import RequestError

CELLS = (1, 2, 4)  # cell sides in pixels at 8x8, one class each
SIZES = {"train": 2048, "val": 256, "test": 256}
SEEDS = {"train": 0, "val": 1, "test": 2}


def load(split: str = "train", image_size: int = 8) -> dict[str, torch.Tensor]:
    """One split of the checkerboards.

    Args:
        split: "train" (2,048 images), "val" (256) or "test" (256).
        image_size: side S, a multiple of 8 from 8 to 64.

    Returns:
        {"image": (N, 1, S, S) float32 in [0, 1], "label": (N,) int64 in 0..2}.
    """
    if split not in SIZES:
        raise RequestError(f"unknown checkerboards split '{split}'; choose from {', '.join(SIZES)}")
    if not isinstance(image_size, int) or image_size % 8 or not 8 <= image_size <= 64:
        raise RequestError(f"checkerboards image_size must be 8, 16, ... 64, got {image_size!r}")
    n, s = SIZES[split], image_size
    g = torch.Generator().manual_seed(SEEDS[split])
    label = torch.randint(len(CELLS), (n,), generator=g)
    phase = torch.randint(2, (n,), generator=g)
    dark = 0.3 * torch.rand(n, generator=g)
    light = 0.7 + 0.3 * torch.rand(n, generator=g)
    cell = (torch.tensor(CELLS) * (s // 8))[label].view(n, 1, 1)
    idx = torch.arange(s)
    board = (idx.view(1, s, 1) // cell + idx.view(1, 1, s) // cell + phase.view(n, 1, 1)) % 2
    image = dark.view(n, 1, 1) + (light - dark).view(n, 1, 1) * board.float()
    return {"image": image[:, None].contiguous(), "label": label}
