"""The reference networks `zoo eval` uses in place of Inception and CLIP.

Fast checks build the real classes at the tiny preset and train them through
`zoo.train`; the last three measure the committed models on held-out data
(the same functions `zoo reference-eval` runs, on subsets to stay quick).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

import zoo
from tests.conftest import run_zoo
from zoo.registry.cards import read_card
from zoo.registry.errors import RequestError
from zoo.testing import check_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Model folders of both families at the tiny preset, trained 2 steps."""
    from zoo.train import train

    root = tmp_path_factory.mktemp("reference")
    return {
        "classifier": train(
            "classifier", "digits", root / "classifier-tiny", preset="tiny", progress=False
        ),
        "clip": train(
            "clip",
            "scenes",
            root / "clip-tiny",
            preset="tiny",
            sets={"tokenizer": "words"},  # tests/test_text_bpe.py trains the BPE one
            progress=False,
        ),
    }


@pytest.mark.parametrize("family", ["classifier", "clip"])
def test_tiny_preset_trains_two_steps_with_finite_loss(tiny: dict[str, Path], family: str) -> None:
    card, _ = read_card(tiny[family])
    assert card.zoo.training["steps"] == 2
    assert all(math.isfinite(v) for v in card.zoo.training["final_losses"].values())
    assert card.zoo.family == family and card.zoo.sampling == {}  # reference nets draw nothing


def test_classifier_features_and_logits_shapes(tiny: dict[str, Path]) -> None:
    net = zoo.load(str(tiny["classifier"])).network
    images = torch.rand(5, 1, 8, 8)
    assert net.features(images).shape == (5, net.num_features)
    assert net.logits(images).shape == (5, 10)
    assert net.encode_text(["a"]) is None
    with pytest.raises(RequestError, match="resize them to 8x8"):
        net.features(torch.rand(5, 1, 16, 16))


def test_scenes_classifier_heads_label_logits_and_attributes() -> None:
    from zoo.plugins.classifier.config import ClassifierConfig
    from zoo.plugins.classifier.model import ClassifierNetwork
    from zoo.plugins.datasets import scenes

    config = ClassifierConfig.preset("scenes", image_size=8, widths=(4,), num_features=8)
    net = ClassifierNetwork(config).eval()
    images = torch.rand(6, 3, 8, 8)
    with torch.no_grad():
        logits, attributes = net.logits(images), net.predict_attributes(images)
    # the label logits are log p(shape) + log p(colour): a distribution over 24 classes
    assert logits.shape == (6, scenes.NUM_CLASSES)
    assert torch.allclose(logits.exp().sum(1), torch.ones(6))
    assert attributes.shape == (6, len(scenes.ATTRIBUTES)) and attributes.dtype == torch.int64
    one = attributes[:, scenes.ATTRIBUTES.index("count")] == 1
    assert (attributes[one, 4:8] == -1).all() and (attributes[one, 9] == -1).all()


def test_canonical_order_names_the_left_or_upper_object_first() -> None:
    from zoo.plugins.classifier.model import canonical_order
    from zoo.plugins.datasets.scenes import caption_to_attributes

    def parse(text: str) -> torch.Tensor:
        return torch.tensor([list(caption_to_attributes(text).values())])

    for a, b in [
        (
            "a small red circle right of a large blue square",
            "a large blue square left of a small red circle",
        ),
        ("a tiny green box below a big yellow wedge", "a big yellow wedge above a tiny green box"),
    ]:
        assert torch.equal(canonical_order(parse(a)), parse(b))
        assert torch.equal(canonical_order(parse(b)), parse(b))


def test_clip_encodes_unknown_words_and_empty_strings(tiny: dict[str, Path]) -> None:
    net = zoo.load(str(tiny["clip"])).network
    ids = net.tokenize(["", "a red circles zebra", "A RED circle"])
    assert ids[0].tolist()[:1] == [2] and (ids[0, 1:] == 0).all()  # BOS, then padding
    assert ids[1, 4] == 1  # 'zebra' is UNK; 'circles' falls back to 'circle'
    assert torch.equal(ids[1, :4], ids[2, :4])
    with torch.no_grad():
        text = net.encode_text(["", "zebra quokka", "a red circle", "ünïcode ✓"])
        images = net.features(torch.rand(4, 3, 8, 8))
        score = net.score(torch.rand(2, 3, 8, 8), ["", "a dot"])
    assert text.shape == images.shape == (4, net.num_features)
    assert torch.allclose(text.norm(dim=1), torch.ones(4), atol=1e-5)
    assert torch.allclose(images.norm(dim=1), torch.ones(4), atol=1e-5)
    assert score.shape == (2,) and (score >= 0).all() and (score <= 100).all()
    assert net.logits(images) is None


def test_clip_config_round_trips_through_config_json(tiny: dict[str, Path]) -> None:
    from zoo.plugins.clip.config import ClipConfig
    from zoo.plugins.nn.scenes import scene_vocabulary

    data = json.loads((tiny["clip"] / "config.json").read_text())
    assert data["vocabulary"] == list(scene_vocabulary())
    assert ClipConfig(**data) == ClipConfig.preset("tiny", tokenizer="words")
    assert "crimson" in data["vocabulary"] and "wedge" in data["vocabulary"]


def test_reference_eval_writes_the_card(tiny: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "classifier-tiny"
    shutil.copytree(tiny["classifier"], folder)
    result = run_zoo("reference-eval", str(folder), "--write-card")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    card, body = read_card(folder)
    metric = card.model_index[0]["results"][0]["metrics"][0]
    assert metric["value"] == figures["results"][0]["metrics"][0]["value"]
    assert metric["args"]["command"].startswith("zoo reference-eval")
    assert "## Evaluation" in body
    check_model(str(folder))  # the card still verifies


def test_reference_eval_refuses_generators(tiny_dcgan: Path) -> None:
    result = run_zoo("reference-eval", str(tiny_dcgan))
    assert result.returncode == 2 and "not a reference network" in result.stderr


# -- the committed models ------------------------------------------------------------


def test_classifier_digits_is_accurate_on_the_test_split() -> None:
    from zoo.reference import measure

    figures = measure("classifier-digits")
    assert figures["model"] == "classifier-digits"
    assert figures["results"][0]["metrics"][0]["value"] >= 0.97


def test_classifier_scenes_reads_attributes_of_held_out_scenes() -> None:
    from zoo.reference import measure

    metrics = measure("classifier-scenes", n=500)["results"][0]["metrics"]
    assert metrics[0]["type"] == "accuracy" and metrics[0]["value"] >= 0.98


def test_clip_scenes_retrieves_the_right_caption_among_100() -> None:
    from zoo.reference import measure

    test = measure("clip-scenes", n=500)["results"][0]
    assert test["dataset"]["split"] == "test"
    assert test["metrics"][0]["value"] >= 0.9


def test_evaluators_read_the_data_the_app_hands_them(tiny: dict[str, Path]) -> None:
    """The evaluator sees only the network and the splits it is given, never a model id."""
    from zoo.plugins.classifier.evaluate import evaluate_reference
    from zoo.plugins.datasets import digits

    net = zoo.load(str(tiny["classifier"]), device="cpu").network
    asked: list[str] = []

    def load_split(split: str) -> dict:
        asked.append(split)
        data = digits.load(split, net.config.image_size)
        return {**data, "label": (data["label"] + 1) % 10}  # labels of our own making

    figures = evaluate_reference(net, "digits", load_split, n=100)
    data = load_split("test")
    with torch.no_grad():
        pred = net.logits(data["image"][:100]).argmax(1)
    expected = (pred == data["label"][:100]).float().mean().item()
    assert asked[0] == "test" and "model" not in figures
    assert figures["results"][0]["dataset"] == {"name": "digits", "type": "digits", "split": "test"}
    assert figures["results"][0]["metrics"][0]["value"] == round(expected, 4)
