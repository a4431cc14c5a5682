"""Denoising autoencoder family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="dae",
            kind="autoencoder",
            generator="zoo.plugins.dae.model:DenoisingAutoencoder",
            trainer="zoo.plugins.dae.train:DAERecipe",
            description=(
                "denoising autoencoder: the ae network with a new recipe, trained to rebuild "
                "clean images from corrupted ones; it reconstructs and denoises but cannot "
                "generate"
            ),
        )
    )
