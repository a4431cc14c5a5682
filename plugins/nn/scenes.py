"""The scenes' language: what a scene's attributes are and how its captions say them.

The procedural scenes dataset (``plugins/datasets/scenes.py``) draws scenes from
these definitions, and the families that read scene attributes or captions (the
classifier's heads, CLIP's and DALL-E's word vocabulary, their recipes and
evaluators) share them from here, so no family imports the dataset. Everything here
is part of trained weights: the order of a tuple is an attribute's value, and
``scene_vocabulary`` fixes the token ids of CLIP and DALL-E. Change nothing in place.

No torch at import: the configs that read the vocabulary load without it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.plugins.nn.text import words

if TYPE_CHECKING:
    import torch

# -- attributes (value = index into these tuples) ----------------------------------------

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")
SIZES: tuple[str, ...] = ("small", "large")
POSITIONS: tuple[str, ...] = ("left", "right", "top", "bottom", "center")
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
COUNTS: tuple[str, ...] = ("zero", "one", "two")  # the value is the number of objects

# Columns of the "attributes" tensor; -1 marks an absent value (object 2 and the
# relation of a one-object scene).
ATTRIBUTES: tuple[str, ...] = (
    "shape1", "colour1", "size1", "position1",
    "shape2", "colour2", "size2", "position2",
    "count", "relation",
)  # fmt: skip
VOCAB: dict[str, tuple[str, ...]] = {
    "shape1": SHAPES, "colour1": COLOURS, "size1": SIZES, "position1": POSITIONS,
    "shape2": SHAPES, "colour2": COLOURS, "size2": SIZES, "position2": POSITIONS,
    "count": COUNTS, "relation": RELATIONS,
}  # fmt: skip

# label = shape1 * len(COLOURS) + colour1; CLASS_NAMES[label] is e.g. "red circle".
NUM_CLASSES = len(SHAPES) * len(COLOURS)
CLASS_NAMES: tuple[str, ...] = tuple(f"{c} {s}" for s in SHAPES for c in COLOURS)


def labels(attributes: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Class index of object 1's colour-shape pair: shape1 * len(COLOURS) + colour1, (N,)."""
    import torch

    a = torch.as_tensor(attributes)
    return (a[:, 0] * len(COLOURS) + a[:, 1]).long()


_OBJ1 = [ATTRIBUTES.index(f"{f}1") for f in ("shape", "colour", "size", "position")]
_OBJ2 = [ATTRIBUTES.index(f"{f}2") for f in ("shape", "colour", "size", "position")]
_REL = ATTRIBUTES.index("relation")
_FLIP = {
    RELATIONS.index("right of"): RELATIONS.index("left of"),
    RELATIONS.index("below"): RELATIONS.index("above"),
}


def canonical_order(attributes: torch.Tensor) -> torch.Tensor:
    """Scenes attributes (N, 10) int64 with the two objects named in a fixed order.

    "A right of B" is the picture of "B left of A", and "A below B" that of "B
    above A", so no image can tell which object a caption named first. Here
    object 1 is always the left or the upper one: where the relation is "right
    of" or "below", the objects' columns swap and the relation flips. One-object
    scenes and unknown relations (-1) stay as they are.
    """
    a = attributes.clone()
    for old, new in _FLIP.items():
        rows = (attributes[:, _REL] == old).nonzero()  # (k, 1): broadcasts against the columns
        a[rows, _OBJ1] = attributes[rows, _OBJ2]
        a[rows, _OBJ2] = attributes[rows, _OBJ1]
        a[rows, _REL] = new
    return a


def same_scene(attributes: torch.Tensor) -> torch.Tensor:
    """(N, N) bool: scenes i and j have the same attributes, whichever object is named first.

    "A right of B" shows the same as "B left of A": each scene's objects are put in
    one order (object 1 left of or above object 2) before comparing.
    """
    a = canonical_order(attributes)
    return (a[:, None, :] == a[None, :, :]).all(-1)


# -- captions ----------------------------------------------------------------------------

# Synonyms; the first word of each is the canonical one. Generation and parsing share them.
SIZE_WORDS = (("small", "little", "tiny"), ("large", "big", "huge"))
COLOUR_WORDS = (
    ("red", "crimson", "scarlet"),
    ("green", "emerald", "jade"),
    ("blue", "azure", "cobalt"),
    ("yellow", "golden", "lemon"),
    ("purple", "violet", "plum"),
    ("orange", "tangerine", "amber"),
)
SHAPE_WORDS = (
    ("circle", "disc", "dot", "disk"),
    ("square", "box", "block"),
    ("triangle", "wedge"),
    ("diamond", "rhombus", "lozenge"),
)
POSITION_WORDS = (
    ("on the left", "at the left", "on the left side", "to the left"),
    ("on the right", "at the right", "on the right side", "to the right"),
    ("at the top", "near the top", "in the upper part"),
    ("at the bottom", "near the bottom", "in the lower part"),
    ("in the center", "in the middle", "in the centre"),
)
RELATION_WORDS = (
    ("to the left of", "left of", "on the left of"),
    ("to the right of", "right of", "on the right of"),
    ("above", "over", "higher than"),
    ("below", "under", "beneath", "lower than"),
)
ONE_TEMPLATES = (
    "a {a} {p}",
    "there is a {a} {p}",
    "a {a} sitting {p}",
    "{p}, a {a}",
    "one {a} {p}",
)
TWO_TEMPLATES = (
    "a {a} {r} a {b}",
    "a {a} is {r} a {b}",
    "there is a {a} {r} a {b}",
    "a {a} placed {r} a {b}",
)
PARSE_ONLY = {"disk"}  # understood by the parser, never written

# A scene's randomness is NUM_STREAMS uniform numbers (the dataset assigns the
# streams); a caption reads its template from stream S_TEMPLATE and its synonyms from
# streams S_WORDS .. S_WORDS + 6.
NUM_STREAMS = 36
S_TEMPLATE, S_WORDS = 26, 27


def scene_vocabulary() -> tuple[str, ...]:
    """Every word the scenes' captions can hold (synonym tables and templates), sorted."""
    tables = (SIZE_WORDS, COLOUR_WORDS, SHAPE_WORDS, POSITION_WORDS, RELATION_WORDS)
    text = " ".join(w for table in tables for ws in table for w in ws)
    templates = " ".join(ONE_TEMPLATES + TWO_TEMPLATES)
    text += " " + re.sub(r"\{\w+\}", " ", templates)  # drop the {a}/{p} slots
    return tuple(sorted(set(words(text))))


def pick(u: np.ndarray, k: int) -> np.ndarray:
    """Uniforms in [0, 1) -> indices in 0..k-1, each with probability 1/k."""
    return np.minimum((u * k).astype(np.int64), k - 1)


def _word(table: tuple[tuple[str, ...], ...], index: int, u: float) -> str:
    options = [w for w in table[index] if w not in PARSE_ONLY]
    return options[min(int(u * len(options)), len(options) - 1)]


def caption(attributes: np.ndarray, u: np.ndarray) -> str:
    """One caption for one scene's attributes (K,), choosing words with uniforms u (NUM_STREAMS,)."""
    a, w = attributes, u[S_WORDS:]

    def obj(j: int) -> str:  # "small red circle"
        size = _word(SIZE_WORDS, a[4 * j + 2], w[3 * j])
        colour = _word(COLOUR_WORDS, a[4 * j + 1], w[3 * j + 1])
        return f"{size} {colour} {_word(SHAPE_WORDS, a[4 * j], w[3 * j + 2])}"

    if a[8] == 1:
        t = ONE_TEMPLATES[pick(u[S_TEMPLATE : S_TEMPLATE + 1], len(ONE_TEMPLATES))[0]]
        return t.format(a=obj(0), p=_word(POSITION_WORDS, a[3], w[6]))
    t = TWO_TEMPLATES[pick(u[S_TEMPLATE : S_TEMPLATE + 1], len(TWO_TEMPLATES))[0]]
    return t.format(a=obj(0), b=obj(1), r=_word(RELATION_WORDS, a[9], w[6]))


def fresh_captions(batch: Mapping[str, Any], dropout: float = 0.0) -> list[str]:
    """A training batch's captions: new ones drawn from the scenes' attributes when the batch
    has them (so a scene is read in many phrasings over the epochs), else the batch's own;
    each dropped to "" with probability ``dropout`` (the null condition of classifier-free
    guidance). Draws from torch's global generator, as the trainer seeds it."""
    import torch

    attributes = batch.get("attributes")
    if attributes is not None and attributes.shape[-1] == 10:
        a = attributes.cpu().numpy()
        u = torch.rand(len(a), NUM_STREAMS, dtype=torch.float64).numpy()
        texts = [caption(a[i], u[i]) for i in range(len(a))]
    else:
        texts = [str(t) for t in batch["caption"]]
    if dropout <= 0:
        return texts
    drop = torch.rand(len(texts)) < dropout
    return ["" if d else t for t, d in zip(texts, drop.tolist(), strict=True)]
