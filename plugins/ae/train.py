"""Autoencoder training recipe: MSE between the input and its reconstruction."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.ae.model import AutoencoderNetwork
from zoo.plugins.nn.autoencoder import AutoencoderConfig
from zoo.registry.contracts import Recipe


class AERecipe(Recipe):
    """L = mean |d(e(x~)) - x|^2 with x~ = corrupt(x); a plain AE does not corrupt."""

    generator: AutoencoderNetwork
    config: AutoencoderConfig

    def __init__(
        self, generator: AutoencoderNetwork, config: AutoencoderConfig, device: torch.device
    ):
        super().__init__(generator, config, device)
        self.net = generator
        params = [p for m in generator.networks().values() for p in m.to(device).parameters()]
        self.opt = torch.optim.Adam(params, lr=config.lr)

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        x = batch["image"].to(self.device)
        loss = F.mse_loss(self.net.reconstruct(self.corrupt(x)), x)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"mse": loss.item()}

    def recipe_summary(self) -> dict[str, Any]:
        return {"loss": "MSE(reconstruction, input)", "optimizer": f"Adam, lr {self.config.lr:g}"}
