"""Conditional GAN family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="cgan",
            process="one-shot",
            capabilities=("class",),
            generator="zoo.plugins.cgan.model:CGANGenerator",
            trainer="zoo.plugins.cgan.train:CGANRecipe",
            options="zoo.registry.options:TruncationOptions",
            description=(
                "class-conditional GAN (Mirza & Osindero 2014) on DCGAN-style convolutional "
                "networks: the label feeds both generator and discriminator"
            ),
        )
    )
