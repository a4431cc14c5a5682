"""DDPM training: the simplified loss, improved DDPM's hybrid loss, label dropout, EMA.

One step (Ho et al. 2020, Algorithm 1): draw t ~ U{0..T-1} and eps ~ N(0, I) per image, form
x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, and regress the network's prediction
(eps, v or x_0, as the schedule says) on its target. With a learned variance the loss is
L_simple + lambda L_vlb (Nichol & Dhariwal 2021), the vlb term moving only the variance
channels. Labels are replaced by the null class with probability ``label_dropout`` so one
network learns both branches of classifier-free guidance. The shipped weights are an
exponential moving average of the trained ones.

With ``timestep_sampling="importance"`` t is drawn with p_t ~ sqrt(E[L_t^2]) and each
image's loss weighted 1 / (T p_t) (improved DDPM sec. 3.3; ``nn.timesteps``); the loss
history is a network of the recipe, so checkpoints keep it.

Data-parallel (torchrun): every worker draws t, eps and the label dropout for the whole
global batch from the same stream and keeps its slice, so N workers train as one process
with the global batch does, up to the order of float sums; the loss history gathers every
worker's losses, so it is the same on every worker.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.ddpm.config import DDPMConfig
from zoo.plugins.ddpm.model import DDPMGenerator
from zoo.plugins.nn.diffusion import EMA, q_sample, target_for, vlb_terms
from zoo.plugins.nn.timesteps import TimestepImportance
from zoo.registry.contracts import DataNeeds, Recipe
from zoo.registry.errors import RequestError

# the config field that sets each need (zoo train names it when the data differ)
FIELDS = {"image": "channels", "label": "num_classes"}


class DDPMRecipe(Recipe):
    data_parallel = True

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
        self.denoiser: torch.nn.Module = self.net  # the DDP wrapper under torchrun
        # on the CPU: updated one loss at a time
        self.importance = (
            TimestepImportance(config.schedule.num_train_timesteps)
            if config.timestep_sampling == "importance"
            else None
        )

    def distribute(self, rank: int, world_size: int, wrap: Any) -> None:
        super().distribute(rank, world_size, wrap)
        self.denoiser = wrap(self.net)

    @classmethod
    def needs(cls, config: DDPMConfig) -> DataNeeds:
        labels = {"label": config.num_classes} if config.num_classes else {}
        return replace(super().needs(config), labels=labels, config_fields=FIELDS)

    def trainable(self) -> dict[str, torch.nn.Module]:
        nets: dict[str, torch.nn.Module] = {"unet": self.net, "ema": self.ema}
        if self.importance is not None:  # uniform runs keep the checkpoints they had
            nets["timesteps"] = self.importance
        return nets

    def optimizers(self) -> dict[str, Any]:
        return {"adamw": self.opt, "lr": self.sched}

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        x_0 = batch["image"].to(self.device) * 2 - 1
        n = x_0.shape[0] * self.world_size  # the global batch: random draws are for all of it
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
            drop = self.local_slice(torch.rand(n, device=self.device)) < c.label_dropout
            y = torch.where(drop, torch.full_like(y, c.num_classes), y)
        # 1. t (and its loss weight) and eps per image; 2. x_t from the forward process
        importance = self.importance
        if importance is None:
            t_all = torch.randint(0, c.schedule.num_train_timesteps, (n,), device=self.device)
        else:
            t_all, w_all = importance.sample(n, self.device)
        t = self.local_slice(t_all)
        eps = self.local_slice(torch.randn((n, *x_0.shape[1:]), device=x_0.device))
        x_t = q_sample(x_0, t, eps, self.alphas_cumprod)
        # 3. the network's prediction against its target
        out = self.denoiser(x_t, t, y)
        pred, var_values = out[:, : c.channels], out[:, c.channels :]
        target = target_for(c.schedule.prediction_type, x_0, eps, t, self.alphas_cumprod)
        hybrid = c.schedule.variance_type == "learned_range"
        if hybrid and c.schedule.prediction_type != "epsilon":
            raise RequestError("the hybrid loss is written for eps-prediction models")
        vlb = vlb_terms(x_0, x_t, t, pred, var_values, self.alphas_cumprod) if hybrid else None
        if importance is None:
            simple = F.mse_loss(pred, target)
            loss = simple if vlb is None else simple + c.hybrid_lambda * vlb.mean()
        else:
            # 4. each image's loss weighted 1 / (T p_t); the history takes the unweighted ones
            per_image = (pred - target).pow(2).flatten(1).mean(1)
            simple = per_image.mean()
            if vlb is not None:
                per_image = per_image + c.hybrid_lambda * vlb
            loss = (self.local_slice(w_all) * per_image).mean()
            importance.update(t_all, self.gather(per_image.detach()).cpu())
        losses = {"loss": 0.0, "mse": simple.item()}
        if vlb is not None:
            losses["vlb"] = vlb.mean().item()
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
            "timesteps": "uniform"
            if c.timestep_sampling == "uniform"
            else "importance-sampled: p_t ~ sqrt(E[L_t^2]) over the last 10 losses of each t "
            "(uniform until every t has 10; 0.1% stays uniform), losses weighted 1 / (T p_t)",
        }
