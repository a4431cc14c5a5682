"""Uploaded images: size-capped, decoded safely, stored under a name the server chooses.

A client never names a path on the server. An upload is read up to ``MAX_UPLOAD_BYTES``,
opened by Pillow with its size checked from the header before any pixel is decoded
(an image bomb is refused without expanding it), decoded, and written as a PNG named by
the hash of its pixels. The stored path is what the drawn PNGs record as ``image`` or
``mask``, so ``zoo sample --from`` on this machine redraws them.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from zoo.registry.errors import RequestError

MAX_UPLOAD_BYTES = 8 * 2**20
MAX_UPLOAD_PIXELS = 4096 * 4096
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")


def store_upload(data: bytes, what: str, folder: Path) -> Path:
    """Check and store one uploaded image; returns the path it was stored at.

    Raises:
        RequestError: too large, not an image, an unsupported format, or too many pixels.
    """
    from PIL import Image, UnidentifiedImageError

    from zoo.images import save_png

    if len(data) > MAX_UPLOAD_BYTES:
        raise RequestError(
            f"{what}: the upload is {len(data) / 2**20:.1f} MiB; the limit is "
            f"{MAX_UPLOAD_BYTES // 2**20} MiB"
        )
    if not data:
        raise RequestError(f"{what}: the upload is empty")
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:
            w, h = im.size  # from the header: nothing decoded yet
            if w * h > MAX_UPLOAD_PIXELS:
                raise RequestError(
                    f"{what}: the image has {w}x{h} pixels, more than this server decodes "
                    f"({MAX_UPLOAD_PIXELS})"
                )
            im.load()
            image = im.convert("RGBA" if "A" in im.getbands() else "RGB")
    except Image.DecompressionBombError:  # Pillow's own check, from the header too
        raise RequestError(
            f"{what}: the image has more pixels than this server decodes ({MAX_UPLOAD_PIXELS})"
        ) from None
    except UnidentifiedImageError:
        raise RequestError(
            f"{what}: not an image this server reads ({', '.join(FORMATS)})"
        ) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise RequestError(f"{what}: cannot decode the image ({err})") from None
    digest = hashlib.sha256(image.tobytes() + repr(image.size).encode()).hexdigest()[:20]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.png"
    if not path.exists():
        save_png(image, path)
    return path
