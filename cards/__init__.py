"""The models shipped with zoo: one folder per model, laid out like a Hub repo.

Each ``cards/<model-id>/`` holds README.md (card), config.json and
*.safetensors. This module is the ``cards`` plugin that registers them.
"""

from pathlib import Path

from zoo.registry import hookimpl
from zoo.registry.schemas import ModelSpec

HERE = Path(__file__).resolve().parent


@hookimpl
def register_models(register):
    for folder in sorted(HERE.iterdir()):
        if folder.is_dir() and (folder / "README.md").is_file():
            register(ModelSpec(id=folder.name, path=str(folder)))
