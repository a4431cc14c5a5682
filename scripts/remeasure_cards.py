"""Re-measure the sampling speed of every shipped card with `zoo bench`'s method.

For each model folder under cards/ (or those named), draws one warm-up batch and
REPEATS timed batches on the CPU and writes the medians with their min-max into the
card's sampling section (what `zoo bench MODEL --write-card` does), re-rendering the
card's text. Autoencoders and reference networks draw nothing and are skipped.

Run it on a quiet machine: other work running at the same time inflates every figure.

    python scripts/remeasure_cards.py [MODEL ...] [--repeats 5] [-n 64] [--cards DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def remeasure(folder: Path, n: int | None, repeats: int) -> str:
    """Measure one model folder and write its card; returns a line for the log."""
    from zoo.api import load
    from zoo.bench import measure_sampling, spread_text
    from zoo.catalog import resolve
    from zoo.train import rewrite_sampling

    resolved = resolve(str(folder))
    if resolved.family.kind != "generator":
        return f"{folder.name}: skipped ({resolved.family.kind}: draws nothing)"
    images = n or int(resolved.card.zoo.sampling.get("images", 64))
    sampling = measure_sampling(load(str(folder), device="cpu"), images, repeats)
    rewrite_sampling(folder, sampling)
    per_batch = spread_text(sampling["seconds_per_batch"])
    return f"{folder.name}: {per_batch} per batch of {images}, median (min-max) of {repeats}"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("models", nargs="*", help="folder names under --cards (default: all)")
    ap.add_argument("--cards", type=Path, default=ROOT / "cards", help="the cards folder")
    ap.add_argument("-n", type=int, help="images per batch (default: the card's own, else 64)")
    ap.add_argument("--repeats", type=int, help="timed batches after the warm-up (default: 5)")
    args = ap.parse_args()

    from zoo.bench import REPEATS
    from zoo.registry.errors import ZooError

    folders = (
        [args.cards / m for m in args.models]
        if args.models
        else sorted(p.parent for p in args.cards.glob("*/README.md"))
    )
    failed = 0
    for folder in folders:
        try:
            print(remeasure(folder, args.n, args.repeats or REPEATS), flush=True)
        except ZooError as err:
            print(f"{folder.name}: failed: {err}", file=sys.stderr, flush=True)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
