"""StackGAN family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="stackgan",
            process="one-shot",
            capabilities=("text",),
            generator="zoo.plugins.stackgan.model:StackGANGenerator",
            trainer="zoo.plugins.stackgan.train:StackGANRecipe",
            options="zoo.plugins.stackgan.config:StackGANOptions",
            description=(
                "text-to-image in two stages (Zhang et al. 2017): conditioning augmentation, "
                "Stage-I sketches shapes and colours, Stage-II re-reads the text and refines"
            ),
        )
    )
