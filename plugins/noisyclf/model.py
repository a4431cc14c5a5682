"""Noise-aware classifier: p(y | x_t, t) for every t of a diffusion schedule.

Paper: Dhariwal & Nichol, "Diffusion Models Beat GANs on Image Synthesis" (2021),
arXiv:2105.05233, sec. 4: a classifier trained on noisy samples x_t (the denoiser's encoder
half with attention pooling there; averaged pooling here) whose gradient
grad_x log p(y | x_t) steers a diffusion sampler toward class y with a scale s. A card of a
diffusion model names it as its ``classifier`` component; ``--classifier-scale`` sets s.

As a reference network it reads clean images (t = 0): ``logits`` and ``features`` there,
so ``zoo reference-eval`` can report its accuracy; its card reports accuracy at several
noise levels too (``evaluate.py``).

Where it differs: tens of thousands of parameters, trained for minutes on the digits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from zoo.plugins.nn.unet import noisy_encoder
from zoo.plugins.noisyclf.config import NoisyClassifierConfig
from zoo.registry.contracts import ReferenceNetwork
from zoo.registry.diffusion import NoiseAwareNetwork, NoiseSchedule


class NoisyClassifier(ReferenceNetwork, NoiseAwareNetwork):
    family = "noisy-classifier"
    config_class = NoisyClassifierConfig
    config: NoisyClassifierConfig
    evaluator = "zoo.plugins.noisyclf.evaluate:evaluate_reference"

    def __init__(self, config: NoisyClassifierConfig) -> None:
        super().__init__(config)
        self.net = noisy_encoder(config, config.num_classes)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"classifier": self.net}

    @property
    def num_features(self) -> int:
        return self.net.num_features

    def noise_schedule(self) -> NoiseSchedule:
        return self.config.schedule

    def _dtype(self) -> torch.dtype:
        return next(self.net.parameters()).dtype

    def log_probs(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """(B, K) log p(y | x_t, t) in float32; x_t in the model's [-1, 1] sample space."""
        logits = self.net(x_t.to(self._dtype()), t.to(x_t.device))
        return F.log_softmax(logits.float(), dim=1)

    def guide_score(self, x_t: torch.Tensor, t: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """log p(target | x_t, t) per image: the score classifier guidance climbs."""
        # a copy: labels made under inference mode cannot be saved for the backward pass
        index = target.view(-1, 1).to(x_t.device).clone()
        return self.log_probs(x_t, t).gather(1, index).squeeze(1)

    def _clean(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = images.to(next(self.net.parameters()).device) * 2 - 1
        return x, torch.zeros(x.shape[0], device=x.device)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        x, t = self._clean(images)
        return self.net.features(x.to(self._dtype()), t).float()

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        x, t = self._clean(images)
        return self.net(x.to(self._dtype()), t).float()
