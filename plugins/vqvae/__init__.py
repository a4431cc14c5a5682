"""VQ-VAE family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="vqvae",
            process="autoregressive",
            capabilities=("unconditional",),
            generator="zoo.plugins.vqvae.model:VQVAEGenerator",
            trainer="zoo.plugins.vqvae.train:VQVAERecipe",
            reconstructs=True,
            description=(
                "VQ-VAE (van den Oord et al. 2017): images to a grid of discrete codes and back; "
                "a gated PixelCNN prior over the codes draws new grids to decode"
            ),
        )
    )
