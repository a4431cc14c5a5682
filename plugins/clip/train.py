"""CLIP recipe: symmetric InfoNCE over a batch of image-caption pairs, AdamW, warm-up + cosine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch

from zoo.plugins.clip.config import ClipConfig
from zoo.plugins.clip.model import ClipNetwork
from zoo.plugins.nn.clip import adamw, contrastive_loss, positives
from zoo.plugins.nn.schedules import warmup_cosine
from zoo.plugins.nn.text import learn_tokenizer, tokenizer_summary
from zoo.registry.contracts import DataNeeds, Recipe
from zoo.registry.errors import RequestError


class ClipRecipe(Recipe):
    """L = (CE(s I T^T, P) + CE(s T I^T, P^T)) / 2 with P from ``positives`` (Radford et al.
    2021): captions describing the same attributes count as positives."""

    generator: ClipNetwork
    config: ClipConfig

    @classmethod
    def needs(cls, config: ClipConfig) -> DataNeeds:
        return replace(super().needs(config), captions=True)

    def __init__(self, generator: ClipNetwork, config: ClipConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.net = generator.net.to(device)
        self.opt = adamw(self.net, config.lr, config.weight_decay)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.opt, warmup_cosine(config.warmup, config.steps)
        )

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        if "caption" not in batch:
            raise RequestError("clip trains on captioned images; use a dataset with 'caption'")
        x = batch["image"].to(self.device)
        n = len(x)
        self.net.train()
        image = self.net.image(x)
        text = self.generator.text_features(list(batch["caption"]))
        loss = contrastive_loss(self.net, image, text, positives(batch, n, self.device))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.schedule.step()
        return {"loss": loss.item()}

    def prepare(self, split: Mapping[str, Any]) -> None:
        """With tokenizer "bpe", learn its merges from the split's captions."""
        learn_tokenizer(self.generator, split)

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": "symmetric InfoNCE, s * cos(image, caption), learned s (init "
            f"{1 / c.temperature:.1f}, max 100); same-attribute captions share the target",
            "optimizer": "AdamW (no decay on scale, norms, biases, embeddings)",
            "lr": c.lr,
            "weight_decay": c.weight_decay,
            "tokenizer": tokenizer_summary(c),
            "schedule": f"linear warm-up {c.warmup} steps, cosine decay to 0 at step {c.steps}",
        }
