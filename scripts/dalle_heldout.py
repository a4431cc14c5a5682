"""Composition test of a DALL-E model: colour-shape pairs it never saw against pairs it saw.

For each prompt "a <colour> <shape>" it draws N images (seeds 0..N-1) with and
without CLIP reranking, and classifier-scenes reads object 1's colour and shape;
the table gives the share judged right (both, colour alone, shape alone) and the
mean CLIP score. The held-out pairs are the scenes' ``HELD_OUT`` (never in the
training split); the seen pairs swap their colours and shapes, so every colour and
shape appears on both sides. With ``--write-card`` the table lands in the card
as figure ``heldout-pairs``.

    python scripts/dalle_heldout.py dalle-scenes --n 64 --rerank 8 --write-card
"""

from __future__ import annotations

import argparse
import shlex
import sys

import torch

import zoo
from zoo.eval_card import write_figure
from zoo.plugins.datasets import scenes

SEEN = (("red", "circle"), ("blue", "square"), ("green", "triangle"))


def judge_pairs(model_id: str, n: int, rerank: int) -> list[list]:
    """Rows [pair, seen, rerank, both, colour, shape, clip score] for every pair and setting."""
    model = zoo.load(model_id, device="cpu")
    judge = zoo.load("classifier-scenes", device="cpu").network
    heads = list(judge.config.heads)
    rows = []
    pairs = [(p, "held out") for p in scenes.HELD_OUT] + [(p, "seen") for p in SEEN]
    for (colour, shape), kind in pairs:
        prompt = f"a {colour} {shape}"
        for r in sorted({1, rerank}):
            images = model.sample(n=n, seed=0, prompt=prompt, rerank=r, batch_size=64).images
            with torch.inference_mode():
                attrs = judge.predict_attributes(images)
                clip = model.generator.score(images, {"prompt": [prompt] * n})
            right_colour = attrs[:, heads.index("colour1")] == scenes.COLOURS.index(colour)
            right_shape = attrs[:, heads.index("shape1")] == scenes.SHAPES.index(shape)
            rows.append(
                [
                    prompt,
                    kind,
                    r,
                    round((right_colour & right_shape).float().mean().item(), 3),
                    round(right_colour.float().mean().item(), 3),
                    round(right_shape.float().mean().item(), 3),
                    round(clip.clamp(min=0).mean().item(), 2),
                ]
            )
            print(*rows[-1], sep="\t", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="dalle-scenes")
    parser.add_argument("--n", type=int, default=64, help="images per prompt and setting")
    parser.add_argument("--rerank", type=int, default=8, help="candidates per image (besides 1)")
    parser.add_argument("--write-card", action="store_true")
    args = parser.parse_args(argv)
    rows = judge_pairs(args.model, args.n, args.rerank)
    if args.write_card:
        command = "python scripts/dalle_heldout.py " + " ".join(
            shlex.quote(a) for a in (args.model, "--n", str(args.n), "--rerank", str(args.rerank))
        )
        write_figure(
            args.model,
            "heldout-pairs",
            title="Colour-shape pairs never seen in training vs seen pairs (object 1 as judged "
            "by classifier-scenes)",
            command=command + " --write-card",
            columns=[
                "prompt",
                "pair",
                "rerank",
                "colour and shape",
                "colour",
                "shape",
                "CLIP score",
            ],
            rows=rows,
            note=(
                f"{args.n} images per row (seeds 0..{args.n - 1}). Chance for colour and shape is "
                "1/24. Reranking picks by clip-scenes, so its CLIP score is partly circular; "
                "the classifier is the independent judge."
            ),
        )


if __name__ == "__main__":
    main()
