"""BigGAN family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="biggan",
            process="one-shot",
            capabilities=("class",),
            generator="zoo.plugins.biggan.model:BigGANGenerator",
            trainer="zoo.plugins.biggan.train:BigGANRecipe",
            options="zoo.registry.options:TruncationOptions",
            description=(
                "BigGAN (Brock et al. 2018): shared class embedding into conditional batch norm, "
                "spectral norm, projection discriminator, hinge loss, truncation trick"
            ),
        )
    )
