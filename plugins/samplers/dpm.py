"""DPM-Solver++ 2M: a second-order multistep solver of the diffusion ODE in data-prediction form.

Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic
Models" (arXiv 2211.01095), Algorithm 2, with the noise levels of Karras et al. 2022,
"Elucidating the Design Space of Diffusion-Based Generative Models" as an option.

With alpha_t = sqrt(alpha_bar_t), sigma_t = sqrt(1 - alpha_bar_t) and the half log-SNR
lambda_t = log(alpha_t / sigma_t), the exact solution of the probability-flow ODE from s to t
in terms of the data prediction x_theta (the network's guess of x_0) is

    x_t = (sigma_t / sigma_s) x_s + sigma_t int_{lambda_s}^{lambda_t} e^lambda x_theta dlambda.

Holding x_theta constant over the step (first order, equal to DDIM) gives, with
h = lambda_t - lambda_s,

    x_t = (sigma_t / sigma_s) x_s - alpha_t (e^-h - 1) x_theta(x_s, s);

the 2M update keeps the last step's prediction and extrapolates it linearly in lambda:
with r = h_prev / h,

    D = (1 + 1 / (2r)) x_theta(x_s, s) - 1 / (2r) x_theta(x_prev, prev),
    x_t = (sigma_t / sigma_s) x_s - alpha_t (e^-h - 1) D.

The first step has no previous prediction and takes the first-order update; the last step
lands on noise level zero, where the update is x_0 = x_theta (first order too; diffusers
calls this lower_order_final). The steps follow diffusers' DPMSolverMultistepScheduler with
its defaults (algorithm_type "dpmsolver++", solver_order 2, solver_type "midpoint",
final_sigmas_type "zero"): n steps are spread over n + 1 timesteps of which the last, t = 0,
gives way to noise level zero. The schedule's ``clip_sample`` is not applied (diffusers' DPM
solver has no such clamp).
"""

from __future__ import annotations

import numpy as np
import torch

from zoo.plugins.samplers.diffusion import (
    DiffusionSampler,
    GuidedDenoiser,
    first_step,
    randn,
    split_output,
)
from zoo.plugins.samplers.options import DPMOptions
from zoo.plugins.samplers.sigmas import (
    check_steps,
    karras_sigmas,
    sigmas_at,
    timesteps_of,
    train_sigmas,
)
from zoo.registry.contracts import Draw
from zoo.registry.diffusion import NoiseSchedule, Spacing


def solver_timesteps(schedule: NoiseSchedule, steps: int, spacing: Spacing) -> np.ndarray:
    """(steps,) int64 training timesteps, descending; the step after the last is t = -1.

    linspace: n + 1 points evenly from T-1 to 0, rounded, without the 0; leading: multiples
    of T // (n + 1) (+ steps_offset), without the 0; trailing: T-1, T-1-T/n, ... .
    """
    check_steps(schedule, steps)
    n_train = schedule.num_train_timesteps
    if spacing == "linspace":
        t = np.linspace(0, n_train - 1, steps + 1).round()[::-1][:-1]
    elif spacing == "leading":
        ratio = n_train // (steps + 1)
        t = (np.arange(steps + 1) * ratio).round()[::-1][:-1] + schedule.steps_offset
    else:  # trailing
        t = np.arange(n_train, 0, -n_train / steps).round() - 1
    return t.astype(np.int64)


def solver_sigmas(
    schedule: NoiseSchedule, steps: int, karras: bool, spacing: Spacing
) -> tuple[np.ndarray, torch.Tensor]:
    """(timesteps (n,) int64, noise levels (n + 1,) float32 ending at 0) of the n steps.

    Karras: the levels of Karras et al. eq. 5 between the schedule's smallest and largest
    sigma, each at the training timestep nearest its interpolated one.
    """
    if karras:
        check_steps(schedule, steps)
        train = train_sigmas(schedule)
        sigmas = karras_sigmas(float(train[0]), float(train[-1]), steps)
        timesteps = timesteps_of(schedule, sigmas)
        if schedule.beta_schedule != "cosine":  # diffusers keeps cosine's timesteps fractional
            timesteps = timesteps.round()
        timesteps = timesteps.astype(np.int64)
    else:
        timesteps = solver_timesteps(schedule, steps, spacing)
        sigmas = sigmas_at(schedule, timesteps)
    levels = torch.from_numpy(np.append(sigmas, 0.0).astype(np.float32))
    return timesteps, levels


def vp(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha_t, sigma_t) of the variance-preserving process at noise level sigma."""
    alpha = 1 / (sigma**2 + 1) ** 0.5
    return alpha, sigma * alpha


def data_prediction(
    output: torch.Tensor, x_t: torch.Tensor, alpha: torch.Tensor, sd: torch.Tensor, kind: str
) -> torch.Tensor:
    """x_theta: the x_0 a network output of ``kind`` implies at x_t = alpha x_0 + sd eps."""
    if kind == "epsilon":
        return (x_t - sd * output) / alpha
    if kind == "sample":
        return output
    return alpha * x_t - sd * output  # v = alpha eps - sd x_0


class DPMSolverSampler(DiffusionSampler):
    """DPM-Solver++ 2M (multistep, second order, data prediction)."""

    name = "dpm++2m"
    options_class = DPMOptions

    def loop(
        self,
        model: GuidedDenoiser,
        schedule: NoiseSchedule,
        steps: int,
        shape: tuple[int, int, int],
        rngs: list[torch.Generator],
        draw: Draw,
    ) -> torch.Tensor:
        opts: DPMOptions = self.own_options(draw)
        # the model's own spacing by default: a cosine schedule's last timestep has an SNR
        # near 0 (sigma ~ 2e4), where a first step from linspace's t = T-1 blows up errors
        spacing = opts.timestep_spacing or schedule.timestep_spacing
        timesteps, sigmas = solver_sigmas(schedule, steps, opts.karras, spacing)
        # x_T ~ N(0, I): the solver works on x_t itself, whose variance is about 1
        x = model.noise0 = randn(rngs, shape).to(draw.device)
        k = first_step(model, len(timesteps))
        if model.start is not None:  # img2img: the input at step k's level, x = alpha x_0 + sd z
            alpha_k, sd_k = vp(sigmas[k])
            x = alpha_k * model.start.to(x) + sd_k * x
        x0_prev, h_prev = None, None
        for i, t in enumerate(timesteps.tolist()):
            if i < k:
                continue
            # 1. the network at (x_s, s), turned into the data prediction x_theta
            alpha_s, sigma_s = vp(sigmas[i])
            output, _ = split_output(model(x, t), shape[0])
            x0 = data_prediction(output, x, alpha_s, sigma_s, schedule.prediction_type)
            if i == len(timesteps) - 1:
                # 2. the last step reaches noise level 0, where the update is x_0 = x_theta
                x = model.keep(x0, 1.0, 0.0)
                break
            # 2. the step's length in half log-SNR: h = lambda_t - lambda_s
            alpha_t, sigma_t = vp(sigmas[i + 1])
            h = torch.log(alpha_t / sigma_t) - torch.log(alpha_s / sigma_s)
            # 3. first order on the first step, else extrapolate x_theta from the last two
            if x0_prev is None or h_prev is None:
                d = x0
            else:
                r = h_prev / h
                d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_prev
            # 4. x_t = (sigma_t / sigma_s) x_s - alpha_t (e^-h - 1) D
            x = (sigma_t / sigma_s) * x - (alpha_t * (torch.exp(-h) - 1)) * d
            x = model.keep(x, alpha_t, sigma_t)
            x0_prev, h_prev = x0, h
        return x
