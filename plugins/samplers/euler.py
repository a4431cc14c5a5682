"""Euler and ancestral Euler: first-order steps of the diffusion ODE (and SDE) in sigma.

Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models"
(arXiv 2206.00364), Algorithm 1 without the second-order correction and, for the
deterministic sampler, without churn; the ancestral variant follows the reverse step of
Ho et al. 2020 split into a deterministic move and fresh noise, as in Karras et al.'s
reference code (k-diffusion).

In the sigma view (see ``sigmas``), x = x_0 + sigma eps and the probability-flow ODE is
dx/dsigma = (x - D(x; sigma)) / sigma, where D is the denoiser's estimate of x_0. The
network was trained on x_t = x / sqrt(sigma^2 + 1) at training timestep t(sigma), so it is
called there (t may be fractional) and its output turned into D:

    eps:    D = x - sigma eps
    sample: D = x_0 prediction
    v:      D = x / (sigma^2 + 1) - sigma / sqrt(sigma^2 + 1) v

Euler (deterministic):  x <- x + (sigma_next - sigma) (x - D) / sigma.
Euler ancestral: to go from sigma to sigma_next with the right marginal, add fresh noise of
std sigma_up = sqrt(sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2) after a deterministic
move to sigma_down = sqrt(sigma_next^2 - sigma_up^2):

    x <- x + (sigma_down - sigma) (x - D) / sigma + sigma_up z,   z ~ N(0, I) per image.

The steps follow diffusers' EulerDiscreteScheduler (s_churn 0) and
EulerAncestralDiscreteScheduler: the timesteps by the spacing option (linspace keeps them
fractional), the noise levels interpolated linearly in t, a final level of zero, and x_T
drawn with std sigma_max (sqrt(sigma_max^2 + 1) under leading spacing, as diffusers'
init_noise_sigma). The schedule's ``clip_sample`` is not applied (neither scheduler has it).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from zoo.plugins.samplers.diffusion import (
    DiffusionSampler,
    GuidedDenoiser,
    first_step,
    randn,
    split_output,
    train_timesteps,
)
from zoo.plugins.samplers.options import EulerOptions
from zoo.plugins.samplers.sigmas import check_steps, sigmas_at
from zoo.registry.contracts import Draw
from zoo.registry.diffusion import NoiseSchedule, Spacing


def euler_sigmas(
    schedule: NoiseSchedule, steps: int, spacing: Spacing
) -> tuple[np.ndarray, torch.Tensor]:
    """(timesteps (n,) float32, noise levels (n + 1,) float32 ending at 0) of the n steps.

    linspace: evenly from T-1 down to 0, not rounded; leading and trailing: as
    ``train_timesteps`` gives them.
    """
    check_steps(schedule, steps)
    if spacing == "linspace":
        n_train = schedule.num_train_timesteps
        timesteps = np.linspace(0, n_train - 1, steps, dtype=np.float32)[::-1].copy()
    else:
        timesteps = train_timesteps(schedule, steps, spacing).astype(np.float32)
    sigmas = np.append(sigmas_at(schedule, timesteps), 0.0).astype(np.float32)
    return timesteps, torch.from_numpy(sigmas)


def denoised(output: torch.Tensor, x: torch.Tensor, sigma: torch.Tensor, kind: str) -> torch.Tensor:
    """D(x; sigma): the x_0 a network output of ``kind`` implies at x = x_0 + sigma eps."""
    if kind == "epsilon":
        return x - sigma * output
    if kind == "sample":
        return output
    return output * (-sigma / (sigma**2 + 1) ** 0.5) + x / (sigma**2 + 1)


class EulerSampler(DiffusionSampler):
    """Euler's method on the probability-flow ODE (deterministic: the seed only draws x_T)."""

    name = "euler"
    options_class = EulerOptions
    ancestral: ClassVar[bool] = False

    def loop(
        self,
        model: GuidedDenoiser,
        schedule: NoiseSchedule,
        steps: int,
        shape: tuple[int, int, int],
        rngs: list[torch.Generator],
        draw: Draw,
    ) -> torch.Tensor:
        opts: EulerOptions = self.own_options(draw)
        # the model's own spacing by default (see dpm.py: cosine schedules and t = T-1)
        spacing = opts.timestep_spacing or schedule.timestep_spacing
        timesteps, sigmas = euler_sigmas(schedule, steps, spacing)
        # x_T = sigma_max z: pure noise at the first level (x = x_0 + sigma eps, x_0 negligible)
        init = sigmas.max()
        if spacing == "leading":
            init = (init**2 + 1) ** 0.5
        x = model.noise0 = randn(rngs, shape).to(draw.device)
        k = first_step(model, len(timesteps))
        # img2img: the input at step k's level, x = x_0 + sigma z (this loop's scaling)
        x = x * init if model.start is None else model.start.to(x) + sigmas[k] * x
        for i, t in enumerate(timesteps.tolist()):
            if i < k:
                continue
            sigma, sigma_next = sigmas[i], sigmas[i + 1]
            # 1. the network sees x_t = x / sqrt(sigma^2 + 1) at the timestep of sigma
            output, _ = split_output(model(x / (sigma**2 + 1) ** 0.5, t), shape[0])
            # 2. its estimate of x_0, and the ODE's slope dx/dsigma = (x - D) / sigma
            slope = (x - denoised(output, x, sigma, schedule.prediction_type)) / sigma
            if not self.ancestral:
                # 3. one Euler step to the next level
                x = model.keep(x + slope * (sigma_next - sigma), 1.0, sigma_next)
                continue
            # 3. ancestral: a deterministic step to sigma_down, then fresh noise of std sigma_up
            sigma_up = (sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2) ** 0.5
            sigma_down = (sigma_next**2 - sigma_up**2) ** 0.5
            x = x + slope * (sigma_down - sigma)
            x = x + randn(rngs, shape).to(draw.device) * sigma_up
            x = model.keep(x, 1.0, sigma_next)
        return x


class EulerAncestralSampler(EulerSampler):
    """Ancestral Euler: each step adds fresh noise from every image's own stream."""

    name = "euler-a"
    ancestral = True
