"""DDPM: ancestral sampling of the learned reverse process.

Ho et al. 2020, "Denoising Diffusion Probabilistic Models" (eq. 6-7, Algorithm 2), with the
learned variance and the respaced chain of Nichol & Dhariwal 2021, "Improved Denoising
Diffusion Probabilistic Models" (eq. 15 and section 4).

With S steps the sampler visits S training timesteps tau_S > ... > tau_1 (``train_timesteps``)
and runs the reverse process of the chain made of those timesteps alone. Writing
abar = alpha_bar(tau_i) and abar' = alpha_bar(tau_{i-1}) (1 after the last), that chain has
alpha = abar / abar' and beta = 1 - alpha; with S = T these are the training betas. Each step:

    x0^   the network's eps / v / x_0 prediction turned into x_0, clamped when the schedule clips
    mu    = sqrt(abar') beta / (1 - abar) x0^ + sqrt(alpha) (1 - abar') / (1 - abar) x_t  (eq. 7)
    var   = beta~ = (1 - abar') / (1 - abar) beta                    fixed_small (eq. 7)
          | beta                                                     fixed_large
          | exp(f log beta + (1 - f) log beta~), f = (v + 1) / 2     learned_range (eq. 15)
    x'    = mu + sqrt(var) z, z ~ N(0, I) from the image's own stream

where v in [-1, 1] are the network's extra C channels. The last step returns mu: no noise
is added to x_0 (Algorithm 2, z = 0 at t = 1). diffusers' DDPMScheduler takes the same steps;
it adds noise after every step whose timestep is above 0, which differs only where the last
visited timestep is above 0 (trailing spacing, or a steps_offset).
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
from zoo.plugins.samplers.options import DDPMOptions
from zoo.registry.contracts import Draw
from zoo.registry.diffusion import NoiseSchedule
from zoo.registry.errors import RequestError

# beta~ is 0 where abar' = 1; its log is taken at this floor instead
MIN_VARIANCE = 1e-20


class DDPMSampler(DiffusionSampler):
    name = "ddpm"
    options_class = DDPMOptions

    def loop(
        self,
        model: GuidedDenoiser,
        schedule: NoiseSchedule,
        steps: int,
        shape: tuple[int, int, int],
        rngs: list[torch.Generator],
        draw: Draw,
    ) -> torch.Tensor:
        opts: DDPMOptions = self.own_options(draw)
        clip = schedule.clip_sample if opts.clip_sample is None else opts.clip_sample
        variance_type = opts.variance_type or schedule.variance_type
        timesteps = train_timesteps(schedule, steps, opts.timestep_spacing)
        alpha_bar = schedule.alphas_cumprod()
        one = torch.tensor(1.0)
        channels = shape[0]

        # 1. x_T ~ N(0, I), one draw per image stream (img2img: the input noised to step k)
        x = model.noise0 = randn(rngs, shape).to(draw.device)
        k = first_step(model, len(timesteps))
        x = start_vp(model, x, alpha_bar[int(timesteps[k])])
        for i, t in enumerate(timesteps.tolist()):
            if i < k:
                continue
            last = i == len(timesteps) - 1
            # 2. the respaced chain's alpha and beta between t and the next visited timestep
            a_t = alpha_bar[t]
            a_prev = one if last else alpha_bar[int(timesteps[i + 1])]
            alpha = a_t / a_prev
            beta = 1 - alpha

            # 3. the network's prediction, as x0^ (clamped when the schedule says so)
            output, v = split_output(model(x, t), channels)
            if variance_type == "learned_range" and v is None:
                raise RequestError(
                    "variance_type learned_range needs a network that predicts its variance; "
                    "use --variance-type fixed_small or fixed_large"
                )
            x0, _ = x0_and_eps(output, x, a_t, schedule.prediction_type)
            if clip:
                x0 = x0.clamp(-schedule.clip_sample_range, schedule.clip_sample_range)

            # 4. the posterior mean mu(x_t, x0^) of q(x_{t'} | x_t, x_0)
            mean = (a_prev.sqrt() * beta / (1 - a_t)) * x0 + (
                alpha.sqrt() * (1 - a_prev) / (1 - a_t)
            ) * x
            if last:
                x = model.keep(mean, 1.0, 0.0)
                break

            # 5. add noise of the chosen variance
            z = randn(rngs, shape).to(draw.device)
            beta_tilde = ((1 - a_prev) / (1 - a_t) * beta).clamp(min=MIN_VARIANCE)
            if variance_type == "fixed_small":
                std = beta_tilde.sqrt()
            elif variance_type == "fixed_large":
                std = beta.sqrt()
            else:
                f = (v + 1) / 2
                std = torch.exp(0.5 * (f * beta.log() + (1 - f) * beta_tilde.log()))
            x = model.keep(mean + std * z, a_prev.sqrt(), (1 - a_prev).sqrt())
        return x
