"""DDPM: a U-Net that predicts the noise in x_t, sampled by any diffusion sampler.

Papers: Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models" (2020),
arXiv:2006.11239; Nichol & Dhariwal, "Improved Denoising Diffusion Probabilistic Models"
(2021), arXiv:2102.09672 (cosine schedule, learned variance, hybrid loss); Ho & Salimans,
"Classifier-Free Diffusion Guidance" (2022), arXiv:2207.12598.

The generator is the denoiser eps_theta(x_t, t, y) of ``plugins/nn/unet.py``; the schedule
is data in its config; the loop belongs to the sampler (``--sampler ddpm|ddim|...``). A
class-conditional model also learned the null class (labels dropped with probability
``label_dropout``), which is the unconditional branch of classifier-free guidance:
eps = eps(x_t, null) + s (eps(x_t, y) - eps(x_t, null)).

Where it differs: the U-Nets are small (tens of thousands to a million parameters) and
trained for minutes on a CPU; the images are 16x16 digits or 32x32 scenes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from zoo.plugins.ddpm.config import DDPMConfig, DDPMOptions
from zoo.plugins.nn.unet import UNet
from zoo.registry.contracts import Conditions
from zoo.registry.diffusion import (
    DiffusionGenerator,
    GradientGuide,
    NoiseAwareNetwork,
    NoiseSchedule,
    check_guide_schedule,
)
from zoo.registry.errors import RequestError
from zoo.registry.options import Options
from zoo.registry.seeds import class_labels


def build_unet(config: DDPMConfig) -> UNet:
    learned = config.schedule.variance_type == "learned_range"
    return UNet(
        in_channels=config.channels,
        out_channels=config.channels * (2 if learned else 1),
        base=config.base_channels,
        mults=config.channel_mults,
        num_res_blocks=config.num_res_blocks,
        attention=config.attention_resolutions,
        image_size=config.image_size,
        num_classes=config.num_classes,
        dropout=config.dropout,
    )


class DDPMGenerator(DiffusionGenerator):
    family = "ddpm"
    capabilities = ("unconditional", "class")
    config_class = DDPMConfig
    options_class = DDPMOptions
    config: DDPMConfig

    def __init__(self, config: DDPMConfig) -> None:
        super().__init__(config)
        self.net = build_unet(config)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"unet": self.net}

    def schedule(self) -> NoiseSchedule:
        return self.config.schedule

    @property
    def num_classes(self) -> int | None:
        return self.config.num_classes or None

    def default_steps(self) -> int:
        return self.config.sampling_steps

    def default_guidance(self) -> float | None:
        return (
            self.config.guidance
            if self.config.num_classes and self.config.label_dropout > 0
            else None
        )

    def labels(self, conditions: Conditions, seeds: Sequence[int]) -> list[int]:
        """The label of every image: the request's, else seed % num_classes (as the GANs)."""
        k = self.config.num_classes
        if not k:
            if conditions.label is not None:
                raise RequestError("this model is unconditional; drop --label")
            return []
        return class_labels(conditions.label, k, list(seeds))

    def drawn_labels(self, conditions: Conditions, seeds: Sequence[int]) -> list[int] | None:
        if conditions.label is not None or not self.config.num_classes:
            return None
        return self.labels(conditions, seeds)

    def encode_conditions(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        labels = self.labels(conditions, seeds)
        return {"label": torch.tensor(labels, dtype=torch.long)} if labels else {}

    def null_conditions(self, encoded: dict[str, Any]) -> dict[str, Any] | None:
        if not self.config.num_classes or self.config.label_dropout == 0:
            return None
        return {"label": torch.full_like(encoded["label"], self.config.num_classes)}

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, encoded: dict[str, Any]) -> torch.Tensor:
        return self.net(x_t, t, encoded.get("label"))

    def gradient_guides(self, encoded: dict[str, Any], options: Options) -> list[GradientGuide]:
        """Classifier guidance toward each image's label when --classifier-scale is set."""
        scale = options.classifier_scale if isinstance(options, DDPMOptions) else 0.0
        if not scale:
            return []
        if "label" not in encoded:
            raise RequestError("classifier guidance needs a class-conditional model's labels")
        if "classifier" not in self.components:
            raise RequestError(
                "--classifier-scale needs a noise-aware classifier: this model's card names "
                "no 'classifier' component (zoo.components.classifier)"
            )
        clf = self.components["classifier"]
        if not isinstance(clf, NoiseAwareNetwork):
            raise RequestError(
                f"the 'classifier' component is a {type(clf).__name__}, not a noise-aware "
                "network (train one with `zoo train noisy-classifier`)"
            )
        check_guide_schedule(self.config.schedule, clf.noise_schedule(), "classifier")
        labels = encoded["label"]
        return [GradientGuide("classifier", scale, lambda x_t, t: clf.guide_score(x_t, t, labels))]
