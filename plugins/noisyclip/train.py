"""Noise-aware CLIP recipe: symmetric InfoNCE of x_t's embedding and its caption's, t
uniform over the schedule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch

from zoo.plugins.nn.clip import adamw, contrastive_loss, positives
from zoo.plugins.nn.diffusion import q_sample
from zoo.plugins.nn.schedules import warmup_cosine
from zoo.plugins.nn.text import learn_tokenizer, tokenizer_summary
from zoo.plugins.noisyclip.config import NoisyClipConfig
from zoo.plugins.noisyclip.model import NoisyClipNetwork
from zoo.registry.contracts import DataNeeds, Recipe
from zoo.registry.errors import RequestError


class NoisyClipRecipe(Recipe):
    """One AdamW step on (CE(s I T^T, P) + CE(s T I^T, P^T)) / 2 with I = f(x_t, t),
    x_t = q_sample(x_0, t, eps), t ~ U{0..T-1} per image, P from ``positives``."""

    generator: NoisyClipNetwork
    config: NoisyClipConfig

    @classmethod
    def needs(cls, config: NoisyClipConfig) -> DataNeeds:
        return replace(super().needs(config), captions=True, config_fields={"image": "channels"})

    def __init__(
        self, generator: NoisyClipNetwork, config: NoisyClipConfig, device: torch.device
    ) -> None:
        super().__init__(generator, config, device)
        self.net = generator.net.to(device)
        self.opt = adamw(self.net, config.lr, config.weight_decay)
        self.lr = torch.optim.lr_scheduler.LambdaLR(
            self.opt, warmup_cosine(config.warmup, config.steps)
        )
        self.alphas_cumprod = config.schedule.alphas_cumprod().to(device)

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"clip": self.net}

    def optimizers(self) -> dict[str, Any]:
        return {"adamw": self.opt, "lr": self.lr}

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        if "caption" not in batch:
            raise RequestError(
                "noisy-clip trains on captioned images; use a dataset with 'caption'"
            )
        x_0 = batch["image"].to(self.device) * 2 - 1
        n = len(x_0)
        t = torch.randint(0, self.config.schedule.num_train_timesteps, (n,), device=self.device)
        x_t = q_sample(x_0, t, torch.randn_like(x_0), self.alphas_cumprod)
        self.net.train()
        image = self.net.image(x_t, t)
        text = self.generator.text_features(list(batch["caption"]))
        loss = contrastive_loss(self.net, image, text, positives(batch, n, self.device))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.opt.step()
        self.lr.step()
        return {"loss": loss.item(), "scale": self.net.logit_scale().item()}

    def prepare(self, split: Mapping[str, Any]) -> None:
        """With tokenizer "bpe", learn its merges from the split's captions."""
        learn_tokenizer(self.generator, split)

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        s = c.schedule
        return {
            "loss": "symmetric InfoNCE, s * cos(f(x_t, t), caption), learned s (init "
            f"{1 / c.temperature:.1f}, max 100), t uniform over the schedule; same-attribute "
            "captions share the target",
            "schedule": f"{s.beta_schedule} betas, T = {s.num_train_timesteps} (the guided model's)",
            "optimizer": f"AdamW lr {c.lr}, weight decay {c.weight_decay} (none on scale, "
            "norms, biases, embeddings), grad norm clipped at 1",
            "tokenizer": tokenizer_summary(c),
            "lr_schedule": f"linear warm-up {c.warmup} steps, cosine decay to 0 at step {c.steps}",
        }
