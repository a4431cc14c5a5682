"""The sample grid of a DALL-E model card: one row per prompt, seeds 0..7 across.

Rows 1-5 are prompts in the style of the training captions; rows 6-8 ask for the
colour-shape pairs that never occur in training (red triangle, blue circle, green
square). Each image is what `zoo sample MODEL --prompt P --seed S` draws.

    python scripts/dalle_samples.py dalle-scenes -o cards/dalle-scenes/samples.png
"""

from __future__ import annotations

import argparse

import torch

import zoo
from zoo.images import grid, save_png, to_pil

PROMPTS = (
    "a large red circle in the center",
    "a small blue square on the left",
    "a big yellow triangle at the top",
    "a purple diamond at the bottom",
    "a green circle to the left of a yellow square",
    "a red triangle",
    "a blue circle",
    "a green square",
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="dalle-scenes")
    parser.add_argument("-o", "--out", required=True, help="PNG path of the grid")
    parser.add_argument("--per-prompt", type=int, default=8)
    parser.add_argument("--rerank", type=int, default=None)
    args = parser.parse_args(argv)
    model = zoo.load(args.model, device="cpu")
    rows = [
        model.sample(n=args.per_prompt, seed=0, prompt=p, rerank=args.rerank).images
        for p in PROMPTS
    ]
    save_png(to_pil(grid(torch.cat(rows), nrow=args.per_prompt))[0], args.out)
    for i, p in enumerate(PROMPTS, 1):
        print(f"row {i}: {p}")


if __name__ == "__main__":
    main()
