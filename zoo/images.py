"""Image I/O: tensors to PNG with the parameters that reproduce them, grids, reading back.

Every PNG the zoo writes carries a ``zoo`` text chunk holding JSON: the model,
its revision, the sampler and the per-image seed (or the grid's request), so
``zoo sample --from image.png`` can draw it again. Writes are atomic.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    import torch
    from PIL import Image

META_KEY = "zoo"
MAX_IMAGE_PIXELS = 64 * 1024 * 1024
# suffixes of image formats the zoo does not write: such an output path is a mistake, not a folder
OTHER_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")


def output_kind(out: str | os.PathLike[str]) -> str:
    """Whether ``out`` asks for a grid ('grid': a .png file) or a folder of PNGs ('folder').

    A trailing slash always means a folder (so ``-o samples.png/`` is a folder of that
    name); without one, a ``.png`` suffix means one file.

    Raises:
        RequestError: another image format's suffix (the zoo writes PNG only), a PNG
            path that is an existing folder, or a folder path that is an existing file.
    """
    text = os.fspath(out)
    path = Path(text)
    if text.endswith(("/", os.sep)):
        if path.exists() and not path.is_dir():
            raise RequestError(
                f"{text} ends with a slash, which means a folder, but {path} is a file;"
                " drop the slash to overwrite that file, or choose another folder"
            )
        return "folder"
    suffix = path.suffix.lower()
    if suffix == ".png":
        if path.is_dir():
            raise RequestError(
                f"{path} is a folder, not a PNG file; use -o {path}/ to write one PNG per image"
                " into it, or choose another file name"
            )
        return "grid"
    if suffix in OTHER_IMAGE_SUFFIXES:
        raise RequestError(
            f"the zoo writes PNG; use -o {path.with_suffix('.png')} or a folder ({path}/)"
        )
    if path.exists() and not path.is_dir():
        raise RequestError(f"{path} exists and is not a folder; give a .png path or a folder")
    return "folder"


def to_uint8(images: torch.Tensor) -> Any:
    """(B, C, H, W) float in [0, 1] -> numpy (B, H, W, C) uint8, rounding to nearest."""
    import torch

    x = images.detach().float().cpu().clamp(0, 1)
    return (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    from PIL import Image

    arr = to_uint8(images)
    if arr.shape[-1] == 1:
        return [Image.fromarray(a[..., 0], mode="L") for a in arr]
    return [Image.fromarray(a, mode="RGB") for a in arr]


def grid(images: torch.Tensor, nrow: int | None = None, pad: int = 1) -> torch.Tensor:
    """Tile (B, C, H, W) into one (1, C, H', W') image, ``nrow`` images per row."""
    import torch

    b, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(b)))
    rows = math.ceil(b / nrow)
    out = torch.zeros(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(b):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[:, y : y + h, x : x + w] = images[i]
    return out[None]


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(file_object)`` on a temp file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; others may need to read
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_png(image: Image.Image, path: str | Path, meta: dict[str, Any] | None = None) -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    if meta is not None:
        info.add_text(META_KEY, json.dumps(meta, sort_keys=True, ensure_ascii=True))
    atomic_write(Path(path), lambda f: image.save(f, format="PNG", pnginfo=info))


def read_meta(path: str | Path) -> dict[str, Any]:
    """The ``zoo`` metadata of a PNG written by the zoo."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            text = getattr(im, "text", {}).get(META_KEY)
    except (OSError, UnidentifiedImageError) as err:
        raise RequestError(f"cannot read image {path}: {err}") from None
    if not text:
        raise RequestError(f"{path} carries no zoo parameters (was it written by `zoo sample`?)")
    try:
        meta = json.loads(text)
    except ValueError:
        raise RequestError(f"{path}: its zoo parameters are not valid JSON") from None
    if not isinstance(meta, dict):
        raise RequestError(f"{path}: its zoo parameters are not a JSON object")
    return meta


def load_image(path: str | Path, channels: int) -> torch.Tensor:
    """Read an image file as (1, C, H, W) float in [0, 1]."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise RequestError(f"image {path} does not exist") from None
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise RequestError(f"cannot read image {path}: {err}") from None
    t = torch.from_numpy(arr)
    t = t[None] if t.ndim == 2 else t.permute(2, 0, 1)
    return t[None].contiguous()


def load_condition(
    path: str | Path,
    channels: int,
    *,
    multiple_of: int = 1,
    min_size: int = 8,
    max_size: int = 512,
) -> torch.Tensor:
    """Read a condition image as (1, C, H, W) in [0, 1], refusing sizes a model cannot take.

    Args:
        path: the image file (any format Pillow reads; converted to ``channels``).
        channels: 1 (greyscale) or 3 (RGB).
        multiple_of: each side must be a multiple of this (e.g. 2**depth for a U-Net).
        min_size, max_size: bounds on each side, in pixels.

    Raises:
        RequestError: a missing or unreadable file, or a size outside the rules, in one line.
    """
    image = load_image(path, channels)
    h, w = image.shape[-2:]
    ok = all(min_size <= s <= max_size and s % multiple_of == 0 for s in (h, w))
    if not ok:
        if min_size == max_size:
            need = f"a {min_size}x{min_size} image"
        else:
            rule = f"multiples of {multiple_of} " if multiple_of > 1 else ""
            need = f"sides that are {rule}between {min_size} and {max_size} pixels"
        raise RequestError(f"image {path} is {w}x{h}; this model needs {need}")
    return image


def load_mask(path: str | Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Read a mask PNG as (1, 1, H, W) float in {0, 1}: white (>= 0.5) = repaint.

    Raises:
        RequestError: unreadable, another size than ``size`` (H, W), or no white pixel.
    """
    mask = (load_image(path, 1) >= 0.5).float()
    h, w = mask.shape[-2:]
    if size is not None and (h, w) != tuple(size):
        raise RequestError(
            f"mask {path} is {w}x{h}; it must have the input image's size {size[1]}x{size[0]}"
        )
    if not mask.any():
        raise RequestError(f"mask {path} has no white pixel: nothing to repaint (white = repaint)")
    return mask
