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

Gradient guides come from the card's components: a noise-aware ``classifier`` steers
toward each image's label (``--classifier-scale``, Dhariwal & Nichol 2021), a noise-aware
``clip`` toward a prompt (``--prompt`` with ``--clip-scale``; Nichol et al. 2021, GLIDE).
A card naming a ``clip`` is what lets a ddpm model take a prompt at all (the family's
``component_capabilities``); the U-Net itself never reads text.

Where it differs: the U-Nets are small (tens of thousands to a million parameters) and
trained for minutes on a CPU; the images are 16x16 digits or 32x32 scenes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from zoo.plugins.ddpm.config import DDPMConfig, DDPMOptions
from zoo.plugins.nn.unet import UNet
from zoo.registry.contracts import Conditions, ReferenceNetwork
from zoo.registry.diffusion import (
    DiffusionGenerator,
    GradientGuide,
    NoiseAwareNetwork,
    NoiseSchedule,
    check_guide_schedule,
    guide_text,
)
from zoo.registry.errors import CardError, RequestError
from zoo.registry.options import Options
from zoo.registry.seeds import class_labels

# a guide's role in the card's zoo.components -> (what it is, the family that trains one)
GUIDES = {"classifier": ("classifier", "noisy-classifier"), "clip": ("CLIP", "noisy-clip")}


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

    def default_guidance(self, conditions: Conditions | None = None) -> float | None:
        """The config's scale; 0 (the unconditional branch) when a prompt without a label
        is followed by CLIP guidance, so that no label drawn from the seed pulls against it."""
        if not self.config.num_classes or self.config.label_dropout == 0:
            return None
        if conditions is not None and conditions.prompt is not None and conditions.label is None:
            return 0.0
        return self.config.guidance

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
        """{"label": (B,) int64} for a class-conditional model, and {"clip_text": (B, D)},
        the CLIP's embedding of the prompt on every row, under CLIP guidance."""
        labels = self.labels(conditions, seeds)
        encoded = {"label": torch.tensor(labels, dtype=torch.long)} if labels else {}
        text = self._prompt_embedding(conditions, options)
        if text is not None:
            encoded["clip_text"] = text.repeat(len(seeds), 1)
        return encoded

    def _prompt_embedding(self, conditions: Conditions, options: Options) -> torch.Tensor | None:
        """(1, D) text embedding of the prompt by the card's noise-aware CLIP, or None
        without a prompt and a CLIP scale; a prompt without a scale or the reverse is refused
        (the prompt would be ignored), and so are words the CLIP never read."""
        if conditions.negative_prompt is not None:
            raise RequestError("ddpm takes no negative prompt; drop --negative-prompt")
        scale = options.clip_scale if isinstance(options, DDPMOptions) else 0.0
        if conditions.prompt is None and not scale:
            return None
        clip = self._guide("clip")
        if conditions.prompt is None:
            raise RequestError("--clip-scale steers toward a prompt; give one with --prompt")
        if not scale:
            raise RequestError(
                "this model follows a prompt through CLIP guidance only; give its scale "
                "with --clip-scale (e.g. --clip-scale 3)"
            )
        return guide_text(clip, conditions.prompt)

    def null_conditions(self, encoded: dict[str, Any]) -> dict[str, Any] | None:
        if not self.config.num_classes or self.config.label_dropout == 0:
            return None
        return {**encoded, "label": torch.full_like(encoded["label"], self.config.num_classes)}

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, encoded: dict[str, Any]) -> torch.Tensor:
        return self.net(x_t, t, encoded.get("label"))

    def gradient_guides(self, encoded: dict[str, Any], options: Options) -> list[GradientGuide]:
        """Classifier guidance toward each image's label when --classifier-scale is set;
        CLIP guidance toward the prompt's embedding when --clip-scale is."""
        if not isinstance(options, DDPMOptions):
            return []
        guides = []
        if options.classifier_scale:
            if "label" not in encoded:
                raise RequestError("classifier guidance needs a class-conditional model's labels")
            guides.append(self._steer("classifier", options.classifier_scale, encoded["label"]))
        if options.clip_scale:
            if "clip_text" not in encoded:
                raise RequestError("--clip-scale steers toward a prompt; give one with --prompt")
            guides.append(self._steer("clip", options.clip_scale, encoded["clip_text"]))
        return guides

    def _steer(self, role: str, scale: float, target: torch.Tensor) -> GradientGuide:
        """The guide climbing the ``role`` component's score toward ``target``."""
        net = self._guide(role)
        return GradientGuide(role, scale, lambda x_t, t: net.guide_score(x_t, t, target))

    def _guide(self, role: str) -> NoiseAwareNetwork:
        """The card's ``role`` component (a key of ``GUIDES``), checked to be a noise-aware
        network trained on this model's forward process and images."""
        what, family = GUIDES[role]
        if role not in self.components:
            raise RequestError(
                f"--{role}-scale needs a noise-aware {what}: this model's card names "
                f"no '{role}' component (zoo.components.{role})"
            )
        net = self.components[role]
        if not isinstance(net, NoiseAwareNetwork):
            raise RequestError(
                f"the '{role}' component is a {type(net).__name__}, not a noise-aware "
                f"network (train one with `zoo train {family}`)"
            )
        check_guide_schedule(self.config.schedule, net.noise_schedule(), role)
        c = self.config
        shape = net.input_shape() if isinstance(net, ReferenceNetwork) else None
        if shape is not None and shape != (c.channels, c.image_size):
            raise CardError(
                f"the '{role}' component reads {shape[0]}-channel {shape[1]}x{shape[1]} images; "
                f"this model draws {c.channels}-channel {c.image_size}x{c.image_size} ones; "
                f"point the card's zoo.components.{role} at one trained on them"
            )
        return net
