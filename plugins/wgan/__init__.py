"""WGAN-GP family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="wgan",
            process="one-shot",
            capabilities=("unconditional",),
            generator="zoo.plugins.wgan.model:WGANGenerator",
            trainer="zoo.plugins.wgan.train:WGANRecipe",
            options="zoo.registry.options:TruncationOptions",
            description=(
                "Wasserstein GAN: a critic estimates the earth mover's distance, kept "
                "1-Lipschitz by a gradient penalty (Gulrajani et al. 2017) or weight clipping"
            ),
        )
    )
