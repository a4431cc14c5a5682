"""Noise-aware CLIP family: registration only (the torch code loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="noisy-clip",
            kind="reference",
            generator="zoo.plugins.noisyclip.model:NoisyClipNetwork",
            trainer="zoo.plugins.noisyclip.train:NoisyClipRecipe",
            description=(
                "CLIP whose image tower reads noisy samples x_t at every t of a diffusion "
                "model's schedule, the guide of CLIP guidance (GLIDE; a diffusion card names "
                "it as its 'clip' component)"
            ),
        )
    )
