"""DCGAN family: registration only (the torch code loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="dcgan",
            process="one-shot",
            capabilities=("unconditional",),
            generator="zoo.plugins.dcgan.model:DCGANGenerator",
            trainer="zoo.plugins.dcgan.train:DCGANRecipe",
            options="zoo.registry.options:TruncationOptions",
            description=(
                "deep convolutional GAN (Radford et al. 2015): transposed-conv generator, "
                "strided-conv discriminator, batchnorm"
            ),
        )
    )
