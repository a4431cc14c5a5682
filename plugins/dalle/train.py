"""DALL-E recipe: the discrete VAE first, then the transformer on its codes, in one run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.dalle.config import DalleConfig
from zoo.plugins.dalle.model import DalleGenerator, gumbel_softmax, kl_to_uniform
from zoo.plugins.nn.scenes import fresh_captions
from zoo.plugins.nn.schedules import phase_schedule
from zoo.plugins.nn.text import learn_tokenizer, tokenizer_summary
from zoo.registry.contracts import DataNeeds, Recipe
from zoo.registry.errors import RequestError


class DalleRecipe(Recipe):
    """Steps 0 .. dvae_steps - 1 train the dVAE, the rest the transformer (Ramesh et al. 2021).

    dVAE phase: L = MSE(decode(gumbel_softmax(logits, tau)), x) + beta KL(q || uniform), tau
    annealed exponentially from ``tau_start`` to ``tau_end`` over the phase and beta
    ramped linearly from 0 over its first ``kl_ramp`` share. Transformer phase: the
    dVAE is frozen; each batch is tokenised (its captions, and the encoder's argmax
    codes), and L = w CE(text) + (1 - w) CE(image) on next-token prediction.

    Which phase runs is read from the dVAE's LR schedule (steps taken so far), so a
    run resumed from a checkpoint picks up in the right phase. With the scenes'
    attributes in the batch, each caption is drawn afresh (another template and
    synonyms for the same scene) from the global torch RNG.
    """

    generator: DalleGenerator
    config: DalleConfig

    @classmethod
    def needs(cls, config: DalleConfig) -> DataNeeds:
        return replace(super().needs(config), captions=True)

    def __init__(self, generator: DalleGenerator, config: DalleConfig, device: torch.device):
        super().__init__(generator, config, device)
        c = config
        self.dvae = generator.dvae.to(device)
        self.gpt = generator.transformer.to(device)
        self.opt_dvae = torch.optim.Adam(self.dvae.parameters(), lr=c.dvae_lr)
        self.schedule_dvae = phase_schedule(self.opt_dvae, c.warmup, c.dvae_steps)
        decay, rest = [], []
        for name, p in self.gpt.named_parameters():
            embedding = name.startswith(("token", "position"))
            (decay if p.ndim >= 2 and not embedding else rest).append(p)
        self.opt_gpt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": c.weight_decay}, {"params": rest}],
            lr=c.lr,
            betas=(0.9, 0.95),
            weight_decay=0.0,
        )
        self.schedule_gpt = phase_schedule(self.opt_gpt, c.warmup, max(1, c.steps - c.dvae_steps))

    # -- schedules

    def temperature(self, step: int) -> float:
        """Gumbel-softmax temperature at dVAE step ``step``: tau_start -> tau_end, exponentially
        over the first ``tau_anneal`` share of the phase, then held at tau_end."""
        c = self.config
        t = min(1.0, step / max(1, round(c.tau_anneal * c.dvae_steps) - 1))
        return c.tau_start * (c.tau_end / c.tau_start) ** t

    def kl_beta(self, step: int) -> float:
        """beta at dVAE step ``step``: 0 -> kl_weight over the first kl_ramp of the phase."""
        c = self.config
        ramp = c.kl_ramp * c.dvae_steps
        return c.kl_weight * (1.0 if ramp < 1 else min(1.0, step / ramp))

    @property
    def dvae_done(self) -> int:
        """dVAE steps taken so far (the dVAE schedule's count; checkpoints keep it)."""
        return int(self.schedule_dvae.last_epoch)

    # -- steps

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        x = batch["image"].to(self.device)
        if self.dvae_done < self.config.dvae_steps:
            return self._dvae_step(x)
        return self._transformer_step(x, self._captions(batch))

    def _dvae_step(self, x: torch.Tensor) -> dict[str, float]:
        i = self.dvae_done
        tau, beta = self.temperature(i), self.kl_beta(i)
        self.dvae.train()
        logits = self.dvae.logits(x)
        recon = self.dvae.decode_soft(gumbel_softmax(logits, tau))
        mse = F.mse_loss(recon, x)
        kl = kl_to_uniform(logits)
        loss = mse + beta * kl
        self.opt_dvae.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_dvae.step()
        self.schedule_dvae.step()
        return {"dvae_mse": mse.item(), "dvae_kl": kl.item()}

    def _captions(self, batch: dict[str, Any]) -> list[str]:
        if "caption" not in batch:
            raise RequestError("dalle trains on captioned images; use a dataset with 'caption'")
        return fresh_captions(batch)

    def _transformer_step(self, x: torch.Tensor, captions: list[str]) -> dict[str, float]:
        c = self.config
        with torch.no_grad():
            self.dvae.eval()
            codes = self.dvae.logits(x).argmax(1).flatten(1)  # (B, L)
        text = self.generator.tokenize(captions).to(self.device)  # (B, T)
        t = text.shape[1]
        self.gpt.train()
        h, _ = self.gpt(torch.cat([text, codes + self.gpt.text_vocab], dim=1)[:, :-1])
        # text: predict tokens 1..T-1; the padding after the first pad carries no information
        pad = self.generator.tokenizer.pad_id
        target = text[:, 1:]
        keep = (target != pad) | (text[:, :-1] != pad)
        ce_text = F.cross_entropy(self.gpt.text_head(h[:, : t - 1])[keep], target[keep])
        image_logits = self.gpt.image_head(h[:, t - 1 :])
        ce_image = F.cross_entropy(image_logits.flatten(0, 1), codes.flatten())
        loss = c.text_loss_weight * ce_text + (1 - c.text_loss_weight) * ce_image
        self.opt_gpt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.gpt.parameters(), 1.0)
        self.opt_gpt.step()
        self.schedule_gpt.step()
        return {"ce_text": ce_text.item(), "ce_image": ce_image.item()}

    # -- bookkeeping

    def prepare(self, split: Mapping[str, Any]) -> None:
        """With tokenizer "bpe", learn its merges from the split's captions."""
        learn_tokenizer(self.generator, split)

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"dvae": self.dvae, "transformer": self.gpt}

    def optimizers(self) -> dict[str, Any]:
        return {
            "dvae": self.opt_dvae,
            "dvae_schedule": self.schedule_dvae,
            "transformer": self.opt_gpt,
            "transformer_schedule": self.schedule_gpt,
        }

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "phases": (
                f"steps 0-{c.dvae_steps - 1}: the dVAE alone; steps {c.dvae_steps}-{c.steps - 1}: "
                "the transformer on the frozen dVAE's argmax codes of each batch"
            ),
            "dvae_loss": (
                "MSE(decode(gumbel_softmax(logits, tau)), x) + beta * KL(q(z|x) || uniform over "
                f"{c.codebook_size} codes), per value and per cell"
            ),
            "gumbel_tau": (
                f"{c.tau_start:g} -> {c.tau_end:g}, exponential over the first {c.tau_anneal:.0%} "
                "of the dVAE phase, then held"
            ),
            "kl_beta": f"0 -> {c.kl_weight:g}, linear over the first {c.kl_ramp:.0%} of it",
            "transformer_loss": (
                f"{c.text_loss_weight:g} * CE(text tokens) + {1 - c.text_loss_weight:g} * "
                "CE(image tokens), next-token prediction with causal attention"
            ),
            "tokenizer": tokenizer_summary(c),
            "captions": "scenes: a fresh caption of each scene every step (template, synonyms)",
            "optimizer": "dVAE: Adam; transformer: AdamW (betas 0.9, 0.95; no decay on "
            "embeddings, norms, biases), gradient norm clipped at 1",
            "dvae_lr": c.dvae_lr,
            "lr": c.lr,
            "weight_decay": c.weight_decay,
            "schedule": f"each phase: linear warm-up {c.warmup} steps, cosine decay to 0",
        }
