"""Latent diffusion (Stable Diffusion 1.x/2.x): registration only (torch loads on use)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="ldm",
            process="diffusion",
            capabilities=("text", "image", "mask"),
            generator="zoo.plugins.ldm.model:LatentDiffusionGenerator",
            trainer="zoo.plugins.ldm.train:LDMRecipe",
            pipelines=(
                "StableDiffusionPipeline",
                "StableDiffusionImg2ImgPipeline",
                "StableDiffusionInpaintPipeline",
            ),
            pipeline_networks=("unet", "vae", "text_encoder"),
            converter="zoo.plugins.ldm.convert:convert",
            description=(
                "latent diffusion (Rombach et al. 2022): a KL autoencoder, a U-Net that "
                "cross-attends to a CLIP text encoder, classifier-free guidance; Stable "
                "Diffusion 1.x/2.x repos in diffusers' layout load as they are"
            ),
        )
    )
