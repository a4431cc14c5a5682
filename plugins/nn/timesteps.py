"""Importance-sampled diffusion timesteps (improved DDPM, Nichol & Dhariwal 2021, sec. 3.3).

Training draws t ~ p_t instead of uniformly and weights each image's loss by
1 / (T p_t), so the weighted loss is an unbiased estimate of the uniform mean:

    E_{t ~ p}[L_t / (T p_t)] = sum_t p_t L_t / (T p_t) = (1/T) sum_t L_t.

With p_t proportional to sqrt(E[L_t^2]), the t whose losses are large (and noisy) are
drawn more often, which lowers the variance of the estimate. E[L_t^2] is read from the
last ``history`` losses seen at each t; until every t has that many, t is drawn
uniformly (and weighted 1). A small uniform share (``floor``, as the paper's code does)
keeps every t drawn now and then, so its history keeps up with training.

The history is training state: it lives in buffers, so a checkpoint of the module keeps it.
"""

from __future__ import annotations

import torch
from torch import nn


class TimestepImportance(nn.Module):
    """Draws training timesteps with p_t ~ sqrt(E[L_t^2]) once every t has a loss history.

    Args:
        num_timesteps: T, the number of training timesteps.
        history: losses kept per t (the newest; the paper keeps 10).
        floor: the share of p that stays uniform once importance sampling starts.
    """

    def __init__(self, num_timesteps: int, history: int = 10, floor: float = 0.001) -> None:
        super().__init__()
        if not 0 <= floor <= 1:
            raise ValueError(f"floor must be in [0, 1], got {floor}")
        self.floor = floor
        self.register_buffer("losses", torch.zeros(num_timesteps, history, dtype=torch.float64))
        self.register_buffer("counts", torch.zeros(num_timesteps, dtype=torch.long))

    @property
    def num_timesteps(self) -> int:
        return self.losses.shape[0]

    def warmed_up(self) -> bool:
        """Whether every t has a full history (before that, t is drawn uniformly)."""
        return bool((self.counts == self.losses.shape[1]).all())

    def probabilities(self) -> torch.Tensor:
        """p_t (T,) float64, summing to 1: uniform until warmed up, then
        (1 - floor) sqrt(E[L_t^2]) / sum_s sqrt(E[L_s^2]) + floor / T."""
        T = self.num_timesteps
        uniform = torch.full((T,), 1 / T, dtype=torch.float64, device=self.losses.device)
        if not self.warmed_up():
            return uniform
        rms = self.losses.pow(2).mean(dim=1).sqrt()
        if not rms.sum() > 0:  # all losses zero: nothing to prefer
            return uniform
        return (1 - self.floor) * rms / rms.sum() + self.floor * uniform

    def sample(self, n: int, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` timesteps (n,) long and their loss weights 1 / (T p_t) (n,) float32.

        Before warm-up this draws exactly as ``torch.randint(0, T, (n,))`` does (weights 1),
        from the global torch RNG of ``device``.
        """
        T = self.num_timesteps
        if not self.warmed_up():
            t = torch.randint(0, T, (n,), device=device)
            return t, torch.ones(n, device=device)
        p = self.probabilities().to(device)
        t = torch.multinomial(p, n, replacement=True)
        return t, (1 / (T * p[t])).float()

    @torch.no_grad()
    def update(self, t: torch.Tensor, losses: torch.Tensor) -> None:
        """Record each image's loss at its t (in batch order): (n,) long and (n,) float.

        A full history drops its oldest loss for the new one.
        """
        size = self.losses.shape[1]
        for step, loss in zip(t.tolist(), losses.double().tolist(), strict=True):
            filled = int(self.counts[step])
            if filled == size:
                self.losses[step, :-1] = self.losses[step, 1:].clone()
                self.losses[step, -1] = loss
            else:
                self.losses[step, filled] = loss
                self.counts[step] = filled + 1
