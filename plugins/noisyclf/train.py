"""Noise-aware classifier recipe: cross-entropy on x_t with t uniform over the schedule."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.nn.diffusion import q_sample
from zoo.plugins.nn.schedules import warmup_cosine
from zoo.plugins.noisyclf.config import NoisyClassifierConfig
from zoo.plugins.noisyclf.model import NoisyClassifier
from zoo.registry.contracts import DataNeeds, Recipe
from zoo.registry.errors import RequestError


class NoisyClassifierRecipe(Recipe):
    """One AdamW step on CE(f(x_t, t), y), x_t = q_sample(x_0, t, eps), t ~ U{0..T-1}."""

    generator: NoisyClassifier
    config: NoisyClassifierConfig

    def __init__(
        self, generator: NoisyClassifier, config: NoisyClassifierConfig, device: torch.device
    ) -> None:
        super().__init__(generator, config, device)
        self.net = generator.net.to(device)
        self.opt = torch.optim.AdamW(
            self.net.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self.lr = torch.optim.lr_scheduler.LambdaLR(
            self.opt, warmup_cosine(config.warmup, config.steps)
        )
        self.alphas_cumprod = config.schedule.alphas_cumprod().to(device)

    @classmethod
    def needs(cls, config: NoisyClassifierConfig) -> DataNeeds:
        return replace(
            super().needs(config),
            labels={"label": config.num_classes},
            config_fields={"image": "channels", "label": "num_classes"},
        )

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"classifier": self.net}

    def optimizers(self) -> dict[str, Any]:
        return {"adamw": self.opt, "lr": self.lr}

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        c = self.config
        if "label" not in batch:
            raise RequestError("a noisy-classifier needs a dataset with labels")
        y = batch["label"].to(self.device).long()
        if int(y.max()) >= c.num_classes:
            raise RequestError(
                f"the dataset has labels up to {int(y.max())}; this config has "
                f"num_classes={c.num_classes} (--set num_classes=...)"
            )
        x_0 = batch["image"].to(self.device) * 2 - 1
        t = torch.randint(0, c.schedule.num_train_timesteps, (x_0.shape[0],), device=self.device)
        x_t = q_sample(x_0, t, torch.randn_like(x_0), self.alphas_cumprod)
        logits = self.net(x_t, t)
        loss = F.cross_entropy(logits, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.opt.step()
        self.lr.step()
        acc = (logits.argmax(1) == y).float().mean().item()
        return {"loss": loss.item(), "accuracy": acc}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        s = c.schedule
        return {
            "loss": "cross-entropy of the label on x_t, t uniform over the schedule",
            "schedule": f"{s.beta_schedule} betas, T = {s.num_train_timesteps} (the guided model's)",
            "optimizer": f"AdamW lr {c.lr}, weight decay {c.weight_decay}, grad norm clipped at 1",
            "lr_schedule": f"linear warm-up {c.warmup} steps, cosine decay to 0 at step {c.steps}",
        }
