"""Variational autoencoder family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="vae",
            process="one-shot",
            capabilities=("unconditional",),
            generator="zoo.plugins.vae.model:VAEGenerator",
            trainer="zoo.plugins.vae.train:VAERecipe",
            options="zoo.registry.options:TruncationOptions",
            reconstructs=True,
            description=(
                "variational autoencoder (Kingma & Welling 2014): codes pulled towards N(0, I) "
                "by a KL term, so z ~ N(0, I) decodes to new images"
            ),
        )
    )
