"""A grid of StackGAN prompts: for each prompt, Stage-I images over Stage-II images.

    python scripts/stackgan_stages.py [--out cards/stackgan-scenes/stages.png]

Rows come in pairs (Stage-I, then Stage-II of the same seeds); every cell is
`zoo sample stackgan-scenes --prompt P --seed S [--stage 1]`.
"""

from __future__ import annotations

import argparse

import torch

import zoo
from zoo.images import grid, save_png, to_pil

PROMPTS = (
    "a large red circle",
    "a small blue square on the left",
    "a yellow triangle above a green diamond",
    "a purple circle to the right of an orange square",
)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="cards/stackgan-scenes/stages.png")
    ap.add_argument("--n", type=int, default=8, help="seeds per prompt (0..n-1)")
    args = ap.parse_args()
    model = zoo.load("stackgan-scenes")
    rows = []
    for prompt in PROMPTS:
        rows.append(model.sample(n=args.n, seed=0, prompt=prompt, stage=1).images)
        rows.append(model.sample(n=args.n, seed=0, prompt=prompt).images)
    save_png(to_pil(grid(torch.cat(rows), nrow=args.n))[0], args.out, {"prompts": list(PROMPTS)})
    print(args.out)


if __name__ == "__main__":
    main()
