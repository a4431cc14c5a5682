"""Built-in samplers: one file per algorithm, registered here by import path."""

from zoo.registry import hookimpl
from zoo.registry.schemas import SamplerSpec


@hookimpl
def register_samplers(register):
    register(
        SamplerSpec(
            name="one-shot",
            process="one-shot",
            sampler="zoo.plugins.samplers.oneshot:OneShotSampler",
            description="draw z ~ N(0, I) per image and map it in one pass (GANs)",
        )
    )
    register(
        SamplerSpec(
            name="ar",
            process="autoregressive",
            sampler="zoo.plugins.samplers.autoregressive:AutoregressiveSampler",
            options="zoo.plugins.samplers.options:AutoregressiveOptions",
            description=(
                "draw tokens one at a time (temperature, top-k, top-p; --rerank N keeps the "
                "best of N by the model's score), then decode them"
            ),
        )
    )
    register(
        SamplerSpec(
            name="dpm++2m",
            process="diffusion",
            sampler="zoo.plugins.samplers.dpm:DPMSolverSampler",
            options="zoo.plugins.samplers.options:DPMOptions",
            takes=("steps", "guidance"),
            description=(
                "DPM-Solver++ 2M: a second-order multistep ODE solver, good in 15-25 steps "
                "(--karras spaces the noise levels as Karras et al.)"
            ),
        )
    )
    register(
        SamplerSpec(
            name="euler",
            process="diffusion",
            sampler="zoo.plugins.samplers.euler:EulerSampler",
            options="zoo.plugins.samplers.options:EulerOptions",
            takes=("steps", "guidance"),
            description="Euler steps of the probability-flow ODE in sigma (Karras et al. 2022)",
        )
    )
    register(
        SamplerSpec(
            name="euler-a",
            process="diffusion",
            sampler="zoo.plugins.samplers.euler:EulerAncestralSampler",
            options="zoo.plugins.samplers.options:EulerOptions",
            takes=("steps", "guidance"),
            description="ancestral Euler: each step adds fresh noise from the image's own seed",
        )
    )
    register(
        SamplerSpec(
            name="ddpm",
            process="diffusion",
            sampler="zoo.plugins.samplers.ddpm:DDPMSampler",
            options="zoo.plugins.samplers.options:DDPMOptions",
            takes=("steps", "guidance"),
            description=(
                "ancestral sampling (Ho et al. 2020): fixed-small, fixed-large or learned "
                "variance; fewer steps than training run the respaced chain"
            ),
        )
    )
    register(
        SamplerSpec(
            name="ddim",
            process="diffusion",
            sampler="zoo.plugins.samplers.ddim:DDIMSampler",
            options="zoo.plugins.samplers.options:DDIMOptions",
            takes=("steps", "guidance"),
            description=(
                "DDIM (Song et al. 2021): deterministic at eta 0, stochastic up to eta 1; "
                "timestep spacing leading, trailing or linspace"
            ),
        )
    )
