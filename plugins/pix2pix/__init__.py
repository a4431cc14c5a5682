"""Pix2Pix family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="pix2pix",
            process="one-shot",
            capabilities=("image",),
            generator="zoo.plugins.pix2pix.model:Pix2PixGenerator",
            trainer="zoo.plugins.pix2pix.train:Pix2PixRecipe",
            description=(
                "paired image-to-image translation (Isola et al. 2017): U-Net generator with "
                "skips, PatchGAN discriminator, cGAN + lambda L1 loss"
            ),
        )
    )
