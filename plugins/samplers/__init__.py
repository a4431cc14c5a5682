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
