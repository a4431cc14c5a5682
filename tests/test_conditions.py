"""Datasets derived from scenes and from files: condition maps, day/night, image folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from zoo.plugins.datasets import conditions, domains, scenes
from zoo.plugins.datasets.folder import load_folder
from zoo.registry.discovery import get_registry, load_object
from zoo.registry.errors import RequestError, ZooError


@pytest.mark.parametrize(
    ("name", "loader"),
    [
        ("scenes-edges", conditions.load_edges),
        ("scenes-segmentation", conditions.load_segmentation),
        ("scenes-day", domains.load_day),
        ("scenes-night", domains.load_night),
        ("scenes-daynight", domains.load_daynight),
    ],
)
def test_registered_and_loader_resolves(name: str, loader: object) -> None:
    assert load_object(get_registry().dataset(name).loader) is loader


# -- condition maps ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [16, 32, 64])
def test_paired_loaders_shapes_and_targets(size: int) -> None:
    base = scenes.load("val", size, n=20)
    for load in (conditions.load_edges, conditions.load_segmentation):
        d = load("val", size, n=20)
        assert torch.equal(d["image"], base["image"])
        assert d["caption"] == base["caption"]
        assert torch.equal(d["attributes"], base["attributes"])
        assert torch.equal(d["label"], base["label"])
        c = d["condition"]
        assert c.shape == (20, 1, size, size) and c.dtype == torch.float32
        assert c.min() >= 0 and c.max() <= 1


def boundary(classes: torch.Tensor, width: int) -> torch.Tensor:
    """Pixels within `width` of a change of class, (N, S, S) bool."""
    c = classes[:, None].float()
    k = 2 * width + 1
    hi = F.max_pool2d(c, k, 1, width)
    lo = -F.max_pool2d(-c, k, 1, width)
    return (hi != lo)[:, 0]


def test_edges_are_object_outlines() -> None:
    d = conditions.load_segmentation("test", 32, n=200)
    e = conditions.edges(d["image"])[:, 0] > 0
    assert set(torch.unique(conditions.edges(d["image"])).tolist()) <= {0.0, 1.0}
    assert (e.flatten(1).sum(1) > 0).all()  # every scene has edges
    near = boundary(d["classes"], 2)
    assert (e & near).sum() / e.sum() > 0.98  # edges sit on object boundaries ...
    assert e.float().mean() < 0.25  # ... and are thin
    rim = boundary(d["classes"], 1)  # the two pixels either side of each class change
    assert (e & rim).sum() / rim.sum() > 0.9  # ... and cover the outlines


def test_edges_ignore_smooth_backgrounds() -> None:
    g = torch.linspace(0, 1, 32)
    ramp = (0.2 + 0.6 * g[None, None, None, :] * torch.ones(2, 3, 32, 1)).contiguous()
    assert conditions.edges(ramp).sum() == 0
    assert conditions.edges(torch.full((1, 1, 8, 8), 0.5)).sum() == 0


def test_segmentation_is_exact_and_invertible() -> None:
    d = conditions.load_segmentation("val", 32, n=100)
    k = len(scenes.SHAPES)
    assert set(torch.unique(d["condition"] * k).round().tolist()) <= set(range(k + 1))
    assert torch.equal(conditions.segmentation_classes(d["condition"]), d["classes"])
    a = d["attributes"]
    for i in range(len(a)):
        present = {0, 1 + int(a[i, 0])} | ({1 + int(a[i, 4])} if a[i, 8] == 2 else set())
        assert set(torch.unique(d["classes"][i]).tolist()) == present


# -- day and night -----------------------------------------------------------------------


def test_day_and_night_are_unpaired_and_look_different() -> None:
    d = domains.load_daynight("train", 32, n=200)
    day, night = d["image_a"], d["image_b"]
    assert day.shape == night.shape == (200, 3, 32, 32)
    assert torch.equal(day, domains.load_day("train", 32, n=200)["image"])
    assert torch.equal(night, domains.load_night("train", 32, n=200)["image"])
    assert torch.equal(day, scenes.load("train", 32, n=200)["image"])
    assert day.mean() > 0.6 and night.mean() < 0.2
    assert night[:, 2].mean() > night[:, 0].mean()  # bluish
    # unpaired: the night scenes are other scenes, not the day ones redrawn
    a_day = scenes.sample("train", n=200)[0].attributes
    a_night = scenes.sample("train", n=200, start=domains.NIGHT_START)[0].attributes
    assert (a_day != a_night).any(axis=1).mean() > 0.9
    assert not set(pairs_of(a_night)) & held_pairs()  # split rules hold at night too


def pairs_of(a: np.ndarray) -> list[tuple[int, int]]:
    return [tuple(p) for p in a[:, 0:2].tolist()]


def held_pairs() -> set[tuple[int, int]]:
    return {(scenes.SHAPES.index(s), scenes.COLOURS.index(c)) for c, s in scenes.HELD_OUT}


@pytest.mark.parametrize("size", [16, 64])
def test_night_sizes_range_and_determinism(size: int) -> None:
    a = domains.load_night("val", size, n=10)["image"]
    assert a.shape == (10, 3, size, size) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, domains.load_night("val", size, n=10)["image"])
    with pytest.raises(RequestError):
        domains.load_night("nope", size, n=10)


# -- folder:PATH -------------------------------------------------------------------------


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """24 images (PNG, JPEG, RGBA, non-square, in a subfolder), some captioned, some junk."""
    rng = np.random.default_rng(0)
    for i in range(24):
        sub = tmp_path / ("more" if i % 5 == 0 else "")
        sub.mkdir(exist_ok=True)
        pixels = rng.integers(0, 256, (20 + i, 30, 3), dtype=np.uint8)
        if i % 3 == 0:
            Image.fromarray(pixels).save(sub / f"img{i:02d}.jpg")
        elif i % 7 == 0:
            rgba = np.concatenate([pixels, np.zeros_like(pixels[..., :1])], axis=2)
            Image.fromarray(rgba, "RGBA").save(sub / f"img{i:02d}.png")  # fully transparent
        else:
            Image.fromarray(pixels).save(sub / f"img{i:02d}.png")
        if i % 2 == 0:
            (sub / f"img{i:02d}.txt").write_text(f"  picture\n number {i} ", encoding="utf-8")
    (tmp_path / "notes.md").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"junk")
    return tmp_path


def test_folder_splits_sizes_and_captions(image_folder: Path) -> None:
    parts = {s: load_folder(image_folder, s, image_size=16) for s in ("train", "val", "test")}
    assert [len(p["path"]) for p in parts.values()] == [22, 1, 1]  # 24 // 20 = 1 each
    paths = [p for d in parts.values() for p in d["path"]]
    assert len(set(paths)) == 24
    for d in parts.values():
        x = d["image"]
        assert x.shape == (len(d["path"]), 3, 16, 16) and x.dtype == torch.float32
        assert x.min() >= 0 and x.max() <= 1
        for path, cap in zip(d["path"], d["caption"], strict=True):
            i = int(Path(path).stem[3:])
            assert cap == (f"picture number {i}" if i % 2 == 0 else "")
    again = load_folder(str(image_folder), "train", image_size=16)
    assert (
        torch.equal(again["image"], parts["train"]["image"])
        and again["path"] == parts["train"]["path"]
    )
    train = parts["train"]
    rgba = train["path"].index(str(image_folder / "img14.png"))
    assert torch.allclose(train["image"][rgba], torch.ones(3, 16, 16))  # transparent -> white


def test_folder_centre_crops(tmp_path: Path) -> None:
    wide = np.zeros((10, 30, 3), dtype=np.uint8)
    wide[:, 10:20] = 255  # the white middle third is the centre square
    Image.fromarray(wide).save(tmp_path / "wide.png")
    x = load_folder(tmp_path, "train", image_size=8)["image"]
    assert x.shape == (1, 3, 8, 8) and x.min() > 0.95


def test_folder_errors(tmp_path: Path, image_folder: Path) -> None:
    cases = [
        (tmp_path / "missing", "train", 16, "does not exist"),
        (image_folder / "img01.png", "train", 16, "not a folder"),
        (image_folder, "dev", 16, "unknown folder split"),
        (image_folder, "train", 2, "out of range"),
        (image_folder, "train", 16.0, "must be an integer"),
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.txt").write_text("a caption without an image")
    cases.append((empty, "train", 16, "holds no images"))
    few = tmp_path / "few"
    few.mkdir()
    Image.new("RGB", (8, 8)).save(few / "one.png")
    cases.append((few, "val", 16, "empty 'val' split"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.png").write_bytes(b"not a png")
    cases.append((broken, "train", 16, "cannot read image"))
    for path, split, size, message in cases:
        with pytest.raises(RequestError, match=message) as err:
            load_folder(path, split, size)
        assert "\n" not in str(err.value)
    assert load_folder(few, "train", 16)["image"].shape == (1, 3, 16, 16)


def test_data_names_with_a_path_go_through_the_registry(image_folder: Path) -> None:
    from zoo.data import check_name, load_split
    from zoo.registry.discovery import get_registry

    assert get_registry().dataset("folder").takes_path
    got = load_split(f"folder:{image_folder}", "train", image_size=16)
    assert torch.equal(got["image"], load_folder(image_folder, "train", image_size=16)["image"])
    for name, message in (
        ("digits:somewhere", "takes no path"),
        ("folder", "reads your files"),
        ("folder:", "names no path"),
        ("nope:x", "unknown dataset 'nope'"),
    ):
        with pytest.raises(ZooError, match=message):
            check_name(name)
