"""zoo-example-plugin: the "checkers" family, a "checkerboards" dataset and the
"checkers-demo" model, registered with the zoo through one entry point.

This module holds the hook implementations only. It imports no torch: the zoo
calls these hooks for `zoo list` and `zoo --help`, which must stay fast, and
imports the classes named by the import paths below when a model is used.
"""

from pathlib import Path

from zoo.registry import hookimpl
from zoo.registry.schemas import DatasetSpec, FamilySpec, ModelSpec

# The version of the zoo's hooks this plugin was written for (zoo.registry.API_VERSION).
ZOO_API = 1

MODELS = Path(__file__).resolve().parent / "models"


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="checkers",
            process="one-shot",
            capabilities=("unconditional", "class"),
            generator="zoo_example_plugin.model:CheckersGenerator",
            trainer="zoo_example_plugin.train:CheckersRecipe",
            # its own options (a pydantic model importable without torch): typed flags of
            # `zoo sample checkers-demo --help`, `-O sharpness=2`, Model.sample(sharpness=2)
            options="zoo_example_plugin.config:CheckersOptions",
            description=(
                "a tiny conditional VAE decoder (Kingma & Welling 2013) that draws "
                "checkerboards; the class is the cell size"
            ),
        )
    )


@hookimpl
def register_datasets(register):
    register(
        DatasetSpec(
            name="checkerboards",
            loader="zoo_example_plugin.data:load",
            description="procedural grey checkerboards; classes: cells of 1, 2 or 4 pixels at 8x8",
        )
    )


@hookimpl
def register_models(register):
    # one folder per model, each laid out like a Hub repo (README.md card,
    # config.json, model.safetensors); the card names the family
    if not MODELS.is_dir():
        return
    for folder in sorted(MODELS.iterdir()):
        if (folder / "README.md").is_file():
            register(ModelSpec(id=folder.name, path=str(folder)))
