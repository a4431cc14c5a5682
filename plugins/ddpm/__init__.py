"""DDPM family: registration only (torch loads when a model is used)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="ddpm",
            process="diffusion",
            capabilities=("unconditional", "class"),
            component_capabilities={"clip": ("text",)},
            generator="zoo.plugins.ddpm.model:DDPMGenerator",
            trainer="zoo.plugins.ddpm.train:DDPMRecipe",
            options="zoo.plugins.ddpm.config:DDPMOptions",
            description=(
                "pixel-space denoising diffusion (Ho et al. 2020) with a U-Net; improved DDPM's "
                "cosine schedule and learned variance (Nichol & Dhariwal 2021); class labels "
                "with classifier-free guidance (Ho & Salimans 2022) or classifier guidance "
                "(Dhariwal & Nichol 2021); prompts by CLIP guidance (Nichol et al. 2021)"
            ),
        )
    )
