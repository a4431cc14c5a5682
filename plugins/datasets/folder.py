"""A user's folder of images, named ``folder:PATH``.

Every .png, .jpg, .jpeg, .bmp and .webp file under PATH (recursively; hidden
files and folders skipped) is loaded as RGB (transparency over white), turned
upright by its EXIF orientation, centre-cropped to a square and resized to
``image_size``. A text file with the same name and the extension .txt beside an
image (``cat.png`` -> ``cat.txt``) is its caption.

The split is fixed by the files' relative paths: files are ordered by the SHA-256
of that path, and the first 90% are "train", the next 5% "val", the last 5%
"test" (val and test hold floor(5%) each, so a folder of under 20 images is all
train). Within a split images are in path order.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from zoo.registry.errors import RequestError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
SPLITS = ("train", "val", "test")
MIN_SIZE, MAX_SIZE = 4, 1024


def image_files(path: str | Path) -> list[Path]:
    """Image files under path, sorted by relative path; RequestError if none or no folder."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise RequestError(f"image folder '{path}' does not exist or is not a folder")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in EXTENSIONS
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise RequestError(
            f"image folder '{path}' holds no images; add {', '.join(EXTENSIONS)} files"
        )
    return files


def split_files(files: list[Path], root: str | Path) -> dict[str, list[Path]]:
    """The fixed 90/5/5 split by hash of each file's relative path (POSIX form)."""

    def key(p: Path) -> str:
        return hashlib.sha256(p.relative_to(root).as_posix().encode()).hexdigest()

    ordered = sorted(files, key=key)
    n_held = len(files) // 20
    n_train = len(files) - 2 * n_held
    parts = {
        "train": ordered[:n_train],
        "val": ordered[n_train : n_train + n_held],
        "test": ordered[n_train + n_held :],
    }
    return {name: sorted(p) for name, p in parts.items()}


def read_image(path: Path, image_size: int) -> np.ndarray:
    """One image as (S, S, 3) uint8: upright, RGB over white, centre crop, resized."""
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "P", "PA"):
                im = im.convert("RGBA")
                white = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(white, im)
            im = im.convert("RGB")
            side = min(im.size)
            left, top = (im.width - side) // 2, (im.height - side) // 2
            im = im.crop((left, top, left + side, top + side))
            im = im.resize((image_size, image_size), Image.Resampling.LANCZOS)
            return np.asarray(im, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise RequestError(f"cannot read image '{path}': {err}; fix or remove the file") from None


def read_caption(image: Path) -> str:
    """The caption beside an image (whitespace collapsed), or "" if there is none."""
    text = image.with_suffix(".txt")
    if not text.is_file():
        return ""
    return " ".join(text.read_text(encoding="utf-8", errors="replace").split())


def load_folder(path: str | Path, split: str = "train", image_size: int = 64) -> dict[str, Any]:
    """Load one split of a folder of images.

    Args:
        path: folder of images (searched recursively).
        split: "train", "val" or "test".
        image_size: side S of the returned images, 4..1024.

    Returns:
        {"image": (N, 3, S, S) float32 in [0, 1], "caption": list of N str ("" for
        images without a .txt), "path": list of N str}.

    Raises:
        RequestError: for a missing folder, a folder without images, an empty split,
            an unreadable image, an unknown split or a size out of range.
    """
    if split not in SPLITS:
        raise RequestError(f"unknown folder split '{split}'; choose from {', '.join(SPLITS)}")
    if isinstance(image_size, bool) or not isinstance(image_size, int):
        raise RequestError(f"folder image_size must be an integer, got {image_size!r}")
    if not MIN_SIZE <= image_size <= MAX_SIZE:
        raise RequestError(
            f"folder image_size {image_size} is out of range; use {MIN_SIZE}..{MAX_SIZE}"
        )
    files = image_files(path)
    chosen = split_files(files, Path(path).expanduser())[split]
    if not chosen:
        raise RequestError(
            f"folder '{path}' has {len(files)} images and an empty '{split}' split "
            "(val and test take 5% each); add images or use split 'train'"
        )
    pixels = np.stack([read_image(p, image_size) for p in chosen])
    return {
        "image": torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div(255).contiguous(),
        "caption": [read_caption(p) for p in chosen],
        "path": [str(p) for p in chosen],
    }
