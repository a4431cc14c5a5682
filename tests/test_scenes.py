"""The scenes dataset: determinism, shapes, captions, held-out pairs, geometry, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo.plugins.datasets import scenes
from zoo.plugins.datasets.scenes import (
    ATTRIBUTES,
    COLOURS,
    HELD_OUT,
    SHAPES,
    SPLITS,
    caption_to_attributes,
    load,
    render,
)
from zoo.registry.discovery import get_registry, load_object
from zoo.registry.errors import RequestError

HELD = {(SHAPES.index(s), COLOURS.index(c)) for c, s in HELD_OUT}


def pairs(attributes: np.ndarray) -> list[tuple[int, int]]:
    """Every (shape, colour) pair of every present object."""
    a = np.asarray(attributes)
    out = [tuple(p) for p in a[:, 0:2].tolist()]
    return out + [tuple(p) for p in a[a[:, 8] == 2][:, 4:6].tolist()]


def test_registered_and_loader_resolves() -> None:
    assert load_object(get_registry().dataset("scenes").loader) is load


def test_same_bytes_twice_and_independent_of_global_rng() -> None:
    torch.manual_seed(1)
    np.random.seed(1)
    a = load("val", image_size=32, n=300)
    torch.manual_seed(2)
    np.random.seed(2)
    b = load("val", image_size=32, n=300)
    assert a["image"].numpy().tobytes() == b["image"].numpy().tobytes()
    assert a["caption"] == b["caption"]
    assert torch.equal(a["attributes"], b["attributes"])


def test_scene_k_does_not_depend_on_n() -> None:
    short, full = load("train", 16, n=20), load("train", 16, n=100)
    assert torch.equal(short["image"], full["image"][:20])
    assert short["caption"] == full["caption"][:20]


def test_seeds_and_splits_differ() -> None:
    a = load("train", 16, n=50, seed=0)["image"]
    assert not torch.equal(a, load("train", 16, n=50, seed=1)["image"])
    assert not torch.equal(a, load("val", 16, n=50, seed=0)["image"])


@pytest.mark.parametrize("size", [16, 32, 64])
def test_shapes_dtypes_and_range(size: int) -> None:
    for split in SPLITS:
        d = load(split, image_size=size, n=40)
        x, a, y = d["image"], d["attributes"], d["label"]
        assert x.shape == (40, 3, size, size) and x.dtype == torch.float32
        assert x.min() >= 0 and x.max() <= 1
        assert a.shape == (40, len(ATTRIBUTES)) and a.dtype == torch.int64
        assert y.dtype == torch.int64 and torch.equal(y, a[:, 0] * len(COLOURS) + a[:, 1])
        assert len(d["caption"]) == 40 and all(isinstance(c, str) for c in d["caption"])


def test_default_sizes_and_object_counts() -> None:
    lay, _ = scenes.sample("val")
    assert len(lay.attributes) == 2000
    assert set(lay.attributes[:, 8].tolist()) == {1, 2}
    one = load("val", 16, n=50, objects=1)["attributes"]
    assert (one[:, 8] == 1).all() and (one[:, 4:8] == -1).all() and (one[:, 9] == -1).all()
    two = load("val", 16, n=50, objects=2)["attributes"]
    assert (two[:, 8] == 2).all() and (two >= 0).all()


def test_captions_parse_back_to_their_attributes() -> None:
    lay, u = scenes.sample("test", n=500)
    captions = [scenes.caption(a, v) for a, v in zip(lay.attributes, u, strict=True)]
    for text, a in zip(captions, lay.attributes, strict=True):
        parsed = caption_to_attributes(text)
        assert parsed is not None and [parsed[k] for k in ATTRIBUTES] == a.tolist(), text
    # the wording varies: many distinct first words and synonyms
    words = {w for c in captions for w in c.split()}
    assert {"crimson", "disc", "tiny", "beneath", "middle"} <= words
    assert len({c.split()[0] for c in captions}) >= 3


def test_parser_on_hand_written_prompts() -> None:
    p = caption_to_attributes("A tiny crimson disc at the left.")
    assert p is not None
    assert (p["shape1"], p["colour1"], p["size1"], p["position1"], p["count"]) == (0, 0, 0, 0, 1)
    p = caption_to_attributes("a blue square above a yellow triangle")
    assert p is not None
    assert (p["shape1"], p["colour1"], p["shape2"], p["colour2"]) == (1, 2, 2, 3)
    assert (p["relation"], p["position1"], p["position2"], p["size1"]) == (2, 2, 3, -1)
    assert caption_to_attributes("a photo of a cat") is None


def test_held_out_pairs_never_in_train_or_val_but_their_parts_are() -> None:
    for split in ("train", "val"):
        lay, _ = scenes.sample(split)  # the whole default split, attributes only
        seen = set(pairs(lay.attributes))
        assert not seen & HELD, split
        assert {s for s, _ in seen} == set(range(len(SHAPES)))
        assert {c for _, c in seen} == set(range(len(COLOURS)))
    assert len(set(pairs(scenes.sample("train")[0].attributes))) == len(SHAPES) * len(COLOURS) - 3


def test_held_out_pairs_in_test_and_heldout() -> None:
    a = scenes.sample("heldout", n=500)[0].attributes
    assert all((s, c) in HELD for s, c in a[:, 0:2].tolist())
    assert set(map(tuple, a[:, 0:2].tolist())) == HELD
    t = scenes.sample("test")[0].attributes
    frac = np.mean([(s, c) in HELD for s, c in t[:, 0:2].tolist()])
    assert 0.2 < frac < 0.3  # HELD_OUT_RATE = 0.25


def test_sample_matches_load() -> None:
    d = load("test", 16, n=30)
    lay, _ = scenes.sample("test", n=30)
    assert torch.equal(d["attributes"], torch.from_numpy(lay.attributes))


def test_pixels_follow_the_attributes() -> None:
    lay, _ = scenes.sample("val", n=400)
    d = scenes.render_layout(lay, 32)
    cov = scenes.coverage(lay, 32)
    a = lay.attributes
    g = (torch.arange(32) + 0.5) / 32
    mass = cov.sum(dim=(2, 3))  # (N, 2)
    cx = (cov * g[None, None, None, :]).sum(dim=(2, 3)) / mass.clamp(min=1e-6)
    cy = (cov * g[None, None, :, None]).sum(dim=(2, 3)) / mass.clamp(min=1e-6)
    side = {0: lambda x, y: x < 0.4, 1: lambda x, y: x > 0.6, 2: lambda x, y: y < 0.4,
            3: lambda x, y: y > 0.6, 4: lambda x, y: abs(x - 0.5) < 0.1 and abs(y - 0.5) < 0.1}  # fmt: skip
    for i in range(len(a)):
        for j in range(a[i, 8]):
            assert side[a[i, 3 + 4 * j]](cx[i, j].item(), cy[i, j].item()), (i, j)
            inside = cov[i, j] > 0.99
            colour = d["image"][i][:, inside].mean(dim=1).numpy()
            assert np.abs(colour - scenes.RGB[COLOURS[a[i, 1 + 4 * j]]]).max() < 0.07
        if a[i, 8] == 2:  # two objects never overlap
            assert (cov[i, 0] * cov[i, 1]).sum() == 0
    # large objects cover more than small ones of the same shape and count
    for shape in range(len(SHAPES)):
        for count in (1, 2):
            sel = (a[:, 0] == shape) & (a[:, 8] == count)
            small = mass[torch.from_numpy(sel & (a[:, 2] == 0)), 0]
            large = mass[torch.from_numpy(sel & (a[:, 2] == 1)), 0]
            assert small.max() < large.min()


def test_render_one_scene_from_a_spec_or_a_prompt() -> None:
    img = render({"shape1": "circle", "colour1": "red", "position1": "left"}, 32)
    assert img.shape == (3, 32, 32)
    red = (img[0] > 0.7) & (img[1] < 0.3)
    cols = torch.nonzero(red)[:, 1].float()
    assert red.sum() > 20 and cols.mean() < 14
    spec = caption_to_attributes("a big blue square above a small yellow triangle")
    assert spec is not None
    img = render(spec, 64)
    blue = torch.nonzero((img[2] > 0.7) & (img[0] < 0.3))[:, 0].float().mean()
    yellow = torch.nonzero((img[0] > 0.7) & (img[2] < 0.3))[:, 0].float().mean()
    assert blue < 28 < 36 < yellow
    assert torch.equal(render(spec, 16, seed=3), render(spec, 16, seed=3))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"split": "training"},
        {"image_size": 4},
        {"image_size": 512},
        {"image_size": 32.0},
        {"image_size": True},
        {"n": 0},
        {"seed": -1},
        {"objects": 3},
        {"objects": ()},
    ],
)
def test_bad_arguments_raise_request_error(kwargs: dict) -> None:
    with pytest.raises(RequestError) as err:
        load(**{"n": 2, **kwargs})
    assert "\n" not in str(err.value)


def test_bad_render_specs_raise_request_error() -> None:
    for spec in ({"shape1": "hexagon", "colour1": "red"}, {"colour1": "red"}, {"shape": 0}):
        with pytest.raises(RequestError):
            render(spec)
