"""Procedural scenes: one or two flat shapes on a softly shaded background.

Each scene has one or two objects, each with a shape, colour, size and position,
a caption drawn from several templates and synonyms ("a small red circle on the
left", "a tiny crimson disc at the left", "a big blue square above a little
yellow triangle") and integer attribute labels. Images are drawn at any
resolution (16, 32 and 64 among them, for cascades) from signed distance
functions, with one pixel of analytic anti-aliasing, so a scene looks the same
at every size.

Scene ``k`` of a split is a pure function of ``(split, k, seed, objects)``: every
random number is a hash of those, never a draw from a global generator, so a
prefix of a split (``n=100``) is the first 100 scenes of the full split.

Composition test: the colour-shape pairs in ``HELD_OUT`` never occur in "train"
or "val" (for either object), although each of their colours and shapes does.
In "test" each object takes a held-out pair with probability ``HELD_OUT_RATE``;
in "heldout" object 1 always does. ``label`` (the colour-shape pair of object 1)
therefore never takes a held-out class in training.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from zoo.plugins.nn.scenes import (
    ATTRIBUTES,
    COLOUR_WORDS,
    COLOURS,
    NUM_STREAMS,
    POSITION_WORDS,
    POSITIONS,
    RELATION_WORDS,
    RELATIONS,
    SHAPE_WORDS,
    SHAPES,
    SIZE_WORDS,
    SIZES,
    VOCAB,
    caption,
    labels,
    pick,
)
from zoo.plugins.nn.scenes import CLASS_NAMES as CLASS_NAMES
from zoo.plugins.nn.scenes import COUNTS as COUNTS
from zoo.plugins.nn.scenes import NUM_CLASSES as NUM_CLASSES
from zoo.plugins.nn.scenes import canonical_order as canonical_order
from zoo.registry.errors import RequestError

# The attributes' vocabulary (SHAPES, COLOURS, ..., ATTRIBUTES, VOCAB), the label
# (NUM_CLASSES, CLASS_NAMES, ``labels``), the caption words and ``caption`` are the scenes'
# language, shared with the families that read scenes: they live in plugins/nn/scenes.py
# and are imported here, so ``scenes.X`` still names every part of the dataset.

# Colour-shape pairs never seen in train or val.
HELD_OUT: tuple[tuple[str, str], ...] = (
    ("red", "triangle"),
    ("blue", "circle"),
    ("green", "square"),
)
HELD_OUT_RATE = 0.25  # chance that an object in "test" takes a held-out pair

SPLITS: tuple[str, ...] = ("train", "val", "test", "heldout")
SPLIT_SIZES: dict[str, int] = {"train": 20_000, "val": 2_000, "test": 2_000, "heldout": 2_000}
MIN_SIZE, MAX_SIZE = 8, 256
MAX_N = 1_000_000

RGB: dict[str, tuple[float, float, float]] = {
    "red": (0.86, 0.12, 0.12),
    "green": (0.14, 0.66, 0.20),
    "blue": (0.14, 0.28, 0.90),
    "yellow": (0.96, 0.84, 0.12),
    "purple": (0.58, 0.20, 0.74),
    "orange": (0.98, 0.52, 0.08),
}

# Geometry in unit coordinates (x right, y down, the canvas is [0, 1]^2). `RADIUS`
# is the nominal radius; other shapes scale it to look about as big as the circle.
# Their extent stays within 1.25 radii, so objects never leave the canvas and the
# two objects of a scene never touch.
RADIUS = {1: (0.10, 0.17), 2: (0.085, 0.14)}  # objects in scene -> (small, large)
SHAPE_SCALE = (1.0, 0.9, 1.2, 1.25)  # circle radius, half side, half base, half diagonal
NEAR, FAR = 0.27, 0.73  # centres of the left/top and right/bottom places
ALONG_JITTER, ACROSS_JITTER, RADIUS_JITTER, COLOUR_JITTER = 0.03, 0.10, 0.08, 0.06

# Hash streams: uniform number j of scene k is hash(seed, split, k, j). Every random
# choice owns its streams, so changing how one is used never shifts the others.
S_COUNT = 0  # number of objects
S_PAIR1, S_COIN1, S_SIZE1 = 1, 2, 3  # object 1: colour-shape pair, held-out coin, size
S_PLACE = 4  # position of one object, or relation of two
S_X1, S_Y1, S_R1, S_C1 = 5, 6, 7, 8  # object 1 jitter: centre, radius, colour (8..10)
S_PAIR2, S_COIN2, S_SIZE2 = 11, 12, 13  # object 2
S_X2, S_Y2, S_R2, S_C2 = 14, 15, 16, 17  # object 2 jitter (colour 17..19)
S_GREY, S_TINT, S_ANGLE, S_AMP = 20, 21, 24, 25  # background: grey, tint (21..23), gradient
# S_TEMPLATE = 26, S_WORDS = 27 (27..33): the caption's template and synonyms
# NUM_STREAMS = 36: streams 36 and above are free for derived datasets (see domains.py)


# -- deterministic randomness ------------------------------------------------------------


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijective, well-mixed hash of uint64 values."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniforms(seed: int, split: str, index: np.ndarray, streams: int, first: int = 0) -> np.ndarray:
    """Uniform numbers in [0, 1) that depend only on (seed, split, index, stream).

    Returns:
        (len(index), streams) float64; column j is stream ``first + j``.
    """
    with np.errstate(over="ignore"):
        key = _mix(np.array([seed], dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15))
        key = _mix(key ^ np.uint64(SPLITS.index(split) + 1))
        rows = _mix(key ^ np.asarray(index, dtype=np.uint64))[:, None]
        cols = np.arange(first, first + streams, dtype=np.uint64)[None, :]
        h = _mix(rows ^ _mix(cols + np.uint64(0x632BE59BD9B4E019)))
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


# -- attributes --------------------------------------------------------------------------

_PAIRS = [(s, c) for s in range(len(SHAPES)) for c in range(len(COLOURS))]
_HELD = [(SHAPES.index(s), COLOURS.index(c)) for c, s in HELD_OUT]
_SEEN = np.array([p for p in _PAIRS if p not in _HELD])
_HELD_ARR = np.array(_HELD)


def _sample_pairs(u_pair: np.ndarray, u_coin: np.ndarray, held_rate: float) -> np.ndarray:
    """(N, 2) shape and colour indices: held-out with probability held_rate."""
    seen = _SEEN[pick(u_pair, len(_SEEN))]
    held = _HELD_ARR[pick(u_pair, len(_HELD_ARR))]
    return np.where((u_coin < held_rate)[:, None], held, seen)


def sample_attributes(u: np.ndarray, split: str, objects: tuple[int, ...]) -> np.ndarray:
    """Attributes (N, len(ATTRIBUTES)) int64 from uniforms (N, NUM_STREAMS); no drawing."""
    n = len(u)
    rate1 = {"train": 0.0, "val": 0.0, "test": HELD_OUT_RATE, "heldout": 1.0}[split]
    rate2 = min(rate1, HELD_OUT_RATE)
    count = np.asarray(objects)[pick(u[:, S_COUNT], len(objects))]
    two = count == 2
    a = np.full((n, len(ATTRIBUTES)), -1, dtype=np.int64)
    a[:, 0:2] = _sample_pairs(u[:, S_PAIR1], u[:, S_COIN1], rate1)
    a[:, 2] = pick(u[:, S_SIZE1], len(SIZES))
    a[:, 3] = pick(u[:, S_PLACE], len(POSITIONS))
    rel = pick(u[:, S_PLACE], len(RELATIONS))
    # Two objects: object 1 is the subject of the relation; positions follow from it.
    first = np.array([0, 1, 2, 3])[rel]  # left of -> left, right of -> right, ...
    second = np.array([1, 0, 3, 2])[rel]
    pair2 = _sample_pairs(u[:, S_PAIR2], u[:, S_COIN2], rate2)
    a[two, 3] = first[two]
    a[two, 4:6] = pair2[two]
    a[two, 6] = pick(u[two, S_SIZE2], len(SIZES))
    a[two, 7] = second[two]
    a[:, 8] = count
    a[two, 9] = rel[two]
    return a


# -- geometry and drawing ----------------------------------------------------------------


@dataclass
class Layout:
    """Continuous parameters of N scenes, all in unit coordinates; object 2 unused if absent."""

    attributes: np.ndarray  # (N, K) int64
    centre: np.ndarray  # (N, 2, 2) x, y of each object
    radius: np.ndarray  # (N, 2) nominal radius
    colour: np.ndarray  # (N, 2, 3) RGB in [0, 1]
    background: np.ndarray  # (N, 3) RGB at the centre of the canvas
    gradient: np.ndarray  # (N, 2) change of brightness per unit of x and of y

    def __getitem__(self, rows: slice) -> Layout:
        return Layout(**{k: v[rows] for k, v in vars(self).items()})


def layout(attributes: np.ndarray, u: np.ndarray) -> Layout:
    """Place, size and colour the objects of ``attributes`` using uniforms ``u``."""
    n = len(attributes)
    a = attributes
    two = a[:, 8] == 2
    centre = np.zeros((n, 2, 2))
    radius = np.zeros((n, 2))
    colour = np.zeros((n, 2, 3))
    places = np.array([[NEAR, 0.5], [FAR, 0.5], [0.5, NEAR], [0.5, FAR], [0.5, 0.5]])
    horizontal = np.array([True, True, False, False, True])  # jitter little along x
    for j, (sx, sy, sr, sc) in enumerate(((S_X1, S_Y1, S_R1, S_C1), (S_X2, S_Y2, S_R2, S_C2))):
        pos = np.maximum(a[:, 3 + 4 * j], 0)
        jit = np.where(
            horizontal[pos][:, None], [ALONG_JITTER, ACROSS_JITTER], [ACROSS_JITTER, ALONG_JITTER]
        )
        jit[pos == 4] = ALONG_JITTER
        centre[:, j] = places[pos] + jit * (2 * u[:, [sx, sy]] - 1)
        small = np.where(two, RADIUS[2][0], RADIUS[1][0])
        large = np.where(two, RADIUS[2][1], RADIUS[1][1])
        size = np.maximum(a[:, 2 + 4 * j], 0)
        radius[:, j] = np.where(size == 1, large, small) * (1 + RADIUS_JITTER * (2 * u[:, sr] - 1))
        base = np.array([RGB[c] for c in COLOURS])[np.maximum(a[:, 1 + 4 * j], 0)]
        colour[:, j] = np.clip(base + COLOUR_JITTER * (2 * u[:, sc : sc + 3] - 1), 0, 1)
    grey = 0.62 + 0.28 * u[:, S_GREY]
    background = np.clip(grey[:, None] + 0.04 * (2 * u[:, S_TINT : S_TINT + 3] - 1), 0, 1)
    angle = 2 * math.pi * u[:, S_ANGLE]
    amp = 0.12 * u[:, S_AMP]
    gradient = np.stack([amp * np.cos(angle), amp * np.sin(angle)], axis=1)
    return Layout(a, centre, radius, colour, background, gradient)


def _grid(size: int) -> torch.Tensor:
    return (torch.arange(size, dtype=torch.float32) + 0.5) / size


def _sdf(shape: int, dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Signed distance (negative inside) to a shape centred at the origin, y down."""
    s = r * SHAPE_SCALE[shape]
    if shape == 0:  # circle of radius s
        return torch.sqrt(dx * dx + dy * dy) - s
    if shape == 1:  # axis-aligned square of half side s
        qx, qy = dx.abs() - s, dy.abs() - s
        outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2)
        return outside + torch.maximum(qx, qy).clamp(max=0)
    if shape == 2:  # upward equilateral triangle of half base s, its box centred
        k = math.sqrt(3.0)
        px = dx.abs() - s
        py = -dy + s / k + s / (2 * k)  # y up; centroid + s/k as in the formula, + box offset
        fold = px + k * py > 0
        px, py = torch.where(fold, (px - k * py) / 2, px), torch.where(fold, (-k * px - py) / 2, py)
        px = px - torch.minimum(torch.maximum(px, -2 * s), torch.zeros_like(px))
        return -torch.sqrt(px * px + py * py) * torch.sign(py)
    # diamond of half diagonal s (distance to the edges; exact except at the corners)
    return (dx.abs() + dy.abs() - s) / math.sqrt(2.0)


def coverage(lay: Layout, image_size: int) -> torch.Tensor:
    """Anti-aliased coverage of each object, (N, 2, S, S) float32 in [0, 1] (0 if absent)."""
    n = len(lay.attributes)
    out = torch.zeros(n, 2, image_size, image_size)
    g = _grid(image_size)
    centre = torch.from_numpy(lay.centre).float()
    radius = torch.from_numpy(lay.radius).float()
    for j in (0, 1):
        shape = torch.from_numpy(lay.attributes[:, 4 * j])
        for s in range(len(SHAPES)):
            idx = torch.nonzero(shape == s).flatten()
            if len(idx) == 0:
                continue
            dx = g[None, None, :] - centre[idx, j, 0, None, None]
            dy = g[None, :, None] - centre[idx, j, 1, None, None]
            d = _sdf(s, dx, dy, radius[idx, j, None, None])
            out[idx, j] = (0.5 - d * image_size).clamp(0, 1)  # one-pixel linear ramp
    return out


def background(lay: Layout, image_size: int) -> torch.Tensor:
    """The softly shaded background, (N, 3, S, S) float32 in [0, 1]."""
    g = _grid(image_size) - 0.5
    base = torch.from_numpy(lay.background).float()[:, :, None, None]
    grad = torch.from_numpy(lay.gradient).float()
    shade = grad[:, 0, None, None] * g[None, None, :] + grad[:, 1, None, None] * g[None, :, None]
    return (base + shade[:, None]).clamp_(0, 1)


def paint(canvas: torch.Tensor, cov: torch.Tensor, colour: np.ndarray) -> torch.Tensor:
    """Composite the objects (object 2 over object 1) onto canvas (N, 3, S, S)."""
    rgb = torch.from_numpy(colour).float()
    for j in (0, 1):
        flat = rgb[:, j, :, None, None].expand_as(canvas)
        canvas = canvas.lerp_(flat, cov[:, j, None])  # canvas (1 - c) + rgb c, in place
    return canvas


def classes(lay: Layout, cov: torch.Tensor) -> torch.Tensor:
    """Per-pixel class (N, S, S) int64: 0 background, 1 + shape where an object covers >= 1/2."""
    shape = torch.from_numpy(lay.attributes[:, [0, 4]])
    out = torch.zeros(cov.shape[0], *cov.shape[2:], dtype=torch.int64)
    for j in (0, 1):
        out = torch.where(cov[:, j] >= 0.5, 1 + shape[:, j, None, None], out)
    return out


# -- captions ----------------------------------------------------------------------------

# Writing a caption (``caption``) and its words are in plugins/nn/scenes.py; reading one
# back is here.


def _alternation(table: tuple[tuple[str, ...], ...]) -> str:
    words = sorted((w for ws in table for w in ws), key=len, reverse=True)
    return "|".join(re.escape(w) for w in words)


def _lookup(table: tuple[tuple[str, ...], ...]) -> dict[str, int]:
    return {w: i for i, ws in enumerate(table) for w in ws}


_OBJECT_RE = re.compile(
    rf"\b(?:({_alternation(SIZE_WORDS)})\s+)?(?:({_alternation(COLOUR_WORDS)})\s+)?"
    rf"({_alternation(SHAPE_WORDS)})s?\b"
)
_POSITION_RE = re.compile(rf"\b({_alternation(POSITION_WORDS)})\b")
_RELATION_RE = re.compile(rf"\b({_alternation(RELATION_WORDS)})\b")
_SIZE, _COLOUR, _SHAPE = _lookup(SIZE_WORDS), _lookup(COLOUR_WORDS), _lookup(SHAPE_WORDS)
_POSITION, _RELATION = _lookup(POSITION_WORDS), _lookup(RELATION_WORDS)


def caption_to_attributes(text: str) -> dict[str, int] | None:
    """Parse a caption in the style of the templates back into attribute indices.

    Understands every synonym above, in any case and spacing. Words the text does
    not give (say a size or a position) are -1; for two objects the positions
    follow from the relation ("A above B": A top, B bottom).

    Returns:
        {name: index} over ``ATTRIBUTES`` (-1 where unknown), or None if the text
        names no shape.
    """
    t = " ".join(re.sub(r"[^a-z\s-]", " ", text.lower()).split())
    objs = list(_OBJECT_RE.finditer(t))[:2]
    if not objs:
        return None
    out = dict.fromkeys(ATTRIBUTES, -1)
    for j, m in enumerate(objs, start=1):
        size, colour, shape = m.groups()
        out[f"shape{j}"] = _SHAPE[shape]
        out[f"colour{j}"] = _COLOUR[colour] if colour else -1
        out[f"size{j}"] = _SIZE[size] if size else -1
    out["count"] = len(objs)
    if len(objs) == 2:
        rel = _RELATION_RE.search(t, objs[0].end(), objs[1].start())
        if rel:
            r = _RELATION[rel.group(1)]
            out["relation"] = r
            out["position1"], out["position2"] = (0, 1, 2, 3)[r], (1, 0, 3, 2)[r]
    else:
        pos = _POSITION_RE.search(t)
        if pos:
            out["position1"] = _POSITION[pos.group(1)]
    return out


# -- public API --------------------------------------------------------------------------


def check_args(
    split: str, image_size: int, n: int | None, seed: int, objects: Any
) -> tuple[int, tuple[int, ...]]:
    """Validate loader arguments; returns (number of scenes, sorted object counts)."""
    if split not in SPLITS:
        raise RequestError(f"unknown scenes split '{split}'; choose from {', '.join(SPLITS)}")
    for name, value, lo, hi in (
        ("image_size", image_size, MIN_SIZE, MAX_SIZE),
        ("n", SPLIT_SIZES[split] if n is None else n, 1, MAX_N),
        ("seed", seed, 0, 2**63 - 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise RequestError(f"scenes {name} must be an integer, got {value!r}")
        if not lo <= value <= hi:
            raise RequestError(f"scenes {name} {value} is out of range; use {lo}..{hi}")
    objs = (objects,) if isinstance(objects, int) else tuple(objects)
    if not objs or any(o not in (1, 2) or isinstance(o, bool) for o in objs):
        raise RequestError(f"scenes objects must be 1, 2 or (1, 2), got {objects!r}")
    return SPLIT_SIZES[split] if n is None else n, tuple(sorted(set(objs)))


def sample(
    split: str = "train", n: int | None = None, seed: int = 0, objects: Any = (1, 2), start: int = 0
) -> tuple[Layout, np.ndarray]:
    """Attributes and layout of scenes start..start+n-1 of a split, without drawing them.

    Returns:
        (layout, uniforms (n, NUM_STREAMS) float64), for ``render_layout`` and ``caption``.
    """
    n, objs = check_args(split, MIN_SIZE, n, seed, objects)
    u = uniforms(seed, split, np.arange(start, start + n), NUM_STREAMS)
    return layout(sample_attributes(u, split, objs), u), u


CHUNK_PIXELS = 2**21  # pixels drawn at once: bounds the temporaries and keeps them fast


def chunk_size(image_size: int) -> int:
    """Scenes to draw at once at this size (2048 at 32x32)."""
    return max(1, CHUNK_PIXELS // image_size**2)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, then restore the thread count.

    Drawing is many small elementwise operations on chunks that fit in cache; on a
    busy 2-core machine, two threads made 20k scenes at 32x32 3-5x slower (1.1 s ->
    3.4-4.9 s, and 5k at 64x64 0.7 s -> 4-11 s), and they never made them faster.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def render_layout(lay: Layout, image_size: int, with_classes: bool = False) -> dict[str, Any]:
    """Draw laid-out scenes: {"image": (N, 3, S, S) float32 in [0, 1]} (+ "classes" (N, S, S))."""
    n = len(lay.attributes)
    images = torch.empty(n, 3, image_size, image_size)
    cls = torch.empty(n, image_size, image_size, dtype=torch.int64) if with_classes else None
    step = chunk_size(image_size)
    with one_thread():
        for i in range(0, n, step):
            part = lay[i : i + step]
            cov = coverage(part, image_size)
            images[i : i + step] = paint(background(part, image_size), cov, part.colour)
            if cls is not None:
                cls[i : i + step] = classes(part, cov)
    out: dict[str, Any] = {"image": images}
    if cls is not None:
        out["classes"] = cls
    return out


def generate(
    split: str = "train",
    image_size: int = 32,
    n: int | None = None,
    seed: int = 0,
    objects: Any = (1, 2),
    start: int = 0,
    with_classes: bool = False,
) -> dict[str, Any]:
    """``load`` with a first scene index and optionally the per-pixel class map."""
    check_args(split, image_size, n, seed, objects)
    lay, u = sample(split, n, seed, objects, start)
    out = render_layout(lay, image_size, with_classes)
    out["caption"] = [caption(a, v) for a, v in zip(lay.attributes, u, strict=True)]
    out["attributes"] = torch.from_numpy(lay.attributes)
    out["label"] = labels(lay.attributes)
    return out


def load(
    split: str = "train",
    image_size: int = 32,
    n: int | None = None,
    seed: int = 0,
    objects: Any = (1, 2),
) -> dict[str, Any]:
    """Load one split of the scenes.

    Args:
        split: "train" (20,000 scenes), "val" (2,000), "test" (2,000, some with held-out
            pairs) or "heldout" (2,000, object 1 always a held-out pair).
        image_size: side S, 8..256.
        n: number of scenes (the first n of the split); default the split's size.
        seed: another seed gives another, equally distributed, dataset.
        objects: allowed object counts, (1, 2), 1 or 2.

    Returns:
        {"image": (N, 3, S, S) float32 in [0, 1], "caption": list of N str,
        "attributes": (N, 10) int64 with columns ``ATTRIBUTES`` (-1 absent),
        "label": (N,) int64 in 0..NUM_CLASSES-1, object 1's colour-shape pair}.

    Raises:
        RequestError: for an unknown split or an out-of-range size, n, seed or objects.
    """
    return generate(split, image_size, n, seed, objects)


def _index(name: str, value: Any) -> int:
    vocab = VOCAB[name]
    if isinstance(value, str) and value in vocab:
        return vocab.index(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(vocab):
        return value
    raise RequestError(f"scene {name} {value!r} is unknown; choose from {', '.join(vocab)}")


def render(spec: dict[str, Any], image_size: int = 32, seed: int | None = None) -> torch.Tensor:
    """Draw one scene described by attributes (names or indices, keys from ``ATTRIBUTES``).

    ``shape1``/``colour1`` are required, and ``shape2``/``colour2`` for a second object;
    sizes default to "large", the position to "center", the relation to "left of";
    the positions of two objects follow from the relation. -1 counts as not given,
    so the output of ``caption_to_attributes`` can be drawn. Without a seed the
    objects sit exactly at their places on a plain grey background.

    Returns:
        (3, S, S) float32 in [0, 1].
    """
    check_args("train", image_size, 1, seed or 0, (1, 2))
    given = {k: v for k, v in spec.items() if not (isinstance(v, int) and v == -1)}
    unknown = set(given) - set(ATTRIBUTES)
    if unknown:
        raise RequestError(f"unknown scene attribute {sorted(unknown)[0]!r}; use {ATTRIBUTES}")
    two = "shape2" in given or "colour2" in given
    a = np.full(len(ATTRIBUTES), -1, dtype=np.int64)
    for j in (1, 2) if two else (1,):
        for field, default in (("shape", None), ("colour", None), ("size", "large")):
            name = f"{field}{j}"
            if name not in given and default is None:
                raise RequestError(f"scene spec needs '{name}'")
            a[ATTRIBUTES.index(name)] = _index(name, given.get(name, default))
    a[8] = 2 if two else 1
    if two:
        r = _index("relation", given.get("relation", "left of"))
        a[9], a[3], a[7] = r, (0, 1, 2, 3)[r], (1, 0, 3, 2)[r]
    else:
        a[3] = _index("position1", given.get("position1", "center"))
    if seed is None:
        u = np.full((1, NUM_STREAMS), 0.5)
        u[0, S_AMP] = 0.0
    else:
        u = uniforms(seed, "train", np.array([0]), NUM_STREAMS)
    return render_layout(layout(a[None], u), image_size)["image"][0]
