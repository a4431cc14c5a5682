"""Contract tests over the registry: every family and every model, the moment it exists.

The parametrisation is read from the installed plugins at collection time, so
a new family (built in or third party) is checked by `zoo.testing.check_family`
without touching this file, and every registered model by `check_model`.

The second half checks the checks: toy families, each with one fault, must
fail with a message that names the fault.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch
from pydantic import Field
from torch import nn

from zoo.registry import hookimpl
from zoo.registry.contracts import FamilyConfig, OneShotGenerator, Recipe, ReferenceNetwork
from zoo.registry.discovery import Registry, get_registry, reset_registry
from zoo.registry.schemas import FamilySpec
from zoo.testing import check_family, check_model

REGISTRY = get_registry()


def _model_params() -> list[Any]:
    params = []
    for mid, specs in sorted(REGISTRY.models.items()):
        for spec in specs:
            name = mid if len(specs) == 1 else f"{spec.plugin}:{mid}"
            marks = [pytest.mark.slow] if spec.repo else []  # Hub models download first
            params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.mark.parametrize("family", sorted(REGISTRY.families))
def test_family_contract(family: str) -> None:
    check_family(family)


@pytest.mark.parametrize("model_id", _model_params())
def test_model_contract(model_id: str) -> None:
    check_model(model_id)


# -- the checks catch what they claim to ---------------------------------------------


class ToyConfig(FamilyConfig):
    image_size: int = Field(default=8, ge=4, le=16, description="image side")
    channels: int = Field(default=1, ge=1, le=3, description="image channels")
    latent_dim: int = Field(default=4, ge=1, le=16, description="length of z")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {}, "default": {}}


class NoTinyConfig(ToyConfig):
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"default": {}}


class ToyGenerator(OneShotGenerator):
    """z -> sigmoid(linear(z)): a correct one-shot family."""

    family = "toy-ok"
    capabilities = ("unconditional",)
    config_class = ToyConfig

    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        c = config
        self.net = nn.Linear(c.latent_dim, c.channels * c.image_size**2)

    def networks(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        return torch.sigmoid(self.net(z)).view(-1, *self.image_shape)


class NoTinyGenerator(ToyGenerator):
    family = "toy-notiny"
    config_class = NoTinyConfig


class BadShapeGenerator(ToyGenerator):
    family = "toy-shape"

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        return super().generate(z, conditions)[:, :, :4, :4]  # not image_shape


class NoisyGenerator(ToyGenerator):
    family = "toy-noisy"

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        return super().generate(z + torch.rand_like(z), conditions)  # global RNG: not seeded


class BatchLeakGenerator(ToyGenerator):
    family = "toy-batch"

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        return super().generate(z - z.mean(dim=0, keepdim=True), conditions)


class SeedBlindGenerator(ToyGenerator):
    family = "toy-blind"

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        return super().generate(torch.zeros_like(z), conditions)


class WrongCapsGenerator(ToyGenerator):
    family = "toy-caps"
    capabilities = ("class",)  # registered as unconditional


class LostWeightsGenerator(ToyGenerator):
    family = "toy-lost"

    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        self.extra = nn.Linear(config.latent_dim, config.latent_dim)  # not in networks()

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        return super().generate(self.extra(z), conditions)


class NaNLossGenerator(ToyGenerator):
    family = "toy-nanloss"  # correct itself; its recipe is not


class ToyRecipe(Recipe):
    def __init__(self, generator: ToyGenerator, config: ToyConfig, device: torch.device) -> None:
        super().__init__(generator, config, device)
        self.opt = torch.optim.SGD(generator.net.parameters(), lr=0.1)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        x = batch["image"]
        z = torch.randn(x.shape[0], self.config.latent_dim)
        loss = (self.generator.generate(z, {}) - x).pow(2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"mse": loss.item()}


class NaNRecipe(ToyRecipe):
    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        return {"mse": super().step(batch)["mse"] * float("nan")}


class ToyRefConfig(ToyConfig):
    num_classes: int = Field(default=3, ge=1, le=10, description="classes of the classifier")
    num_features: int = Field(default=5, ge=1, le=64, description="length of the features")


class ToyReference(ReferenceNetwork):
    """A linear classifier whose hidden layer gives the features."""

    family = "toy-ref"
    config_class = ToyRefConfig

    def __init__(self, config: ToyRefConfig) -> None:
        super().__init__(config)
        c = config
        self.body = nn.Linear(c.channels * c.image_size**2, c.num_features)
        self.head = nn.Linear(c.num_features, c.num_classes)

    def networks(self) -> dict[str, nn.Module]:
        return {"body": self.body, "head": self.head}

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.body(images.flatten(1)))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


class BatchLeakReference(ToyReference):
    family = "toy-refbatch"

    def features(self, images: torch.Tensor) -> torch.Tensor:
        f = super().features(images)
        return f - f.mean(dim=0, keepdim=True)


class ClassifierRecipe(Recipe):
    def __init__(self, network: ToyReference, config: ToyRefConfig, device: torch.device) -> None:
        super().__init__(network, config, device)
        params = [*network.body.parameters(), *network.head.parameters()]
        self.opt = torch.optim.SGD(params, lr=0.1)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        loss = nn.functional.cross_entropy(self.generator.logits(batch["image"]), batch["label"])
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"ce": loss.item()}


TOYS = {  # family -> (generator class, registered capabilities, recipe class)
    "toy-ok": ("ToyGenerator", ("unconditional",), "ToyRecipe"),
    "toy-notiny": ("NoTinyGenerator", ("unconditional",), None),
    "toy-shape": ("BadShapeGenerator", ("unconditional",), None),
    "toy-noisy": ("NoisyGenerator", ("unconditional",), None),
    "toy-batch": ("BatchLeakGenerator", ("unconditional",), None),
    "toy-blind": ("SeedBlindGenerator", ("unconditional",), None),
    "toy-caps": ("WrongCapsGenerator", ("unconditional",), None),
    "toy-lost": ("LostWeightsGenerator", ("unconditional",), None),
    "toy-nanloss": ("NaNLossGenerator", ("unconditional",), "NaNRecipe"),
}


class ToyPlugin:
    """Registers the toy families (a plugin object instead of a module)."""

    @hookimpl
    def register_families(self, register: Any) -> None:
        for name, cls in (("toy-ref", "ToyReference"), ("toy-refbatch", "BatchLeakReference")):
            register(
                FamilySpec(
                    name=name,
                    kind="reference",
                    generator=f"{__name__}:{cls}",
                    trainer=f"{__name__}:ClassifierRecipe",
                )
            )
        for name, (gen, caps, recipe) in TOYS.items():
            register(
                FamilySpec(
                    name=name,
                    process="one-shot",
                    capabilities=caps,
                    generator=f"{__name__}:{gen}",
                    trainer=f"{__name__}:{recipe}" if recipe else None,
                )
            )


_TOY_REGISTRY: list[Registry] = []


@pytest.fixture
def toys() -> Any:
    """The process registry with the toy families added, for the length of one test."""
    if not _TOY_REGISTRY:
        _TOY_REGISTRY.append(Registry.discover(extra=[("toys", ToyPlugin())]))
    before = get_registry()
    reset_registry(_TOY_REGISTRY[0])
    yield
    reset_registry(before)


@pytest.mark.parametrize("family", ["toy-ok", "toy-ref"])
def test_a_correct_toy_family_passes(toys: None, family: str) -> None:
    check_family(family)  # so that each failure below is due to its one fault


@pytest.mark.parametrize(
    ("family", "message"),
    [
        ("toy-notiny", "has no 'tiny' preset"),
        ("toy-shape", r"shape \(3, 1, 4, 4\); expected \(3, 1, 8, 8\)"),
        ("toy-noisy", "is not deterministic"),
        ("toy-batch", "differs from the image drawn alone"),
        ("toy-blind", "all 3 images are identical"),
        ("toy-caps", r"capabilities are \['class'\] but the family is registered"),
        ("toy-lost", "differs from the generator that was saved"),
        ("toy-nanloss", "loss 'mse' is nan"),
        ("toy-refbatch", "features of image 0 depend on the batch"),
        ("no-such-family", "no family 'no-such-family' is registered"),
    ],
)
def test_check_family_names_the_fault(toys: None, family: str, message: str) -> None:
    with pytest.raises(AssertionError, match=message) as info:
        check_family(family)
    assert str(info.value).startswith(f"check_family({family!r}): ")
    assert "\n" not in str(info.value)


def test_check_model_rejects_tampered_weights(toys: None, tmp_path: Any) -> None:
    from zoo.train import write_model_folder

    gen = ToyGenerator(ToyConfig())
    folder = tmp_path / "toy-ok-model"
    write_model_folder(folder, "toy-ok", "none", gen.config, gen, {}, sampling={})
    check_model(str(folder))
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one flipped byte in the last weight
    weights.write_bytes(bytes(data))
    with pytest.raises(AssertionError, match="sha256|hash"):
        check_model(str(folder))
