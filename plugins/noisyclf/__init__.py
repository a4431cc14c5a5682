"""Noise-aware classifier family: registration only (the torch code loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="noisy-classifier",
            kind="reference",
            generator="zoo.plugins.noisyclf.model:NoisyClassifier",
            trainer="zoo.plugins.noisyclf.train:NoisyClassifierRecipe",
            description=(
                "classifier of noisy samples x_t at every t of a diffusion model's schedule, "
                "the guide of classifier guidance (a diffusion card names it as its "
                "'classifier' component)"
            ),
        )
    )
