"""The models shipped in cards/: they load, verify and do their job."""

from __future__ import annotations

import pytest
import torch

import zoo
from tests import digit_judge
from tests.conftest import run_zoo

SHIPPED = ["gan-digits", "dcgan-digits", "cgan-digits"]


def test_shipped_models_are_listed() -> None:
    ids = {m["id"]: m for m in zoo.list_models()}
    for mid in SHIPPED:
        assert ids[mid]["source"] == "embedded" and ids[mid]["plugin"] == "cards"
    assert ids["cgan-digits"]["capabilities"] == ["class"]
    assert ids["dcgan-digits"]["capabilities"] == ["unconditional"]


def test_judge_is_accurate_on_real_digits() -> None:
    assert digit_judge.held_out_accuracy() >= 0.95


@pytest.mark.parametrize("model_id", ["gan-digits", "dcgan-digits"])
def test_unconditional_models_draw_varied_digits(model_id: str) -> None:
    images = zoo.load(model_id).sample(n=100, seed=0).images
    assert images.shape[1:] == (1, 16, 16)
    classes = digit_judge.predict(images)
    # recognisable digits of many kinds: most classes appear (no total mode collapse)
    assert len(set(classes.tolist())) >= 8, classes.bincount(minlength=10)
    # and the judge is confident they are digits: ink where digits have it
    assert 0.1 < images.mean().item() < 0.6


def test_cgan_draws_the_requested_label() -> None:
    model = zoo.load("cgan-digits")
    hits = []
    for label in range(10):
        images = model.sample(n=20, seed=100, label=label).images
        hits.append((digit_judge.predict(images) == label).float().mean().item())
    per_label = dict(enumerate(round(h, 2) for h in hits))
    assert sum(hits) / 10 >= 0.9, per_label
    assert hits[7] >= 0.9, per_label


def test_dcgan_grid_is_byte_identical_and_image_3_is_seed_3(tmp_path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for out in (a, b):
        proc = run_zoo("sample", "dcgan-digits", "-n", "16", "--seed", "0", "-o", str(out))
        assert proc.returncode == 0, proc.stderr
    assert a.read_bytes() == b.read_bytes()
    grid = zoo.load("dcgan-digits").sample(n=16, seed=0).images
    alone = zoo.load("dcgan-digits").sample(n=1, seed=3).images
    assert torch.equal(grid[3], alone[0])


def test_cgan_sevens_from_the_cli(tmp_path) -> None:
    proc = run_zoo("sample", "cgan-digits", "--label", "7", "-n", "8", "-o", str(tmp_path / "s"))
    assert proc.returncode == 0, proc.stderr
    from zoo.images import load_image

    images = torch.cat([load_image(p, 1) for p in sorted((tmp_path / "s").iterdir())])
    assert (digit_judge.predict(images) == 7).float().mean().item() >= 0.75


@pytest.mark.parametrize("model_id", SHIPPED)
def test_card_records_training_and_speed(model_id: str) -> None:
    card = zoo.load(model_id).card
    t, s = card.zoo.training, card.zoo.sampling
    assert t["command"].startswith("zoo train ") and t["time_seconds"] > 0
    assert card.zoo.parameters and card.zoo.parameters > 1000
    assert s["images_per_second"] > 0
    assert card.datasets == ["digits"] and card.library_name == "zoo"
