"""The noise-level ("sigma") view of a discrete diffusion schedule, shared by the samplers
that step in it (DPM-Solver++, Euler).

Karras et al. 2022 write a variance-preserving model x_t = sqrt(alpha_bar_t) x_0 +
sqrt(1 - alpha_bar_t) eps as x = x_t / sqrt(alpha_bar_t) = x_0 + sigma_t eps with

    sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t),

which grows with t. Between training timesteps, sigma is interpolated linearly in t; going
back from a sigma to a (fractional) timestep interpolates log sigma, as diffusers does.
"""

from __future__ import annotations

import numpy as np

from zoo.registry.diffusion import NoiseSchedule
from zoo.registry.errors import RequestError

RHO = 7.0
"""Karras et al. 2022's schedule exponent (their eq. 5 and Table 1)."""


def check_steps(schedule: NoiseSchedule, steps: int) -> None:
    """Refuse a number of steps the schedule cannot give, in one line."""
    n_train = schedule.num_train_timesteps
    if not 1 <= steps <= n_train:
        raise RequestError(f"--steps must be between 1 and {n_train} for this model, got {steps}")


def train_sigmas(schedule: NoiseSchedule) -> np.ndarray:
    """(T,) float32 sigma_t of the training timesteps t = 0 .. T-1, increasing."""
    alpha_bar = schedule.alphas_cumprod().numpy()
    return np.sqrt((1 - alpha_bar) / alpha_bar)


def sigmas_at(schedule: NoiseSchedule, timesteps: np.ndarray) -> np.ndarray:
    """(n,) float64 sigma at (possibly fractional) timesteps, linear in t between them."""
    sigmas = train_sigmas(schedule)
    return np.interp(timesteps, np.arange(len(sigmas)), sigmas)


def timesteps_of(schedule: NoiseSchedule, sigmas: np.ndarray) -> np.ndarray:
    """(n,) fractional timesteps of noise levels ``sigmas``: log sigma interpolated in t.

    Levels outside the schedule's range map to its first or last timestep.
    """
    log_sigmas = np.log(train_sigmas(schedule))
    return np.interp(np.log(np.maximum(sigmas, 1e-10)), log_sigmas, np.arange(len(log_sigmas)))


def karras_sigmas(sigma_min: float, sigma_max: float, steps: int, rho: float = RHO) -> np.ndarray:
    """(steps,) float64 noise levels from sigma_max down to sigma_min (Karras et al. eq. 5).

    sigma_i = (sigma_max^(1/rho) + i / (N - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho:
    evenly spaced in sigma^(1/rho), so the steps crowd near the data, where detail forms.
    """
    ramp = np.linspace(0, 1, steps)
    hi, lo = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho
