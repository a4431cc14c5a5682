"""What the two token families share: both draw through the one registered `ar` sampler,
and `zoo list --json` says how each model samples and whether it reconstructs."""

from __future__ import annotations

import json

import pytest
import torch

import zoo
from tests.conftest import run_zoo
from zoo.plugins.samplers.autoregressive import AutoregressiveSampler
from zoo.testing import BATCH_TOLERANCE


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict:
    from zoo.train import train

    root = tmp_path_factory.mktemp("token-models")
    return {
        family: zoo.load(str(train(family, "scenes", root / family, preset="tiny", progress=False)))
        for family in ("vqvae", "dalle")
    }


@pytest.mark.parametrize(
    ("family", "request_"), [("vqvae", {}), ("dalle", {"prompt": "a red circle"})]
)
def test_both_families_draw_through_the_registered_ar_sampler(
    tiny_models, monkeypatch, family: str, request_: dict
) -> None:
    model = tiny_models[family]
    calls = []
    original = AutoregressiveSampler._draw

    def spy(self, generator, draw, opts, seeds, **kwargs):
        calls.append(list(seeds))
        return original(self, generator, draw, opts, seeds, **kwargs)

    monkeypatch.setattr(AutoregressiveSampler, "_draw", spy)
    images = model.sample(n=3, seed=5, temperature=0.8, **request_).images
    assert images.shape[0] == 3 and calls, "the ar sampler was not used"
    assert calls[0] == [5, 6, 7]
    # one image does not depend on its batch: the second seed drawn alone is the same
    # (up to the rounding of batched convolutions)
    alone = model.sample(n=1, seed=6, temperature=0.8, **request_).images
    assert torch.allclose(alone[0], images[1], atol=BATCH_TOLERANCE)


def test_zoo_list_json_shows_the_token_models() -> None:
    res = run_zoo("list", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["id"]: r for r in json.loads(res.stdout)}
    vq, dalle = rows["vqvae-scenes"], rows["dalle-scenes"]
    assert (vq["family"], vq["process"], vq["sampler"]) == ("vqvae", "autoregressive", "ar")
    assert vq["capabilities"] == ["unconditional"] and vq["reconstructs"] is True
    assert {"temperature", "top_k", "top_p"} <= set(vq["options"])
    assert (dalle["family"], dalle["process"], dalle["sampler"]) == (
        "dalle",
        "autoregressive",
        "ar",
    )
    assert dalle["capabilities"] == ["text"] and dalle["reconstructs"] is True
    assert {"temperature", "top_k", "top_p", "rerank"} <= set(dalle["options"])
    # the one-shot families keep their own sampler; autoencoders that cannot sample have none
    assert rows["vae-scenes"]["sampler"] == "one-shot" and rows["ae-digits"]["sampler"] is None


def test_dalle_from_the_cli_samples_reranks_and_reconstructs(tmp_path) -> None:
    from zoo.data import load_split
    from zoo.images import load_image, save_png, to_pil

    out = tmp_path / "red.png"
    res = run_zoo(
        "sample",
        "dalle-scenes",
        "--prompt",
        "a red circle",
        "-n",
        "2",
        "--rerank",
        "2",
        "--top-k",
        "64",
        "-o",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    assert out.stat().st_size > 0
    src, rec = tmp_path / "scene.png", tmp_path / "rec.png"
    save_png(to_pil(load_split("scenes", "test", 32)["image"][:1])[0], src)
    res = run_zoo("reconstruct", "dalle-scenes", "--image", str(src), "-o", str(rec))
    assert res.returncode == 0, res.stderr
    a, b = load_image(src, 3), load_image(rec, 3)
    assert (a - b).pow(2).mean() < 0.01  # the dVAE's codes keep the scene
