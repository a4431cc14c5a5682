"""CLIP family: registration only (the torch code loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="clip",
            kind="reference",
            generator="zoo.plugins.clip.model:ClipNetwork",
            trainer="zoo.plugins.clip.train:ClipRecipe",
            description=(
                "small CLIP (Radford et al. 2021): CNN image tower and transformer text tower "
                "(over words or a byte-level BPE) in one embedding; stands in for CLIP in CLIP "
                "score and retrieval"
            ),
        )
    )
