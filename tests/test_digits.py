"""The digits dataset: fixed stratified splits, shapes, range, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from zoo.plugins.datasets.digits import SPLITS, load, split_indices
from zoo.registry.discovery import get_registry, load_object
from zoo.registry.errors import RequestError


def test_registered_and_loader_resolves() -> None:
    spec = get_registry().dataset("digits")
    assert load_object(spec.loader) is load


@pytest.mark.parametrize("size", [4, 8, 16, 32])
def test_shapes_dtypes_and_range(size: int) -> None:
    sizes = {}
    for split in SPLITS:
        d = load(split, image_size=size)
        x, y = d["image"], d["label"]
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape == (len(y), 1, size, size)
        assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.8  # ink reaches ~1
        assert set(y.tolist()) == set(range(10))
        sizes[split] = len(y)
    assert sizes == {"train": 1438, "val": 179, "test": 180}


def test_native_size_is_the_raw_data_over_16() -> None:
    raw = load_digits()
    index = split_indices(raw.target)["val"]
    d = load("val", image_size=8)
    expected = torch.from_numpy(raw.images[index] / 16.0).float()[:, None]
    assert torch.equal(d["image"], expected)
    assert torch.equal(d["label"], torch.from_numpy(raw.target[index]).long())


def test_splits_are_disjoint_complete_and_stratified() -> None:
    labels = load_digits().target
    parts = split_indices(labels)
    all_idx = np.concatenate(list(parts.values()))
    assert len(all_idx) == len(set(all_idx.tolist())) == len(labels)  # disjoint, cover all
    for c in range(10):
        n_c = (labels == c).sum()
        for split, frac in zip(SPLITS, (0.8, 0.1, 0.1), strict=True):
            assert abs((labels[parts[split]] == c).sum() - frac * n_c) <= 1, (split, c)


def test_deterministic_and_independent_of_global_rng() -> None:
    torch.manual_seed(1)
    np.random.seed(1)
    a = load("train", image_size=16)
    torch.manual_seed(2)
    np.random.seed(2)
    b = load("train", image_size=16)
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["label"], b["label"])


def test_upsampling_keeps_the_digit() -> None:
    # area-averaging the 16x16 image back to 8x8 lands near the original (bilinear
    # blurs a little), much nearer than to another digit
    small, big = load("test", image_size=8)["image"], load("test", image_size=16)["image"]
    back = torch.nn.functional.avg_pool2d(big, 2)
    own, other = (back - small).abs().mean(), (back - small.roll(1, 0)).abs().mean()
    assert own < 0.1 and own < other / 3


@pytest.mark.parametrize("split", ["training", "", "TRAIN"])
def test_bad_split(split: str) -> None:
    with pytest.raises(RequestError, match="unknown digits split"):
        load(split)


@pytest.mark.parametrize("size", [0, 3, 257, -8, 16.0, "16", True])
def test_bad_size(size) -> None:
    with pytest.raises(RequestError, match="image_size"):
        load("train", image_size=size)
