"""Inpainting on the scenes: are the pixels outside the mask kept, and is the prompt drawn
inside it?

For test scene k (k = 0..n-1) the right half is masked (white = repaint) and the model is
asked for "a COLOUR SHAPE on the right", the colour-shape pair k of the seen pairs in turn;
image k is drawn from seed k. Rows: the inpainting model (its masked-image and mask
channels, and the kept region blended back), the base model with the same image and mask
(inpainting by blending alone, every sampler can), and the unedited scenes (how often they
already hold the asked object: the base rate).

Columns: the largest and mean difference outside the mask between the input and the output
PNG, in 8-bit levels (goal: 0); "prompt inside": the share of outputs in which
classifier-scenes reads an object of the asked colour and shape (the classifier names
objects left to right).

    python scripts/inpaint_figures.py glide-scenes-inpaint --base glide-scenes [--n 48] [--write-card]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import zoo
from zoo.data import load_split
from zoo.eval_score import load_reference, to_8bit
from zoo.plugins.nn.scenes import CLASS_NAMES, COLOURS

HELD_OUT = {"red triangle", "blue circle", "green square"}  # never in the training data


def right(attrs: torch.Tensor, label: int) -> torch.Tensor:
    """(B,) bool: object 1 or object 2 has label's shape and colour."""
    shape, colour = divmod(label, len(COLOURS))
    one = (attrs[:, 0] == shape) & (attrs[:, 1] == colour)
    two = (attrs[:, 4] == shape) & (attrs[:, 5] == colour)
    return one | two


def levels(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] images as the 8-bit levels a PNG stores (int32)."""
    return (images * 255).round().int()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--base", help="a model to inpaint by blending alone, for comparison")
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--write-card", action="store_true")
    args = ap.parse_args()
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(2)

    judge, _ = load_reference("classifier-scenes", "cpu")
    test = load_split("scenes", "test", 32)["image"][: args.n]
    pairs = [k for k, name in enumerate(CLASS_NAMES) if name not in HELD_OUT]
    labels = [pairs[k % len(pairs)] for k in range(args.n)]
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[:, 16:] = 255
    keep = torch.from_numpy(mask == 0)
    inputs = to_8bit(test)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        mask_path = Path(tmp) / "mask.png"
        Image.fromarray(mask).save(mask_path)
        paths = []
        for k in range(args.n):
            p = Path(tmp) / f"{k}.png"
            Image.fromarray(levels(inputs[k]).permute(1, 2, 0).numpy().astype(np.uint8)).save(p)
            paths.append(str(p))
        models = [("inpainting model", args.model)] + (
            [("base, blending", args.base)] if args.base else []
        )
        for name, model_id in models:
            model = zoo.load(model_id, device="cpu")
            out = torch.cat(
                [
                    model.sample(
                        n=1,
                        seed=k,
                        image=paths[k],
                        mask=str(mask_path),
                        prompt=f"a {CLASS_NAMES[labels[k]]} on the right",
                    ).images
                    for k in range(args.n)
                ]
            )
            out8 = to_8bit(out)
            diff = (levels(out8) - levels(inputs)).abs()[:, :, keep]
            with torch.inference_mode():
                attrs = judge.predict_attributes(out8)
            hit = torch.stack([right(attrs[k : k + 1], labels[k])[0] for k in range(args.n)])
            rows.append(
                [
                    name,
                    int(diff.max()),
                    round(float(diff.float().mean()), 3),
                    round(float(hit.float().mean()), 3),
                ]
            )
            print(rows[-1], flush=True)
    with torch.inference_mode():
        attrs = judge.predict_attributes(inputs)
    base_rate = torch.stack([right(attrs[k : k + 1], labels[k])[0] for k in range(args.n)])
    rows.append(["unedited scenes", 0, 0.0, round(float(base_rate.float().mean()), 3)])
    columns = ["draw", "max |diff| outside", "mean |diff| outside", "prompt inside"]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(v) for v in row))
    if args.write_card:
        from zoo.eval_card import write_figure

        model = zoo.load(args.model, device="cpu")
        command = f"python scripts/inpaint_figures.py {args.model}"
        if args.base:
            command += f" --base {args.base}"
        write_figure(
            str(model.resolved.folder),
            "inpainting",
            title="Inpainting the right half of test scenes",
            command=command + f" --n {args.n} --write-card",
            columns=columns,
            rows=rows,
            note=f"{args.n} test scenes, the right half masked, prompt 'a COLOUR SHAPE on the "
            "right' (the seen colour-shape pairs in turn), image k from seed k at the model's "
            "defaults; differences in 8-bit levels between the input and the output PNG.",
        )


if __name__ == "__main__":
    main()
