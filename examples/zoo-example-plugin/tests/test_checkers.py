"""Tests of the checkers plugin: the zoo's contract checks, then what is particular to it.

Run with the plugin installed (`pip install -e .`): `pytest`.
"""

from __future__ import annotations

import pytest
import torch
from zoo.registry.errors import RequestError
from zoo.testing import check_family, check_model

from zoo_example_plugin.data import CELLS, load


def test_family_keeps_the_zoo_contracts() -> None:
    check_family("checkers")


def test_shipped_model_keeps_the_zoo_contracts() -> None:
    check_model("checkers-demo")


def test_dataset_is_fixed_and_labelled_by_cell_size() -> None:
    a, b = load("train"), load("train")
    assert torch.equal(a["image"], b["image"])  # procedural but fixed
    assert a["image"].shape == (2048, 1, 8, 8) and a["label"].max() == len(CELLS) - 1
    x, y = a["image"][:, 0], a["label"]
    # a cell of 1 pixel flips at every step, a cell of 4 pixels only at the middle
    flips = (x[:, :, 1:] != x[:, :, :-1]).float().sum(dim=(1, 2)) / 8
    for k, cell in enumerate(CELLS):
        assert torch.all(flips[y == k] == 8 // cell - 1)


def test_bad_dataset_arguments_are_clear_errors() -> None:
    with pytest.raises(RequestError, match="multiple of 8|8, 16"):
        load("train", image_size=12)
    with pytest.raises(RequestError, match="split"):
        load("everything")


def test_demo_model_draws_the_asked_cell_size() -> None:
    import zoo

    model = zoo.load("checkers-demo", device="cpu")
    for label, cell in enumerate(CELLS):
        x = model.sample(n=8, seed=0, label=label).images[:, 0]
        # horizontal neighbours across a cell border differ more than inside a cell
        diff = (x[:, :, 1:] - x[:, :, :-1]).abs().mean(dim=(0, 1))  # (7,) per column gap
        border = torch.tensor([(j + 1) % cell == 0 for j in range(7)])
        assert diff[border].min() > 0.3, (label, diff)  # neighbours across a border differ
        if not border.all():
            assert diff[~border].max() < 0.1, (label, diff)  # inside a cell they agree


def test_the_family_option_is_taken_and_changes_the_cells() -> None:
    import zoo

    model = zoo.load("checkers-demo", device="cpu")
    plain = model.sample(n=4, seed=0, label=1).images
    crisp = model.sample(n=4, seed=0, label=1, sharpness=4.0).images
    soft = model.sample(n=4, seed=0, label=1, options={"sharpness": 0.25}).images
    # crisper cells sit further from grey than plain ones, softer ones nearer
    dist = [float((x - 0.5).abs().mean()) for x in (soft, plain, crisp)]
    assert dist[0] < dist[1] < dist[2], dist
    with pytest.raises(RequestError, match="sharpness"):
        model.sample(n=1, sharpness=-1.0)
