"""DDPM training: the simplified loss, improved DDPM's hybrid loss, label dropout, EMA.

One step (Ho et al. 2020, Algorithm 1): draw t ~ U{0..T-1} and eps ~ N(0, I) per image, form
x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, and regress the network's prediction
(eps, v or x_0, as the schedule says) on its target. With a learned variance the loss is
L_simple + lambda L_vlb (Nichol & Dhariwal 2021), the vlb term moving only the variance
channels. Labels are replaced by the null class with probability ``label_dropout`` so one
network learns both branches of classifier-free guidance. The shipped weights are an
exponential moving average of the trained ones.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.ddpm.config import DDPMConfig
from zoo.plugins.ddpm.model import DDPMGenerator
from zoo.plugins.nn.diffusion import EMA, q_sample, target_for, vlb_terms
from zoo.registry.contracts import DataNeeds, Recipe
from zoo.registry.errors import RequestError

# the config field that sets each need (zoo train names it when the data differ)
FIELDS = {"image": "channels", "label": "num_classes"}


class DDPMRecipe(Recipe):
    def __init__(self, generator: DDPMGenerator, config: DDPMConfig, device: torch.device) -> None:
        super().__init__(generator, config, device)
        self.config: DDPMConfig = config
        self.net = generator.net
        self.ema = EMA(self.net, config.ema_decay).to(device)
        self.opt = torch.optim.AdamW(
            self.net.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        warmup = config.warmup_steps
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0
        )
        self.alphas_cumprod = config.schedule.alphas_cumprod().to(device)

    @classmethod
    def needs(cls, config: DDPMConfig) -> DataNeeds:
        labels = {"label": config.num_classes} if config.num_classes else {}
        return replace(super().needs(config), labels=labels, config_fields=FIELDS)

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"unet": self.net, "ema": self.ema}

    def optimizers(self) -> dict[str, Any]:
        return {"adamw": self.opt, "lr": self.sched}

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        x_0 = batch["image"].to(self.device) * 2 - 1
        b = x_0.shape[0]
        y = None
        if c.num_classes:
            if "label" not in batch:
                raise RequestError("a class-conditional ddpm needs a dataset with labels")
            y = batch["label"].to(self.device).long()
            if int(y.max()) >= c.num_classes or int(y.min()) < 0:
                raise RequestError(
                    f"the dataset has labels up to {int(y.max())}; this config has "
                    f"num_classes={c.num_classes} (--set num_classes=...)"
                )
            drop = torch.rand(b, device=self.device) < c.label_dropout
            y = torch.where(drop, torch.full_like(y, c.num_classes), y)
        # 1. t and eps per image; 2. x_t from the forward process
        t = torch.randint(0, c.schedule.num_train_timesteps, (b,), device=self.device)
        eps = torch.randn_like(x_0)
        x_t = q_sample(x_0, t, eps, self.alphas_cumprod)
        # 3. the network's prediction against its target
        out = self.net(x_t, t, y)
        pred, var_values = out[:, : c.channels], out[:, c.channels :]
        target = target_for(c.schedule.prediction_type, x_0, eps, t, self.alphas_cumprod)
        simple = F.mse_loss(pred, target)
        loss = simple
        losses = {"loss": 0.0, "mse": simple.item()}
        if c.schedule.variance_type == "learned_range":
            if c.schedule.prediction_type != "epsilon":
                raise RequestError("the hybrid loss is written for eps-prediction models")
            vlb = vlb_terms(x_0, x_t, t, pred, var_values, self.alphas_cumprod).mean()
            loss = simple + c.hybrid_lambda * vlb
            losses["vlb"] = vlb.item()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.opt.step()
        self.sched.step()
        self.ema.update(self.net)
        losses["loss"] = loss.item()
        return losses

    def finish(self) -> None:
        """Ship the EMA weights."""
        self.ema.copy_to(self.net)

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        s = c.schedule
        loss = (
            "L_simple (MSE on the "
            + {"epsilon": "noise", "v_prediction": "v", "sample": "x_0"}[s.prediction_type]
            + ")"
        )
        if s.variance_type == "learned_range":
            loss += f" + {c.hybrid_lambda} L_vlb (learned variance, hybrid loss)"
        return {
            "loss": loss,
            "schedule": f"{s.beta_schedule} betas, T = {s.num_train_timesteps}",
            "optimizer": f"AdamW lr {c.lr}, {c.warmup_steps} warm-up steps, grad norm clipped at 1",
            "guidance": f"labels dropped with p = {c.label_dropout} (null class)"
            if c.num_classes
            else "unconditional",
            "ema": f"decay {c.ema_decay} (warmed up); the shipped weights are the EMA",
        }
