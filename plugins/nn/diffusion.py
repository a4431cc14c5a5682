"""Training pieces every diffusion family shares: the forward process, the losses, EMA.

- ``q_sample``: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps (Ho et al. 2020, eq. 4).
- ``simple_loss``: ||target - network output||^2 with the target the model predicts
  (eps, v = sqrt(a) eps - sqrt(1 - a) x_0, or x_0): DDPM's L_simple.
- ``vlb_terms``: improved DDPM's L_vlb for a learned variance (Nichol & Dhariwal 2021, eq. 16):
  KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) in bits per dimension, the decoder's
  discretised Gaussian likelihood at t = 0, the mean held fixed (stop-gradient) so that only
  the variance learns from it. The hybrid loss is L_simple + lambda L_vlb, lambda = 0.001.
- ``EMA``: an exponential moving average of the weights, the copy that is shipped.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import torch
from torch import nn


def q_sample(
    x_0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, alphas_cumprod: torch.Tensor
) -> torch.Tensor:
    """x_t for x_0 (B, C, H, W), integer t (B,) and noise eps."""
    a = alphas_cumprod.to(x_0.device)[t].view(-1, 1, 1, 1)
    return a.sqrt() * x_0 + (1 - a).sqrt() * eps


NOISE_FRACTIONS = (0.0, 0.25, 0.5, 0.75)  # t / T at which noise-aware networks are scored


def noised(
    images: torch.Tensor, t: int, alphas_cumprod: torch.Tensor, seed: int = 0, batch: int = 500
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
    """(rows, x_t, t) for batches of ``images`` (N, C, S, S) in [0, 1] noised to timestep
    ``t``, the noise drawn from ``seed`` (the same noise for every t)."""
    gen = torch.Generator().manual_seed(seed)
    for i in range(0, len(images), batch):
        x_0 = images[i : i + batch] * 2 - 1
        eps = torch.randn(x_0.shape, generator=gen)
        tt = torch.full((len(x_0),), t, dtype=torch.long)
        yield slice(i, i + batch), q_sample(x_0, tt, eps, alphas_cumprod), tt


def target_for(
    prediction: str,
    x_0: torch.Tensor,
    eps: torch.Tensor,
    t: torch.Tensor,
    alphas_cumprod: torch.Tensor,
) -> torch.Tensor:
    """What the network should output: eps, v or x_0."""
    if prediction == "epsilon":
        return eps
    if prediction == "sample":
        return x_0
    a = alphas_cumprod.to(x_0.device)[t].view(-1, 1, 1, 1)
    return a.sqrt() * eps - (1 - a).sqrt() * x_0


def _normal_kl(
    mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor, logvar2: torch.Tensor
) -> torch.Tensor:
    return 0.5 * (
        -1.0
        + logvar2
        - logvar1
        + (logvar1 - logvar2).exp()
        + (mean1 - mean2) ** 2 * (-logvar2).exp()
    )


def _approx_std_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def discretized_gaussian_log_likelihood(
    x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor
) -> torch.Tensor:
    """log p(x) of x in [-1, 1] (8-bit levels) under N(mean, exp(log_scale)^2) binned to 1/255."""
    centred = x - mean
    inv_std = (-log_scale).exp()
    cdf_plus = _approx_std_normal_cdf(inv_std * (centred + 1.0 / 255.0))
    cdf_min = _approx_std_normal_cdf(inv_std * (centred - 1.0 / 255.0))
    log_cdf_plus = cdf_plus.clamp(min=1e-12).log()
    log_one_minus_cdf_min = (1.0 - cdf_min).clamp(min=1e-12).log()
    cdf_delta = cdf_plus - cdf_min
    return torch.where(
        x < -0.999,
        log_cdf_plus,
        torch.where(x > 0.999, log_one_minus_cdf_min, cdf_delta.clamp(min=1e-12).log()),
    )


def vlb_terms(
    x_0: torch.Tensor,
    x_t: torch.Tensor,
    t: torch.Tensor,
    eps_pred: torch.Tensor,
    var_values: torch.Tensor,
    alphas_cumprod: torch.Tensor,
) -> torch.Tensor:
    """Per-image L_vlb term (B,) in bits/dim for a learned_range variance (mean detached)."""
    ac = alphas_cumprod.to(x_0.device)
    ac_prev = torch.cat([ac.new_ones(1), ac[:-1]])
    betas = 1 - ac / ac_prev
    beta_tilde = betas * (1 - ac_prev) / (1 - ac)
    # beta tilde is 0 at t = 0: its log is clipped to the next value, as improved DDPM does
    log_beta_tilde = torch.log(torch.cat([beta_tilde[1:2], beta_tilde[1:]]))

    def at(v: torch.Tensor) -> torch.Tensor:
        return v[t].view(-1, 1, 1, 1)

    a_t, a_prev, beta_t = at(ac), at(ac_prev), at(betas)
    # the true posterior q(x_{t-1} | x_t, x_0)
    coef0 = a_prev.sqrt() * beta_t / (1 - a_t)
    coef_t = (1 - beta_t).sqrt() * (1 - a_prev) / (1 - a_t)
    true_mean = coef0 * x_0 + coef_t * x_t
    true_logvar = at(log_beta_tilde)
    # the model's p(x_{t-1} | x_t): mean from the detached eps, log variance interpolated
    frac = (var_values + 1) / 2
    model_logvar = frac * beta_t.log() + (1 - frac) * true_logvar
    x0_pred = ((x_t - (1 - a_t).sqrt() * eps_pred.detach()) / a_t.sqrt()).clamp(-1, 1)
    model_mean = coef0 * x0_pred + coef_t * x_t
    kl = _normal_kl(true_mean, true_logvar, model_mean, model_logvar).mean(
        dim=(1, 2, 3)
    ) / math.log(2.0)
    nll = -discretized_gaussian_log_likelihood(x_0, model_mean, 0.5 * model_logvar)
    nll = nll.mean(dim=(1, 2, 3)) / math.log(2.0)
    return torch.where(t == 0, nll, kl)


class EMA(nn.Module):
    """w_ema <- d w_ema + (1 - d) w, with d warmed up as min(decay, (1 + n) / (10 + n)).

    A short run's EMA with a fixed 0.999 lags far behind the weights; the warm-up lets the
    average follow early training.
    """

    def __init__(self, net: nn.Module, decay: float) -> None:
        super().__init__()
        self.decay = decay
        self.net = copy.deepcopy(net).eval().requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        n = int(self.updates)
        d = min(self.decay, (1 + n) / (10 + n))
        for avg, p in zip(self.net.parameters(), net.parameters(), strict=True):
            avg.mul_(d).add_(p.detach(), alpha=1 - d)
        for avg, b in zip(self.net.buffers(), net.buffers(), strict=True):
            avg.copy_(b)
        self.updates += 1

    def copy_to(self, net: nn.Module) -> None:
        """Write the averaged weights into ``net``."""
        net.load_state_dict(self.net.state_dict())
