"""CLIP recipe: symmetric InfoNCE over a batch of image-caption pairs, AdamW, warm-up + cosine."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.clip.config import ClipConfig
from zoo.plugins.clip.model import ClipNetwork
from zoo.plugins.nn.scenes import same_scene
from zoo.plugins.nn.schedules import warmup_cosine
from zoo.registry.contracts import DataNeeds, Recipe
from zoo.registry.errors import RequestError


def positives(batch: dict[str, Any], n: int, device: torch.device) -> torch.Tensor:
    """(n, n) target distribution: row i spread over the captions that describe image i.

    With attribute labels, two scenes with the same attributes (a "small red dot
    on the left" and a "tiny crimson circle at the left") are a match, not a
    negative: treating them as negatives would teach the towers to tell
    synonyms apart by noise. Without labels, only the pair itself.
    """
    if "attributes" in batch:
        same = same_scene(batch["attributes"].to(device)).float()
    else:
        same = torch.eye(n, device=device)
    return same / same.sum(1, keepdim=True)


class ClipRecipe(Recipe):
    """L = (CE(s I T^T, P) + CE(s T I^T, P^T)) / 2 with P from ``positives`` (Radford et al. 2021)."""

    generator: ClipNetwork
    config: ClipConfig

    @classmethod
    def needs(cls, config: ClipConfig) -> DataNeeds:
        return replace(super().needs(config), captions=True)

    def __init__(self, generator: ClipNetwork, config: ClipConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.net = generator.net.to(device)
        # no weight decay on the scale, norms, biases and embeddings (as in CLIP): shrinking
        # them changes what the model can say, not how smooth it is
        groups: dict[bool, list[torch.nn.Parameter]] = {True: [], False: []}
        for name, p in self.net.named_parameters():
            embedding = name.endswith(("token.weight", "position"))
            groups[p.ndim >= 2 and not embedding].append(p)
        self.opt = torch.optim.AdamW(
            [
                {"params": groups[True], "weight_decay": config.weight_decay},
                {"params": groups[False]},
            ],
            lr=config.lr,
            weight_decay=0.0,
        )
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.opt, warmup_cosine(config.warmup, config.steps)
        )

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        if "caption" not in batch:
            raise RequestError("clip trains on captioned images; use a dataset with 'caption'")
        x = batch["image"].to(self.device)
        n = len(x)
        self.net.train()
        image = F.normalize(self.net.image(x), dim=-1)
        text = F.normalize(self.net.text(self.generator.tokenize(batch["caption"])), dim=-1)
        logits = self.net.logit_scale() * image @ text.T
        p = positives(batch, n, self.device)
        loss = (F.cross_entropy(logits, p) + F.cross_entropy(logits.T, p.T)) / 2
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.schedule.step()
        return {"loss": loss.item()}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": "symmetric InfoNCE, s * cos(image, caption), learned s (init "
            f"{1 / c.temperature:.1f}, max 100); same-attribute captions share the target",
            "optimizer": "AdamW (no decay on scale, norms, biases, embeddings)",
            "lr": c.lr,
            "weight_decay": c.weight_decay,
            "schedule": f"linear warm-up {c.warmup} steps, cosine decay to 0 at step {c.steps}",
        }
