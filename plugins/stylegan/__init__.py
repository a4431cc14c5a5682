"""StyleGAN family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="stylegan",
            process="one-shot",
            capabilities=("unconditional",),
            generator="zoo.plugins.stylegan.model:StyleGANGenerator",
            trainer="zoo.plugins.stylegan.train:StyleGANRecipe",
            options="zoo.plugins.stylegan.config:StyleGANOptions",
            description=(
                "style-based generator (Karras et al. 2019): mapping network, AdaIN styles per "
                "layer, noise inputs, learned constant; truncation in w, style mixing"
            ),
        )
    )
