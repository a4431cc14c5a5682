"""Autoencoder family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="ae",
            kind="autoencoder",
            generator="zoo.plugins.ae.model:AutoencoderNetwork",
            trainer="zoo.plugins.ae.train:AERecipe",
            description=(
                "autoencoder: encoder, bottleneck, decoder trained with MSE; it reconstructs "
                "but cannot generate"
            ),
        )
    )
