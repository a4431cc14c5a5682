"""The seeds' sampling claims, measured on a class-conditional diffusion model of the zoo.

Two tables, each image set scored against the dataset's test split with its reference
classifier (FID on its features, precision/recall with k=3, label accuracy: the share of
images the classifier reads as the class they were drawn for):

1. samplers and steps: ddim at 10, 20, 50, 100 steps, dpm++2m and euler at 10, 20, 50, and
   ddpm at the
   full 1,000 (DDIM's claim: 50 deterministic steps come within ~10% of 1,000 ancestral
   ones), all at the model's default guidance;
2. classifier-free guidance: the scale swept with DDIM-50 (the fidelity/diversity trade:
   label accuracy and precision up, recall down as the scale grows);
3. classifier guidance against classifier-free guidance (Dhariwal & Nichol 2021 against
   Ho & Salimans 2022): the unconditional branch (--guidance 0) steered by the card's
   noise-aware classifier at several --classifier-scale values, beside the classifier-free
   scales, so the two can be compared at matched label accuracy. The judge is the dataset's
   reference classifier, not the guide.

``--rows sampler:steps,...`` measures only those rows of the samplers table and merges them
into the card's table (the other rows kept, same --n): the DDPM-1000 row alone takes most
of an hour on two cores.

The samplers table also gives the wall time per image of each draw (2 threads, this
machine; noisy when other work shares the cores).

    python scripts/diffusion_figures.py ddpm-digits [--n 1000] [--write-card]

Images i of every row are drawn from seed i with label i % classes, so rows differ only by
the sampler, steps and scale.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

import zoo
from zoo import metrics as M
from zoo.data import load_split
from zoo.eval_score import load_reference, to_8bit

STEP_ROWS = [(sampler, s) for sampler in ("ddim", "dpm++2m", "euler") for s in (10, 20, 50, 100)]
STEP_ROWS += [("ddpm", 1000), ("ddim+clip", 50), ("ddpm+clip", 1000)]
SCALES = [0.0, 1.0, 2.0, 3.0, 5.0, 8.0]
CFG_SCALES = [1.0, 2.0, 3.0, 5.0]
CLASSIFIER_SCALES = [1.0, 2.0, 4.0, 8.0, 16.0]


SCORES = ("fid", "precision", "recall", "label_accuracy")
ONLY = {
    "samplers": "steps",
    "guidance": "guidance",
    "classifier-guidance": "classifier",
    "precision": "precision",
}


def matched(rows: list[list]) -> str:
    """A sentence comparing the two guidance kinds where their label accuracies are closest."""
    cfg = [r for r in rows if r[0] == "classifier-free"]
    clf = [r for r in rows if r[0] == "classifier"]
    if not cfg or not clf:
        return ""
    a, b = min(((a, b) for a in cfg for b in clf), key=lambda p: abs(p[0][5] - p[1][5]))
    return (
        f"At matched label accuracy ({a[5]:.3f} classifier-free scale {a[1]:g}, {b[5]:.3f} "
        f"classifier scale {b[1]:g}) the FIDs are {a[2]:.3g} and {b[2]:.3g}."
    )


def merge_rows(model, key: str, new: list[list], order: list[list]) -> list[list]:
    """The card's rows of figure ``key`` with ``new`` rows replacing or joining them, in
    ``order`` (rows matched by their first two columns)."""
    old = model.resolved.card.zoo.figures.get(key)
    have = {tuple(r[:2]): list(r) for r in (old.rows if old else [])}
    have.update({tuple(r[:2]): r for r in new})
    ranked = [tuple(o) for o in order]
    return sorted(
        have.values(),
        key=lambda r: ranked.index(tuple(r[:2])) if tuple(r[:2]) in ranked else len(ranked),
    )


def score(images: torch.Tensor, labels: torch.Tensor, classifier, test_features) -> dict:
    from zoo.eval_score import fit, shape_of

    shape = shape_of(classifier)
    x = fit(to_8bit(images), shape[1], shape[0]) if shape else to_8bit(images)
    with torch.inference_mode():
        feats = torch.cat([classifier.features(x[i : i + 256]) for i in range(0, len(x), 256)])
        logits = torch.cat([classifier.logits(x[i : i + 256]) for i in range(0, len(x), 256)])
    precision, recall = M.precision_recall(test_features, feats, 3)
    return {
        "fid": M.fid(test_features, feats),
        "precision": precision,
        "recall": recall,
        "label_accuracy": M.label_accuracy(logits, labels),
    }


def draw(model, n: int, classes: int, first: int = 0, **kw) -> tuple[torch.Tensor, float]:
    """n images, image i from seed first + i and label i % classes; (images, seconds per
    image). The tables draw in float32 (autocast "none") unless a row says otherwise: they
    were measured so, and the precision table shows what the bfloat16 default changes."""
    from zoo.api import make_request

    kw.setdefault("autocast", "none")
    t0 = time.perf_counter()
    images: torch.Tensor | None = None
    for label in range(classes):
        rows = list(range(label, n, classes))
        seeds = [first + i for i in rows]
        request = make_request(n=len(seeds), seed=seeds[0], label=label, batch_size=250, **kw)
        got = model.run(request, seeds=seeds).images  # each image keeps its own seed
        if images is None:
            images = torch.empty(n, *got.shape[1:])
        images[rows] = got
    assert images is not None
    return images, (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", default="ddpm-digits")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument(
        "--only", choices=["steps", "guidance", "classifier", "precision"], help="one table only"
    )
    ap.add_argument(
        "--rows",
        help="samplers table: measure only these SAMPLER:STEPS rows (comma-separated) and "
        "merge them into the card's table",
    )
    ap.add_argument(
        "--no-ddpm", action="store_true", help="leave out DDPM at 1,000 steps (the slow row)"
    )
    ap.add_argument("--write-card", action="store_true")
    args = ap.parse_args()

    if "OMP_NUM_THREADS" not in os.environ:  # set it to 1 when other work shares the cores
        torch.set_num_threads(2)
    model = zoo.load(args.model, device="cpu")
    classes = model.generator.num_classes
    dataset = model.resolved.card.zoo.dataset
    classifier, _ = load_reference(f"classifier-{dataset}", "cpu")
    test = load_split(dataset, "test", classifier.config.image_size)
    with torch.inference_mode():
        test_features = classifier.features(to_8bit(test["image"]))
    labels = torch.tensor([i % classes for i in range(args.n)])
    model.sample(n=2, seed=0, label=0, steps=2)  # warm-up, so the first row's time is fair
    command = f"python scripts/diffusion_figures.py {model.id} --n {args.n} --write-card"
    if args.no_ddpm:
        command += " --no-ddpm"
    tables = {}
    if args.only in (None, "steps"):
        wanted = STEP_ROWS
        if args.rows:
            asked = [r.split(":") for r in args.rows.split(",")]
            wanted = [(a, int(b)) for a, b in asked]
        rows = []
        for sampler, steps in wanted:
            if args.no_ddpm and sampler.startswith("ddpm"):
                continue
            # "NAME+clip": the sampler with each step's x_0 clamped (--clip-sample)
            name, _, clip = sampler.partition("+")
            extra = {"clip_sample": True} if clip else {}
            images, sec = draw(model, args.n, classes, sampler=name, steps=steps, **extra)
            s = score(images, labels, classifier, test_features)
            rows.append(
                [sampler, steps, s["fid"], s["precision"], s["recall"], s["label_accuracy"], sec]
            )
            print(rows[-1], flush=True)
        if args.rows:
            rows = merge_rows(model, "samplers", rows, [list(r) for r in STEP_ROWS])
        tables["samplers"] = (
            "Samplers and steps (default guidance)",
            ["sampler", "steps", "FID", "precision", "recall", "label accuracy", "s/image"],
            rows,
            "DDIM's claim: 50 steps within ~10% of DDPM's FID at 1,000 steps. NAME+clip: "
            "--clip-sample (each step's x_0 clamped to [-1, 1]). DDPM over all 1,000 steps "
            "without it diverges: at t = 999 of the cosine schedule sqrt(alpha_bar) is 5e-5, "
            "and the x_0 it implies is thrown far outside the image range.",
        )
    if args.only in (None, "guidance"):
        rows = []
        for scale in SCALES:
            images, _ = draw(model, args.n, classes, sampler="ddim", steps=50, guidance=scale)
            s = score(images, labels, classifier, test_features)
            rows.append([scale, s["fid"], s["precision"], s["recall"], s["label_accuracy"]])
            print(rows[-1], flush=True)
        tables["guidance"] = (
            "Classifier-free guidance scale (DDIM, 50 steps)",
            ["guidance", "FID", "precision", "recall", "label accuracy"],
            rows,
            "0 = the unconditional branch alone, 1 = the conditional model alone.",
        )
    if args.only in (None, "classifier"):
        rows = []
        for scale in CFG_SCALES:
            images, _ = draw(model, args.n, classes, sampler="ddim", steps=50, guidance=scale)
            s = score(images, labels, classifier, test_features)
            rows.append(["classifier-free", scale, *(s[k] for k in SCORES)])
            print(rows[-1], flush=True)
        for scale in CLASSIFIER_SCALES:
            images, _ = draw(
                model,
                args.n,
                classes,
                sampler="ddim",
                steps=50,
                guidance=0.0,
                options={"classifier_scale": scale},
            )
            s = score(images, labels, classifier, test_features)
            rows.append(["classifier", scale, *(s[k] for k in SCORES)])
            print(rows[-1], flush=True)
        tables["classifier-guidance"] = (
            "Classifier guidance against classifier-free guidance (DDIM, 50 steps)",
            ["guidance", "scale", "FID", "precision", "recall", "label accuracy"],
            rows,
            "classifier: --guidance 0 (the unconditional branch) --classifier-scale S, "
            "steered by the card's noise-aware classifier; classifier-free: --guidance S. "
            + matched(rows),
        )
    if args.only == "precision":  # not in the default run: it answers a speed question
        rows = []
        for name, first, cast in (
            ("float32", 0, "none"),
            ("float32, other seeds", args.n, "none"),
            ("bf16 autocast", 0, "bfloat16"),
        ):
            images, sec = draw(model, args.n, classes, first=first, autocast=cast)
            s = score(images, labels, classifier, test_features)
            rows.append([name, *(s[k] for k in SCORES), sec])
            print(rows[-1], flush=True)
        tables["precision"] = (
            "bf16 autocast against float32 (DDIM, 50 steps, default guidance)",
            ["network", "FID", "precision", "recall", "label accuracy", "s/image"],
            rows,
            "The second float32 row draws other seeds: the gap between the two float32 rows "
            "is the FID's noise at this n, the yardstick for the bf16 row (same seeds as the "
            "first).",
        )
    for key, (title, columns, rows, note) in tables.items():
        print(f"\n{title}\n" + " | ".join(columns))
        for row in rows:
            print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
        if args.write_card:
            from zoo.eval_card import write_figure

            rounded = [[round(v, 4) if isinstance(v, float) else v for v in r] for r in rows]
            write_figure(
                str(model.resolved.folder),
                key,
                title=title,
                command=command + f" --only {ONLY[key]}",
                columns=columns,
                rows=rounded,
                note=note,
            )


if __name__ == "__main__":
    main()
