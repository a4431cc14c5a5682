"""The GAN families (gan, dcgan, cgan): real classes at the tiny preset, no mocks."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from zoo.plugins.datasets.digits import load
from zoo.plugins.nn import gan as nn_gan
from zoo.registry.contracts import Conditions, FamilyConfig, OneShotGenerator, Recipe
from zoo.registry.discovery import get_registry, load_object
from zoo.registry.errors import RequestError
from zoo.registry.options import TruncationOptions

FAMILIES = ["gan", "dcgan", "cgan"]
MAX_WEIGHT_BYTES = 3_000_000


def classes(family: str) -> tuple[type[OneShotGenerator], type[Recipe]]:
    spec = get_registry().family(family)
    return load_object(spec.generator), load_object(spec.trainer)


def build(family: str, preset: str = "tiny", **overrides) -> OneShotGenerator:
    gen_cls, _ = classes(family)
    return gen_cls(gen_cls.config_class.preset(preset, **overrides))


def tiny_batch(size: int = 8, n: int = 8) -> dict[str, torch.Tensor]:
    d = load("train", image_size=size)
    return {"image": d["image"][:n], "label": d["label"][:n]}


@pytest.mark.parametrize("family", FAMILIES)
def test_registration_matches_the_classes(family: str) -> None:
    spec = get_registry().family(family)
    gen_cls, recipe_cls = classes(family)
    assert spec.process == "one-shot" == gen_cls.process
    assert spec.capabilities == gen_cls.capabilities
    assert gen_cls.family == family and issubclass(recipe_cls, Recipe)
    assert issubclass(gen_cls.config_class, FamilyConfig)
    assert {"tiny", "default"} <= set(gen_cls.config_class.PRESETS)


def test_registering_does_not_import_torch() -> None:
    modules = ", ".join(f"zoo.plugins.{name}" for name in [*FAMILIES, "datasets"])
    code = f"import sys, {modules}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("family", FAMILIES)
def test_recipe_runs_three_steps(family: str) -> None:
    torch.manual_seed(0)
    gen = build(family)
    _, recipe_cls = classes(family)
    recipe = recipe_cls(gen, gen.config, torch.device("cpu"))
    nets = recipe.trainable()
    assert set(nets) == {"generator", "discriminator"}
    assert nets["generator"] is gen.networks()["generator"]
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    for _ in range(3):
        losses = recipe.step(tiny_batch())
        assert {"loss_d", "loss_g"} <= set(losses)
        assert all(isinstance(v, float) and math.isfinite(v) for v in losses.values())
    after = gen.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # G was trained
    summary = recipe.recipe_summary()
    assert summary["optimizer"].startswith("Adam") and summary["lr"] == gen.config.lr


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_shape_and_range(family: str) -> None:
    torch.manual_seed(0)
    gen = build(family).eval()
    seeds = [0, 1, 2, 3, 4]
    z = torch.randn(len(seeds), *gen.latent_shape())
    cond = gen.inputs(Conditions(), TruncationOptions(), seeds)
    with torch.no_grad():
        x = gen.generate(z, cond)
    assert x.shape == (len(seeds), *gen.image_shape) == (5, 1, 8, 8)
    assert x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize("family", FAMILIES)
def test_networks_hold_only_the_generator(family: str) -> None:
    gen = build(family)
    assert set(gen.networks()) == {"generator"}
    assert all(k.startswith("generator.") for k in gen.state_dict())


@pytest.mark.parametrize("family", FAMILIES)
def test_default_preset_is_small(family: str) -> None:
    gen = build(family, "default")
    assert gen.image_shape == (1, 16, 16)
    assert 4 * gen.parameter_count() < MAX_WEIGHT_BYTES


@pytest.mark.parametrize("family", FAMILIES)
def test_config_rejects_bad_values(family: str) -> None:
    gen_cls, _ = classes(family)
    cfg_cls = gen_cls.config_class
    with pytest.raises(ValueError):
        cfg_cls.preset("tiny", no_such_field=1)
    with pytest.raises(ValueError):
        cfg_cls.preset("tiny", lr=float("nan"))
    with pytest.raises(ValueError):
        cfg_cls.preset("tiny", betas=(0.5, 1.0))
    with pytest.raises(RequestError, match="unknown preset"):
        cfg_cls.preset("huge")


@pytest.mark.parametrize("family", ["dcgan", "cgan"])
def test_conv_families_need_a_power_of_two(family: str) -> None:
    with pytest.raises(ValueError, match="power of two"):
        build(family, image_size=12)


@pytest.mark.parametrize("family,size", [("dcgan", 32), ("cgan", 32), ("gan", 12)])
def test_other_sizes_build_and_train(family: str, size: int) -> None:
    torch.manual_seed(0)
    gen = build(family, image_size=size)
    _, recipe_cls = classes(family)
    recipe = recipe_cls(gen, gen.config, torch.device("cpu"))
    assert math.isfinite(recipe.step(tiny_batch(size, 4))["loss_d"])
    z = torch.randn(2, *gen.latent_shape())
    x = gen.eval().generate(z, gen.inputs(Conditions(), TruncationOptions(), [0, 1]))
    assert x.shape == (2, 1, size, size)


# -- cgan: labels ---------------------------------------------------------------------


def test_cgan_output_changes_with_the_label() -> None:
    torch.manual_seed(0)
    gen = build("cgan").eval()
    z = torch.randn(1, *gen.latent_shape()).expand(10, -1)
    with torch.no_grad():
        x = gen.generate(z, {"label": torch.arange(10)})
    for a in range(10):
        for b in range(a + 1, 10):
            assert not torch.allclose(x[a], x[b]), (a, b)


def test_cgan_conditions_follow_the_request_or_the_seed() -> None:
    gen = build("cgan")
    seeds = [0, 7, 13, 25, 10**12 + 3]
    fixed = gen.inputs(Conditions(label=4), TruncationOptions(), seeds)["label"]
    assert fixed.dtype == torch.long and fixed.tolist() == [4] * 5
    free = gen.inputs(Conditions(), TruncationOptions(), seeds)["label"]
    assert free.tolist() == [s % 10 for s in seeds]
    # each image's label depends on its own seed only, not on the batch
    alone = [gen.inputs(Conditions(), TruncationOptions(), [s])["label"].item() for s in seeds]
    assert alone == free.tolist()


def test_cgan_rejects_missing_or_bad_labels() -> None:
    gen = build("cgan").eval()
    z = torch.randn(2, *gen.latent_shape())
    with pytest.raises(RequestError, match="label"):
        gen.generate(z, {})
    with pytest.raises(RequestError, match="0..9"):
        gen.generate(z, {"label": torch.tensor([0, 10])})
    with pytest.raises(RequestError, match="one each"):
        gen.generate(z, {"label": torch.tensor([1])})
    with pytest.raises(RequestError, match="out of range"):
        gen.inputs(Conditions(label=10), TruncationOptions(), [0])


def test_cgan_label_reaches_the_discriminator() -> None:
    torch.manual_seed(0)
    gen = build("cgan")
    recipe = classes("cgan")[1](gen, gen.config, torch.device("cpu"))
    d = recipe.trainable()["discriminator"].eval()
    x = torch.rand(1, 1, 8, 8).expand(10, -1, -1, -1)
    logits = d(x, torch.arange(10))
    assert logits.shape == (10,) and logits.unique().numel() == 10


# -- losses: parity with the textbook formulas -------------------------------------------


def test_losses_match_the_minimax_value() -> None:
    torch.manual_seed(0)
    lr, lf = torch.randn(64) * 3, torch.randn(64) * 3
    d_real, d_fake = torch.sigmoid(lr), torch.sigmoid(lf)
    v = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()  # V(D, G)
    torch.testing.assert_close(nn_gan.discriminator_loss(lr, lf), -v)
    torch.testing.assert_close(nn_gan.generator_loss_minimax(lf), torch.log(1 - d_fake).mean())
    torch.testing.assert_close(nn_gan.generator_loss_nonsaturating(lf), -torch.log(d_fake).mean())
    # binary cross-entropy form, as most code writes it
    bce = F.binary_cross_entropy_with_logits
    torch.testing.assert_close(
        nn_gan.discriminator_loss(lr, lf),
        bce(lr, torch.ones_like(lr)) + bce(lf, torch.zeros_like(lf)),
    )


def test_losses_stay_finite_where_d_saturates() -> None:
    big = torch.tensor([200.0, -200.0])
    for loss in (
        nn_gan.discriminator_loss(big, big),
        nn_gan.generator_loss_minimax(big),
        nn_gan.generator_loss_nonsaturating(big),
    ):
        assert torch.isfinite(loss)


def test_signed_unit_round_trip() -> None:
    x = torch.rand(3, 1, 4, 4)
    torch.testing.assert_close(nn_gan.to_unit(nn_gan.to_signed(x)), x)
