"""A grid of StyleGAN's controls: rows plain, psi 0.5, coarse mix, fine mix, no noise.

    python scripts/stylegan_controls.py [--out cards/stylegan-scenes/controls.png]

Every image is drawn through `zoo.load("stylegan-scenes").sample`, so each cell can be
redrawn with `zoo sample` and the flags named in its row.
"""

from __future__ import annotations

import argparse

import torch

import zoo
from zoo.images import grid, save_png, to_pil

ROWS = (
    ("plain", {}),
    ("--truncation 0.5", {"truncation": 0.5}),
    ("--mix-seed 100 --mix-layers coarse", {"mix_seed": 100, "mix_layers": "coarse"}),
    ("--mix-seed 100 --mix-layers fine", {"mix_seed": 100, "mix_layers": "fine"}),
    ("--no-noise", {"noise": False}),
)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="cards/stylegan-scenes/controls.png")
    ap.add_argument("--n", type=int, default=8, help="seeds per row (0..n-1)")
    args = ap.parse_args()
    model = zoo.load("stylegan-scenes")
    rows = [model.sample(n=args.n, seed=0, **opts).images for _, opts in ROWS]
    save_png(
        to_pil(grid(torch.cat(rows), nrow=args.n))[0], args.out, {"rows": [r for r, _ in ROWS]}
    )
    print(args.out)


if __name__ == "__main__":
    main()
