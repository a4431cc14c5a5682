"""Seed streams: every random number of an image comes from that image's own seed.

Image i of a request with seed s is seeded s + i (``image_seeds``), so any image of a grid
can be drawn again alone and the batch size never changes an image. When one image needs
more than one stream (its latent, its noise maps, its candidates for reranking), each
purpose gets a seed of its own derived from the image's seed (``stream_seed``), so the
streams never overlap and never collide with a neighbouring image's.

Pure integer arithmetic: importable without torch.
"""

from __future__ import annotations

import hashlib

MASK63 = (1 << 63) - 1
MASK64 = (1 << 64) - 1
LCG_MULTIPLIER = 6364136223846793005  # Knuth's MMIX multiplier

# Purposes whose salts shipped models already depend on (their images must not move);
# any other purpose gets a salt from its name.
FIXED_SALTS: dict[str, int] = {
    "stylegan.noise": 0x9E3779B97F4A7C15,
    "stackgan.augmentation": 0x5DEECE66D,
}


def image_seeds(seed: int, n: int) -> list[int]:
    """The seeds of the n images of a request with seed ``seed``: seed, seed + 1, ..."""
    return [seed + i for i in range(n)]


def class_labels(label: int | None, num_classes: int, seeds: list[int]) -> list[int]:
    """The class of each image: the request's ``label`` for all, else seed % num_classes.

    Without a label, image k's class comes from its own seed, so a grid shows every class
    and each image can still be drawn again alone.

    Raises:
        RequestError: a label outside 0..num_classes-1.
    """
    if label is None:
        return [s % num_classes for s in seeds]
    if not 0 <= label < num_classes:
        from zoo.registry.errors import RequestError

        raise RequestError(f"label {label} is out of range; use 0..{num_classes - 1}")
    return [label] * len(seeds)


def salt(purpose: str) -> int:
    """The salt of a purpose: fixed for the ones in FIXED_SALTS, else from its name's sha256."""
    if purpose in FIXED_SALTS:
        return FIXED_SALTS[purpose]
    return int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:8], "little")


def stream_seed(seed: int, purpose: str) -> int:
    """The seed of one purpose's stream for the image seeded ``seed`` (in [0, 2**63))."""
    return (seed * LCG_MULTIPLIER + salt(purpose)) % 2**63


def candidate_seed(seed: int, j: int) -> int:
    """The seed of candidate j of an image seeded ``seed``; candidate 0 is the image itself.

    A fixed mixing of (seed, j) (splitmix64's finaliser), so candidate seeds of neighbouring
    images do not collide the way seed + j would.
    """
    if j == 0:
        return seed
    x = (seed * 0x9E3779B97F4A7C15 + j) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return (x ^ (x >> 31)) & MASK63
