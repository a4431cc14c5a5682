"""GAN family (the original MLP GAN): registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="gan",
            process="one-shot",
            capabilities=("unconditional",),
            generator="zoo.plugins.gan.model:GANGenerator",
            trainer="zoo.plugins.gan.train:GANRecipe",
            options="zoo.registry.options:TruncationOptions",
            description=(
                "the original generative adversarial network (Goodfellow et al. 2014): "
                "MLP generator and MLP discriminator"
            ),
        )
    )
