"""KL autoencoder family (latent diffusion's first stage): registration only (torch loads on use)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="klvae",
            kind="autoencoder",
            generator="zoo.plugins.klvae.model:KLVAENetwork",
            trainer="zoo.plugins.klvae.train:KLVAERecipe",
            description=(
                "the KL-regularised autoencoder of latent diffusion (Rombach et al. 2022) in "
                "diffusers' AutoencoderKL layout: images to (4, H/f, W/f) latents and back, "
                "trained alone with L1 + a small KL term; it reconstructs, an ldm model "
                "diffuses in its latent space (--set autoencoder=...)"
            ),
        )
    )
