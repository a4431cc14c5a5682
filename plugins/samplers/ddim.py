"""DDIM: denoising diffusion implicit models.

Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models" (eq. 12 and 16). The sampler
visits S training timesteps tau_S > ... > tau_1 (``train_timesteps``, spacing leading,
trailing or linspace) and steps from each to the next one. With abar = alpha_bar(tau_i) and
abar' = alpha_bar(tau_{i-1}), taken as 1 after the last step ("final alpha one"):

    x0^, eps^  the network's eps / v / x_0 prediction turned into both; x0^ is clamped when
               the schedule clips, eps^ stays the network's
    sigma      = eta sqrt((1 - abar') / (1 - abar)) sqrt(1 - abar / abar')          (eq. 16)
    x'         = sqrt(abar') x0^ + sqrt(1 - abar' - sigma^2) eps^ + sigma z          (eq. 12)

with z ~ N(0, I) from the image's own stream. eta = 0 is the deterministic DDIM sampler;
eta = 1 is DDPM's ancestral step with the fixed_small variance.

diffusers' DDIMScheduler steps from t to t - T // S instead of to the next visited timestep:
the same step for leading spacing, and for trailing spacing when S divides T; for linspace
(and trailing otherwise) it lands between the visited timesteps (diffusers issue #12633).
"""

from __future__ import annotations

import torch

from zoo.plugins.samplers.diffusion import (
    DiffusionSampler,
    GuidedDenoiser,
    first_step,
    randn,
    split_output,
    start_vp,
    train_timesteps,
    x0_and_eps,
)
from zoo.plugins.samplers.options import DDIMOptions
from zoo.registry.contracts import Draw
from zoo.registry.diffusion import NoiseSchedule


class DDIMSampler(DiffusionSampler):
    name = "ddim"
    options_class = DDIMOptions

    def loop(
        self,
        model: GuidedDenoiser,
        schedule: NoiseSchedule,
        steps: int,
        shape: tuple[int, int, int],
        rngs: list[torch.Generator],
        draw: Draw,
    ) -> torch.Tensor:
        opts: DDIMOptions = self.own_options(draw)
        clip = schedule.clip_sample if opts.clip_sample is None else opts.clip_sample
        eta = opts.eta
        timesteps = train_timesteps(schedule, steps, opts.timestep_spacing)
        alpha_bar = schedule.alphas_cumprod()
        # where the last step lands: alpha_bar = 1, or timestep 0's (set_alpha_to_one False)
        final = torch.tensor(1.0) if schedule.set_alpha_to_one else alpha_bar[0]

        # 1. x_T ~ N(0, I), one draw per image stream (img2img: the input noised to step k)
        x = model.noise0 = randn(rngs, shape).to(draw.device)
        k = first_step(model, len(timesteps))
        x = start_vp(model, x, alpha_bar[int(timesteps[k])])
        for i, t in enumerate(timesteps.tolist()):
            if i < k:
                continue
            a_t = alpha_bar[t]
            a_prev = final if i == len(timesteps) - 1 else alpha_bar[int(timesteps[i + 1])]

            # 2. the network's prediction as x0^ and eps^ (eq. 12's "predicted x_0")
            output, _ = split_output(model(x, t), shape[0])
            x0, eps = x0_and_eps(output, x, a_t, schedule.prediction_type)
            if clip:
                x0 = x0.clamp(-schedule.clip_sample_range, schedule.clip_sample_range)

            # 3. sigma_t(eta) of eq. 16
            sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).sqrt()

            # 4. eq. 12: x0^ at the next noise level, plus the direction pointing to x_t
            x = a_prev.sqrt() * x0 + (1 - a_prev - sigma**2).clamp(min=0).sqrt() * eps

            # 5. the random part, drawn only when the step has one
            if eta > 0:
                x = x + sigma * randn(rngs, shape).to(draw.device)
            last = i == len(timesteps) - 1
            x = model.keep(x, 1.0 if last else a_prev.sqrt(), 0.0 if last else (1 - a_prev).sqrt())
        return x
