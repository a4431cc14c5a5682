"""CycleGAN family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="cyclegan",
            process="one-shot",
            capabilities=("image",),
            generator="zoo.plugins.cyclegan.model:CycleGANGenerator",
            trainer="zoo.plugins.cyclegan.train:CycleGANRecipe",
            options="zoo.plugins.cyclegan.config:CycleGANOptions",
            description=(
                "unpaired image-to-image translation (Zhu et al. 2017): two generators, two "
                "PatchGAN discriminators, cycle-consistency loss; --direction a2b|b2a"
            ),
        )
    )
