"""CLIP guidance on a class-conditional scenes diffusion model: does the prompt steer it?

The model's card names a noise-aware CLIP as its ``clip`` component. For each seen
colour-shape pair, images are drawn four ways, each image from its own seed:

- unconditional: --guidance 0 (the null class), no prompt: the base rate;
- clip S: --prompt "a COLOUR SHAPE" --clip-scale S (the unconditional branch, steered by
  the gradient of the noisy CLIP's similarity to the prompt; Nichol et al. 2021);
- classifier-free: --label PAIR at the card's guidance (the model's own conditioning); for
  a text model (GLIDE), --prompt "a COLOUR SHAPE" --guidance S at several scales S, so the two
  kinds of guidance can be compared at matched diversity (recall), as GLIDE compares them.

The judge is ``classifier-scenes`` (not the guide): an image is right when one of its
objects has the asked colour and shape (the model may add a second object; the classifier
names objects left to right, not in prompt order). Also reported: FID, precision and recall
(k = 3) against the test split on the judge's features.

    python scripts/clip_guidance.py iddpm-scenes [--n 16] [--write-card]
"""

from __future__ import annotations

import argparse
import os

import torch

import zoo
from zoo import metrics as M
from zoo.data import load_split
from zoo.eval_score import load_reference, to_8bit
from zoo.plugins.nn.scenes import CLASS_NAMES, COLOURS

HELD_OUT = {"red triangle", "blue circle", "green square"}  # never in the training data
CLIP_SCALES = (1.0, 3.0, 10.0)
CFG_SCALES = (1.0, 3.0, 5.0)  # classifier-free scales of a text model


def right(attrs: torch.Tensor, label: int) -> torch.Tensor:
    """(B,) bool: object 1 or object 2 has label's shape and colour."""
    shape, colour = divmod(label, len(COLOURS))
    one = (attrs[:, 0] == shape) & (attrs[:, 1] == colour)
    two = (attrs[:, 4] == shape) & (attrs[:, 5] == colour)
    return one | two


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", default="iddpm-scenes")
    ap.add_argument("--n", type=int, default=16, help="images per colour-shape pair")
    ap.add_argument("--steps", type=int, default=None, help="default: the model's")
    ap.add_argument("--write-card", action="store_true")
    args = ap.parse_args()
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(2)

    model = zoo.load(args.model, device="cpu")
    sampler = model.resolved.default_sampler()
    steps = args.steps or model.generator.default_steps()
    judge, _ = load_reference("classifier-scenes", "cpu")
    test = load_split("scenes", "test", judge.config.image_size)
    with torch.inference_mode():
        test_features = torch.cat(
            [judge.features(to_8bit(test["image"][i : i + 500])) for i in range(0, 2000, 500)]
        )
    pairs = [k for k, name in enumerate(CLASS_NAMES) if name not in HELD_OUT]
    ways = [("unconditional", 0.0, {"guidance": 0.0})]
    ways += [("clip", s, {"clip_scale": s}) for s in CLIP_SCALES]
    text_model = "text" in model.resolved.capabilities
    if text_model:
        ways += [("classifier-free", s, {"guidance": s}) for s in CFG_SCALES]
    else:
        ways += [("classifier-free (--label)", None, {})]
    rows = []
    for name, scale, kw in ways:
        images, hits = [], []
        for k in pairs:
            seeds = list(range(k * args.n, (k + 1) * args.n))
            extra = dict(kw)
            if name == "clip" or text_model and name == "classifier-free":
                extra["prompt"] = f"a {CLASS_NAMES[k]}"
            elif name.startswith("classifier-free"):
                extra["label"] = k
            got = model.sample(
                n=len(seeds), seed=seeds[0], steps=steps, batch_size=64, **extra
            ).images
            with torch.inference_mode():
                attrs = judge.predict_attributes(to_8bit(got))
            hits.append(right(attrs, k))
            images.append(got)
        x = to_8bit(torch.cat(images))
        with torch.inference_mode():
            feats = judge.features(x)
        accuracy = float(torch.cat(hits).float().mean())
        precision, recall = M.precision_recall(test_features, feats, 3)
        rows.append(
            [
                name,
                scale if scale is not None else "-",
                accuracy,
                M.fid(test_features, feats),
                precision,
                recall,
            ]
        )
        print(rows[-1], flush=True)
    columns = ["draw", "scale", "prompt accuracy", "FID", "precision", "recall"]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    if args.write_card:
        from zoo.eval_card import write_figure

        write_figure(
            str(model.resolved.folder),
            "clip-guidance",
            title=f"CLIP guidance ({sampler}, {steps} steps)",
            command=f"python scripts/clip_guidance.py {model.id} --n {args.n} --write-card",
            columns=columns,
            rows=[[round(v, 4) if isinstance(v, float) else v for v in r] for r in rows],
            note=f"{len(pairs)} seen colour-shape pairs x {args.n} images each; prompt "
            "accuracy: classifier-scenes reads an object of the asked colour and shape; "
            "clip rows: --guidance 0 --prompt 'a COLOUR SHAPE' --clip-scale S"
            + (
                "; classifier-free rows: --prompt 'a COLOUR SHAPE' --guidance S."
                if text_model
                else "; classifier-free: --label PAIR at the card's scale."
            ),
        )


if __name__ == "__main__":
    main()
