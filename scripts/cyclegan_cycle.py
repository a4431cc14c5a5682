"""CycleGAN's cycle reconstruction error on the test split, both ways, trained and untrained.

    python scripts/cyclegan_cycle.py [--n 500] [--write-card]

For day images a: mean |F(G(a)) - a| (pixels in [0, 1]); for night images b:
mean |G(F(b)) - b|. The untrained row is the same config with fresh weights
(seed 0), the floor the cycle loss starts from. Also prints the mean brightness
of inputs and outputs, which shows the translation did happen.
"""

from __future__ import annotations

import argparse

import torch

import zoo
from zoo.data import load_split
from zoo.eval_plan import untrained_twin

MODEL = "cyclegan-daynight"


@torch.inference_mode()
def cycle(model, images: torch.Tensor, first: str) -> tuple[float, float]:
    """(mean |cycle - input|, mean brightness of the translation) over ``images``."""
    g = model.generator
    forward, backward = (g.g_ab, g.g_ba) if first == "a2b" else (g.g_ba, g.g_ab)
    x = images * 2 - 1
    out = forward(x)
    back = backward(out)
    return ((back - x).abs().mean() / 2).item(), ((out + 1) / 2).mean().item()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=500, help="test images per domain")
    ap.add_argument("--write-card", action="store_true", help=f"store the table in {MODEL}'s card")
    args = ap.parse_args()
    model = zoo.load(MODEL, device="cpu")
    twin = untrained_twin(model)
    day = load_split("scenes-day", "test", 32)["image"][: args.n]
    night = load_split("scenes-night", "test", 32)["image"][: args.n]
    rows = []
    for name, images, first in (
        ("day -> night -> day", day, "a2b"),
        ("night -> day -> night", night, "b2a"),
    ):
        err, bright = cycle(model, images, first)
        err0, _ = cycle(twin, images, first)
        rows.append(
            [name, round(err, 4), round(err0, 4), round(images.mean().item(), 3), round(bright, 3)]
        )
    columns = ["cycle", "mean abs error", "untrained", "input brightness", "translated brightness"]
    print(columns)
    for r in rows:
        print(r)
    if args.write_card:
        from zoo.eval_card import write_figure

        write_figure(
            MODEL,
            "cycle",
            title="Cycle reconstruction error",
            columns=columns,
            rows=rows,
            command=f"python scripts/cyclegan_cycle.py --n {args.n} --write-card",
            note=(
                f"Mean absolute error of the round trip on {args.n} test images per domain "
                "(pixels in [0, 1], in float, before any 8-bit rounding), and mean pixel "
                "brightness before and after the first translation."
            ),
        )
        print(f"wrote the {MODEL} card")


if __name__ == "__main__":
    main()
