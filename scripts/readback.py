"""What survives the bottleneck: scene attributes read back from reconstructions.

For each scenes autoencoder, classifier-scenes reads object 1's shape, colour, size and
position and the object count from N test images and from their reconstructions; the
table gives how often the two readings agree (chance for shape: 0.25). The line from
the VAE to the VQ-VAE and DALL-E's dVAE runs through this table: a blurred blob keeps
its colour and place and loses its shape, and a token model can only draw what its
codes can express.

    python scripts/readback.py vae-scenes vqvae-scenes dalle-scenes --n 1000 --write-card
"""

from __future__ import annotations

import argparse
import shlex

import torch

import zoo
from zoo.data import load_split
from zoo.eval_card import write_figure

HEADS = ("shape1", "colour1", "size1", "position1", "count")


def readback(model_id: str, images: torch.Tensor, real: torch.Tensor, heads: list[str]) -> list:
    """[model, agreement per head] for one autoencoder."""
    gen = zoo.load(model_id, device="cpu").generator
    judge = zoo.load("classifier-scenes", device="cpu").network
    with torch.inference_mode():
        recon = torch.cat(
            [gen.reconstruct(images[i : i + 250]) for i in range(0, len(images), 250)]
        )
        got = judge.predict_attributes(recon.float().clamp(0, 1))
    return [model_id] + [
        round((got[:, heads.index(h)] == real[:, heads.index(h)]).float().mean().item(), 3)
        for h in HEADS
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="scenes models that reconstruct")
    parser.add_argument("--n", type=int, default=1000, help="test images")
    parser.add_argument("--write-card", action="store_true", help="store the table in each card")
    args = parser.parse_args(argv)
    images = load_split("scenes", "test", 32)["image"][: args.n]
    judge = zoo.load("classifier-scenes", device="cpu").network
    heads = list(judge.config.heads)
    with torch.inference_mode():
        real = judge.predict_attributes(images)
    rows = [readback(m, images, real, heads) for m in args.models]
    columns = ["model", "shape", "colour", "size", "position", "count"]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(v) for v in row))
    if args.write_card:
        command = "python scripts/readback.py " + " ".join(
            shlex.quote(a) for a in (*args.models, "--n", str(args.n), "--write-card")
        )
        for model in args.models:
            write_figure(
                model,
                "readback",
                title="What survives the bottleneck: attributes read back from reconstructions",
                command=command,
                columns=columns,
                rows=rows,
                note=(
                    f"Share of {args.n} test scenes where classifier-scenes reads the same "
                    "value from the reconstruction as from the scene (object 1's shape, "
                    "colour, size and position; the object count). Chance for shape is 0.25."
                ),
            )


if __name__ == "__main__":
    main()
