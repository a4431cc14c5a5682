"""Denoising autoencoder recipe: the AE's, with the input corrupted first."""

from __future__ import annotations

from typing import Any

import torch

from zoo.plugins.dae.model import DAEConfig, corrupt
from zoo.plugins.nn.autoencoder import ReconstructionRecipe


class DAERecipe(ReconstructionRecipe):
    """The shared reconstruction recipe with the input corrupted: L = mean |d(e(x~)) - x|^2."""

    config: DAEConfig

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return corrupt(x, self.config.noise_std, self.config.mask_prob)

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": "MSE(reconstruction of the corrupted input, clean input)",
            "corruption": f"Gaussian std {c.noise_std:g}, masking {c.mask_prob:g}, clipped to [0, 1]",
            "optimizer": f"Adam, lr {c.lr:g}",
        }
