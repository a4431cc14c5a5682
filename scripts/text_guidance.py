"""Classifier-free guidance of a scenes text-to-image model: prompt accuracy, CLIP score
and FID against the guidance scale, on test captions and on held-out colour-shape pairs.

Each row is one `zoo eval` run (``zoo.evaluate.evaluate`` with ``--option guidance=S``,
its images cached, each drawn from its own seed with its own caption), at the model's
default sampler and steps:

- split "test": the test split's captions (a quarter of their objects take a colour-shape
  pair training never saw, as the dataset is made);
- split "heldout": captions whose first object always takes a held-out pair.

Columns: ``prompt accuracy`` is zoo eval's (classifier-scenes reads every attribute the
caption names: sizes, colours, shapes, positions, count, relation); ``colour-shape`` is the
share of images in which one object has the colour and shape the caption gives its first
object (the classifier names objects left to right, not in caption order); CLIP score by
clip-scenes; FID on classifier-scenes features against the test split.

    python scripts/text_guidance.py ldm-scenes [--n 200] [--scales 0,1,2,3,5,8] [--write-card]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

import zoo
from zoo.bulk import file_for
from zoo.data import load_split
from zoo.device import seeds_for
from zoo.eval_score import load_reference, to_8bit
from zoo.evaluate import evaluate
from zoo.images import load_image
from zoo.plugins.datasets.scenes import caption_to_attributes


def colour_shape_right(attrs: torch.Tensor, captions: list[str]) -> torch.Tensor:
    """(N,) bool: one judged object has the colour and shape of the caption's first object.

    ``attrs`` are classifier-scenes' columns in head order (shape1, colour1, size1,
    position1, shape2, colour2, ...)."""
    wanted = [caption_to_attributes(c) or {} for c in captions]
    shape = torch.tensor([w.get("shape1", -1) for w in wanted])
    colour = torch.tensor([w.get("colour1", -1) for w in wanted])
    one = (attrs[:, 0] == shape) & (attrs[:, 1] == colour)
    two = (attrs[:, 4] == shape) & (attrs[:, 5] == colour)
    return (one | two) & (shape >= 0) & (colour >= 0)


def sweep(model_id: str, n: int, scales: list[float], splits: list[str]) -> list[list]:
    judge, _ = load_reference("classifier-scenes", "cpu")
    model = zoo.load(model_id, device="cpu")
    rows = []
    for split in splits:
        captions = load_split("scenes", split)["caption"]
        wanted = [captions[k % len(captions)] for k in range(n)]
        for scale in scales:
            result = evaluate(
                model_id,
                metrics="fid,clip_score,prompt_accuracy",
                n=n,
                options={"guidance": scale},
                split=split,
                untrained=False,
                progress=sys.stderr.isatty(),
            )
            folder = Path(result["cache"]) / "samples"
            images = torch.cat(
                [load_image(file_for(folder, s), 3) for s in seeds_for(result["seed"], n)]
            )
            with torch.inference_mode():
                attrs = judge.predict_attributes(to_8bit(images))
            m = result["metrics"]
            rows.append(
                [
                    split,
                    scale,
                    round(m["prompt_accuracy"]["value"], 3),
                    round(float(colour_shape_right(attrs, wanted).float().mean()), 3),
                    round(m["clip_score"]["value"], 2),
                    round(m["fid"]["value"], 1),
                ]
            )
            print(*rows[-1], sep="\t", file=sys.stderr, flush=True)
    del model
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--n", type=int, default=200, help="images per row")
    ap.add_argument("--scales", default="0,1,2,3,5,8", help="guidance scales, comma-separated")
    ap.add_argument("--splits", default="test,heldout")
    ap.add_argument("--write-card", action="store_true")
    args = ap.parse_args()
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(2)
    scales = [float(s) for s in args.scales.split(",")]
    splits = args.splits.split(",")
    rows = sweep(args.model, args.n, scales, splits)
    columns = ["split", "guidance", "prompt accuracy", "colour-shape", "CLIP score", "FID"]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(v) for v in row))
    if args.write_card:
        from zoo.eval_card import write_figure

        model = zoo.load(args.model, device="cpu")
        sampler = model.resolved.default_sampler()
        steps = model.generator.default_steps()
        command = f"python scripts/text_guidance.py {args.model} --n {args.n}"
        if args.scales != "0,1,2,3,5,8":
            command += f" --scales {args.scales}"
        if args.splits != "test,heldout":
            command += f" --splits {args.splits}"
        write_figure(
            str(model.resolved.folder),
            "guidance-sweep",
            title=f"Classifier-free guidance ({sampler}, {steps} steps)",
            command=command + " --write-card",
            columns=columns,
            rows=rows,
            note=f"{args.n} images per row, image k from seed k with the split's caption k. "
            "prompt accuracy: classifier-scenes reads every attribute the caption names; "
            "colour-shape: one object has the colour and shape the caption gives its first "
            "object; heldout: the first object's colour-shape pair never appeared in training.",
        )


if __name__ == "__main__":
    main()
