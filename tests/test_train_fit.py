"""`zoo train` checks, before the first step, that the dataset gives what the family reads."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import run_zoo
from zoo.data import check_fit, load_split
from zoo.registry.contracts import DataNeeds
from zoo.registry.discovery import get_registry, load_object
from zoo.registry.errors import RequestError


@pytest.mark.parametrize(
    ("family", "data", "phrase"),
    [
        ("pix2pix", "digits", "it has no 'condition' (it gives image, label)"),
        ("cyclegan", "digits", "it has no 'image_a', 'image_b'"),
        ("stackgan", "digits", "it has no 'caption'"),
        ("dalle", "digits", "it has no 'caption'"),
        ("cgan", "scenes", "its 'label' runs 0..23 where the config has 10 classes"),
        ("dcgan", "scenes", "its 'image' has 3 channels where the config has 1"),
        ("noisy-classifier", "scenes", "its 'label' runs 0..23 where the config has 10 classes"),
    ],
)
def test_a_dataset_that_does_not_fit_is_one_line_before_training(
    tmp_path, family, data, phrase
) -> None:
    out = tmp_path / "m"
    proc = run_zoo(
        "train", family, "--data", data, "--out", str(out), "--preset", "tiny", "--steps", "5"
    )
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "\r" not in line  # no progress bar started
    assert line.startswith(f"zoo: dataset '{data}' does not fit {family}: ")
    assert phrase in line
    assert not out.exists()


def tiny_needs(family: str) -> DataNeeds:
    spec = get_registry().family(family)
    config = load_object(spec.generator).config_class.preset("tiny")
    return load_object(spec.trainer).needs(config)


def test_the_message_names_the_set_that_fits() -> None:
    split = load_split("digits", "train", 8)
    with pytest.raises(RequestError) as err:
        check_fit(tiny_needs("stylegan"), split, "stylegan", "digits")
    assert "its 'image' has 1 channel where the config has 3 (--set channels=1 fits it)" in str(
        err.value
    )
    split["label"] = split["label"] + 5  # 5..14
    with pytest.raises(RequestError, match=r"runs 5\.\.14 .* \(--set num_classes=15 fits it\)"):
        check_fit(tiny_needs("biggan"), split, "biggan", "digits")


def test_image_size_and_caption_text_are_checked() -> None:
    needs = DataNeeds(images={"image": 1}, image_size=8, captions=True)
    split = {"image": torch.zeros(3, 1, 16, 16), "caption": ["", "", ""]}
    with pytest.raises(RequestError) as err:
        check_fit(needs, split, "x", "d")
    assert "its 'image' is 16x16 where the config has 8x8" in str(err.value)
    assert "its captions are empty or not text" in str(err.value)
    check_fit(needs, {"image": torch.zeros(3, 1, 8, 8), "caption": ["a", "b", "c"]}, "x", "d")


def test_every_recipe_declares_what_its_tiny_preset_reads() -> None:
    """Each family with a recipe fits the dataset its shipped models were trained on."""
    fits = {
        "pix2pix": "scenes-edges",
        "cyclegan": "scenes-daynight",
        "stylegan": "scenes",
        "vqvae": "scenes",
        "clip": "scenes",
        "noisy-clip": "scenes",
        "stackgan": "scenes",
        "dalle": "scenes",
        "klvae": "scenes",
        "ldm": "scenes",
        "glide": "scenes",
    }
    reg = get_registry()
    trained = sorted(name for name, spec in reg.families.items() if spec.trainer)
    assert {"cgan", "pix2pix", "cyclegan", "stackgan", "dalle"} <= set(trained)
    splits: dict[tuple[str, int | None], dict] = {}
    for family in trained:
        needs = tiny_needs(family)
        data = fits.get(family, "digits")
        key = (data, needs.image_size)
        splits[key] = splits.get(key) or load_split(data, "train", needs.image_size)
        check_fit(needs, splits[key], family, data)
        assert needs.images, family


def test_force_removes_no_checkpoint_when_the_dataset_does_not_fit(tmp_path) -> None:
    """The check comes before --force clears the earlier run's checkpoints."""
    from zoo import checkpoint

    out = tmp_path / "m"
    kept = checkpoint.folder_for(out)
    kept.mkdir(parents=True)
    (kept / "latest").write_text("step-5\n")
    proc = run_zoo(
        "train", "pix2pix", "--data", "digits", "--out", str(out), "--preset", "tiny", "--force"
    )
    assert proc.returncode == 2 and "does not fit pix2pix" in proc.stderr
    assert (kept / "latest").read_text() == "step-5\n"


def test_steps_below_what_the_config_allows_are_refused_before_training(tmp_path) -> None:
    """--steps replaces the config's steps and is validated with it (vqvae needs 2 or more)."""
    out = tmp_path / "vq"
    proc = run_zoo(
        "train", "vqvae", "--data", "scenes", "--out", str(out), "--preset", "tiny", "--steps", "1"
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "zoo: invalid --steps: steps: Input should be greater than or equal to 2"
    )
    assert not out.exists()
