"""Classifier family: registration only (the torch code loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="classifier",
            kind="reference",
            generator="zoo.plugins.classifier.model:ClassifierNetwork",
            trainer="zoo.plugins.classifier.train:ClassifierRecipe",
            description=(
                "small VGG-style CNN per dataset (class or attribute heads) whose features and "
                "logits stand in for Inception's in FID, KID and IS"
            ),
        )
    )
