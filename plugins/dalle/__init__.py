"""DALL-E family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="dalle",
            process="autoregressive",
            capabilities=("text",),
            generator="zoo.plugins.dalle.model:DalleGenerator",
            trainer="zoo.plugins.dalle.train:DalleRecipe",
            reconstructs=True,
            description=(
                "DALL-E (Ramesh et al. 2021): a Gumbel-softmax discrete VAE turns images into "
                "code grids; a causal transformer draws the codes after the prompt's tokens; "
                "--rerank N keeps the best of N by CLIP score"
            ),
        )
    )
