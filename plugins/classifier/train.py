"""Classifier recipe: cross-entropy summed over the heads, AdamW, warm-up then cosine decay."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.classifier.config import ClassifierConfig
from zoo.plugins.classifier.model import ClassifierNetwork
from zoo.plugins.nn.schedules import warmup_cosine
from zoo.registry.contracts import DataNeeds, Recipe
from zoo.registry.errors import RequestError


def shuffle_channels(x: torch.Tensor, fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Permute the RGB channels of a random ``fraction`` of the images (each its own order).

    A red triangle becomes a green or blue one, and the classic held-out pairs
    (a red triangle, a blue circle) appear as shapes in colours training never
    paired them with. Returns (images, mask (B,) bool of shuffled images).
    """
    b = x.shape[0]
    shuffled = torch.rand(b, device=x.device) < fraction
    order = torch.rand(b, 3, device=x.device).argsort(1)  # a random permutation per image
    order[~shuffled] = torch.arange(3, device=x.device)
    x = torch.gather(x, 1, order[:, :, None, None].expand_as(x))
    return x, shuffled


def random_affine(x: torch.Tensor, shift: float, rotate: float, scale: float) -> torch.Tensor:
    """Shift, turn and zoom each image a little (bilinear, zero fill), from the global RNG.

    Digits are black-on-zero, so zero fill adds no edge; a 16x16 digit moved by
    1-2 pixels is still the same digit, and the test set's digits sit off-centre
    by about that much.
    """
    b = x.shape[0]
    angle = (torch.rand(b, device=x.device) * 2 - 1) * math.radians(rotate)
    zoom = 1 + (torch.rand(b, device=x.device) * 2 - 1) * scale
    move = (torch.rand(b, 2, device=x.device) * 2 - 1) * 2 * shift  # grid units span 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, move[:, 0]], 1), torch.stack([sin, cos, move[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class ClassifierRecipe(Recipe):
    """One AdamW step on sum_heads CE(head(x), y_head), ignoring -1 (absent) targets."""

    generator: ClassifierNetwork
    config: ClassifierConfig

    @classmethod
    def needs(cls, config: ClassifierConfig) -> DataNeeds:
        base = super().needs(config)
        if config.target == "label":
            return replace(base, labels={"label": next(iter(config.heads.values()))})
        return replace(base, keys=("attributes",))

    def __init__(
        self, generator: ClassifierNetwork, config: ClassifierConfig, device: torch.device
    ):
        super().__init__(generator, config, device)
        self.net = generator.net.to(device)
        self.opt = torch.optim.AdamW(
            self.net.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.opt, warmup_cosine(config.warmup, config.steps)
        )

    def targets(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        c = self.config
        if c.target not in batch:
            raise RequestError(
                f"classifier with target '{c.target}' needs a dataset with '{c.target}'; "
                f"this one has {', '.join(batch)}"
            )
        y = batch[c.target].to(self.device)
        if c.target == "label":
            return {next(iter(c.heads)): y}
        if y.shape[1] != len(c.heads):
            raise RequestError(
                f"the dataset has {y.shape[1]} attribute columns but the config {len(c.heads)} heads"
            )
        y = self.generator.canonical(y)
        return {name: y[:, k] for k, name in enumerate(c.heads)}

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        c = self.config
        x = batch["image"].to(self.device)
        if c.augment_shift or c.augment_rotate or c.augment_scale:
            x = random_affine(x, c.augment_shift, c.augment_rotate, c.augment_scale)
        targets = self.targets(batch)
        if c.colour_shuffle:
            x, shuffled = shuffle_channels(x, c.colour_shuffle)
            for name in c.colour_heads:  # their colours are no longer the labelled ones
                targets[name] = targets[name].masked_fill(shuffled, -1)
        self.net.train()
        logits = self.net(x)
        loss = x.new_zeros(())
        for name, y in targets.items():
            if (y >= 0).any():  # a batch of one-object scenes has no object-2 targets
                loss = loss + F.cross_entropy(logits[name], y, ignore_index=-1)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.schedule.step()
        return {"loss": loss.item()}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        augment = []
        if c.augment_shift or c.augment_rotate or c.augment_scale:
            augment.append(
                f"random affine: shift {c.augment_shift}, rotate {c.augment_rotate} deg, "
                f"zoom {c.augment_scale}"
            )
        if c.colour_shuffle:
            augment.append(
                f"RGB channels shuffled in {c.colour_shuffle:.0%} of images (their "
                f"{', '.join(c.colour_heads)} targets ignored)"
            )
        return {
            "loss": "cross-entropy summed over the heads (absent attributes, -1, ignored)",
            "targets": "scene objects in canonical order (object 1 left of or above object 2)"
            if c.canonical_order
            else c.target,
            "heads": dict(c.heads),
            "optimizer": "AdamW",
            "lr": c.lr,
            "weight_decay": c.weight_decay,
            "schedule": f"linear warm-up {c.warmup} steps, cosine decay to 0 at step {c.steps}",
            "augmentation": "; ".join(augment) or "none",
        }
