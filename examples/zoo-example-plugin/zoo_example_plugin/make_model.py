"""Train the shipped model and write its folder into the package.

    python -m zoo_example_plugin.make_model            # writes models/checkers-demo/
    python -m zoo_example_plugin.make_model --out DIR  # anywhere else

Uses the zoo's own training loop (``zoo.train.train``), which writes the card,
config.json, model.safetensors and a sample grid; the same as
``zoo train checkers --data checkerboards --out DIR`` once the plugin is installed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zoo_example_plugin import MODELS

MODEL_ID = "checkers-demo"
STEPS = 1500


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS / MODEL_ID, help="model folder")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps")
    args = parser.parse_args(argv)

    from zoo.registry.discovery import Registry, get_registry, reset_registry
    from zoo.train import train

    if "checkers" not in get_registry().families:
        # run from a source checkout that is not installed: register this package by hand
        import zoo_example_plugin

        reset_registry(Registry.discover(extra=[("checkers", zoo_example_plugin)]))
    out = train(
        "checkers",
        "checkerboards",
        args.out,
        steps=args.steps,
        seed=0,
        preset="default",
        device="cpu",
        force=True,
        progress=False,
    )
    print(out)
    return out


if __name__ == "__main__":
    main()
