"""VQ-VAE recipe: the VQ-VAE first, then the PixelCNN prior on its codes, in one run."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.nn.schedules import phase_schedule
from zoo.plugins.vqvae.config import VQVAEConfig
from zoo.plugins.vqvae.model import VQVAEGenerator
from zoo.registry.contracts import Recipe


class CodeUsage(nn.Module):
    """The step at which each code was last chosen (a buffer, so checkpoints keep it)."""

    def __init__(self, codebook_size: int) -> None:
        super().__init__()
        self.register_buffer("last_used", torch.zeros(codebook_size, dtype=torch.long))


def perplexity(codes: torch.Tensor, k: int) -> float:
    """exp(entropy) of the codes' frequencies: the number of equally used codes it matches."""
    p = torch.bincount(codes.flatten().cpu(), minlength=k).double()
    p = p[p > 0] / p.sum()
    return float(torch.exp(-(p * p.log()).sum()))


class VQVAERecipe(Recipe):
    """Steps 0 .. vq_steps - 1 train the VQ-VAE, the rest the prior (van den Oord et al. 2017).

    VQ-VAE phase: L = MSE(D(z_q), x) + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2 (the
    seeds' formula (2)) with the straight-through gradient; afterwards, codes that no
    batch has chosen for ``restart_after`` steps are moved onto random encoder outputs of
    the batch (during the first ``restart_until`` of the phase; the global torch RNG
    picks them). Prior phase: the VQ-VAE is frozen; each batch is encoded to its codes
    and the PixelCNN is fitted with cross-entropy on them (formula (3)).

    Which phase runs is read from the VQ-VAE's LR schedule (steps taken so far), so a run
    resumed from a checkpoint picks up in the right phase.
    """

    generator: VQVAEGenerator
    config: VQVAEConfig

    def __init__(self, generator: VQVAEGenerator, config: VQVAEConfig, device: torch.device):
        super().__init__(generator, config, device)
        c = config
        self.vqvae = generator.vqvae.to(device)
        self.prior = generator.prior.to(device)
        self.usage = CodeUsage(c.codebook_size).to(device)
        self.opt_vq = torch.optim.Adam(self.vqvae.parameters(), lr=c.vq_lr)
        self.schedule_vq = phase_schedule(self.opt_vq, c.warmup, c.vq_steps)
        self.opt_prior = torch.optim.Adam(self.prior.parameters(), lr=c.prior_lr)
        self.schedule_prior = phase_schedule(self.opt_prior, c.warmup, max(1, c.steps - c.vq_steps))

    @property
    def vq_done(self) -> int:
        """VQ-VAE steps taken so far (its schedule's count; checkpoints keep it)."""
        return int(self.schedule_vq.last_epoch)

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        x = batch["image"].to(self.device)
        if self.vq_done < self.config.vq_steps:
            return self._vq_step(x)
        return self._prior_step(x)

    def _vq_step(self, x: torch.Tensor) -> dict[str, float]:
        c, i = self.config, self.vq_done
        self.vqvae.train()
        out = self.vqvae(x)
        recon = F.mse_loss(out["recon"], x)
        loss = recon + out["codebook"] + c.beta * out["commit"]
        self.opt_vq.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_vq.step()
        self.schedule_vq.step()
        restarted = self._restart_dead_codes(i, out["codes"], out["z_e"].detach())
        return {
            "recon": recon.item(),
            "codebook": out["codebook"].item(),
            "commit": out["commit"].item(),
            "batch_perplexity": perplexity(out["codes"], c.codebook_size),
            "restarted": float(restarted),
        }

    @torch.no_grad()
    def _restart_dead_codes(self, step: int, codes: torch.Tensor, z_e: torch.Tensor) -> int:
        """Mark the batch's codes as used at ``step``; move long-unused codes onto encoder
        outputs of this batch. Returns how many codes moved."""
        c = self.config
        last = self.usage.last_used
        last[codes.unique()] = step
        if c.restart_after == 0 or step >= c.restart_until * c.vq_steps:
            return 0
        dead = torch.nonzero(step - last >= c.restart_after).flatten()
        if len(dead) == 0:
            return 0
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])
        pick = torch.randint(len(flat), (len(dead),)).to(flat.device)
        self.vqvae.quantizer.codebook.weight[dead] = flat[pick]
        last[dead] = step
        return len(dead)

    def _prior_step(self, x: torch.Tensor) -> dict[str, float]:
        with torch.no_grad():
            self.vqvae.eval()
            codes = self.vqvae.quantizer.codes(self.vqvae.encoder(x))
        self.prior.train()
        ce = F.cross_entropy(self.prior(codes), codes)
        self.opt_prior.zero_grad(set_to_none=True)
        ce.backward()
        torch.nn.utils.clip_grad_norm_(self.prior.parameters(), 1.0)
        self.opt_prior.step()
        self.schedule_prior.step()
        return {"prior_ce": ce.item()}

    def trainable(self) -> dict[str, nn.Module]:
        return {"vqvae": self.vqvae, "prior": self.prior, "code_usage": self.usage}

    def optimizers(self) -> dict[str, Any]:
        return {
            "vqvae": self.opt_vq,
            "vqvae_schedule": self.schedule_vq,
            "prior": self.opt_prior,
            "prior_schedule": self.schedule_prior,
        }

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        restarts = (
            "none"
            if c.restart_after == 0
            else (
                f"a code unused for {c.restart_after} steps moves onto a random encoder output "
                f"of the batch, during the first {c.restart_until:.0%} of the VQ-VAE phase"
            )
        )
        return {
            "phases": (
                f"steps 0-{c.vq_steps - 1}: the VQ-VAE alone; steps {c.vq_steps}-{c.steps - 1}: "
                "the PixelCNN prior on the frozen VQ-VAE's codes of each batch (phase switch "
                "at a fixed step count)"
            ),
            "vqvae_loss": (
                "MSE(decoder(z_q), x) + ||sg[z_e] - e||^2 + beta * ||z_e - sg[e]||^2, means "
                "over values; straight-through gradient z_e + sg[z_q - z_e]"
            ),
            "beta": c.beta,
            "codebook": f"K = {c.codebook_size} entries of width D = {c.code_dim}",
            "dead_code_restarts": restarts,
            "prior_loss": (
                "cross-entropy of the gated PixelCNN's logits against the codes, raster order"
            ),
            "optimizer": "Adam for both; the prior's gradient norm clipped at 1",
            "vq_lr": c.vq_lr,
            "prior_lr": c.prior_lr,
            "schedule": f"each phase: linear warm-up {c.warmup} steps, cosine decay to 0",
        }
