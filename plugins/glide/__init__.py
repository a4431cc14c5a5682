"""GLIDE family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="glide",
            process="diffusion",
            capabilities=("unconditional", "text", "image", "mask"),
            generator="zoo.plugins.glide.model:GlideGenerator",
            trainer="zoo.plugins.glide.train:GlideRecipe",
            options="zoo.plugins.glide.config:GlideOptions",
            description=(
                "text-guided pixel diffusion (Nichol et al. 2021, GLIDE): a transformer's "
                "tokens appended to every attention's keys and values, classifier-free or "
                "CLIP guidance, inpainting and upsampler variants"
            ),
        )
    )
