"""The zoo's scenes text-to-image models side by side, on the same prompts.

Each model is scored by `zoo eval` (``zoo.evaluate.evaluate``, its images cached) with the
same n and seed: image k is drawn from seed k with test caption k, so every model answers
the same prompts. Columns: FID (classifier-scenes features), CLIP score (clip-scenes),
prompt accuracy (every attribute the caption names, read by classifier-scenes), and the
sampling time per image at each model's defaults, measured here: one request of
``--batch`` images per model and round, the models interleaved, ``--repeat`` rounds, the
median kept, torch on one thread.

    python scripts/text_models.py [--models ldm-scenes,glide-scenes,dalle-scenes,stackgan-scenes]
        [--n 300] [--write-card glide-scenes]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import zoo
from zoo.evaluate import evaluate

MODELS = "ldm-scenes,glide-scenes,dalle-scenes,stackgan-scenes"
PROMPT = "a large red circle in the center"


def timings(ids: list[str], batch: int, repeat: int) -> dict[str, float]:
    """Median seconds per image of each model, rounds interleaved."""
    models = {m: zoo.load(m, device="cpu") for m in ids}
    for m in models.values():  # warm-up: first-call allocations and lazy components
        m.sample(n=1, seed=0, prompt=PROMPT)
    spent: dict[str, list[float]] = {m: [] for m in ids}
    for r in range(repeat):
        for m, model in models.items():
            start = time.perf_counter()
            model.sample(n=batch, seed=1000 + r, prompt=PROMPT)
            spent[m].append((time.perf_counter() - start) / batch)
    return {m: statistics.median(v) for m, v in spent.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=MODELS, help="comma-separated model ids")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write-card", metavar="MODEL", help="store the table in MODEL's card")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ids = [m.strip() for m in args.models.split(",") if m.strip()]

    scores = {}
    for m in ids:
        result = evaluate(m, metrics="fid,clip_score,prompt_accuracy", n=args.n, untrained=False)
        scores[m] = {k: v["value"] for k, v in result["metrics"].items()}
        real = {k: v["real_vs_real"] for k, v in result["metrics"].items()}
        print(m, scores[m], flush=True)
    seconds = timings(ids, args.batch, args.repeat)
    columns = ["model", "FID", "CLIP score", "prompt accuracy", "s/image"]
    rows = [
        [
            m,
            round(scores[m]["fid"], 1),
            round(scores[m]["clip_score"], 1),
            round(scores[m]["prompt_accuracy"], 3),
            round(seconds[m], 3),
        ]
        for m in ids
    ]
    rows.append(
        [
            "real test images",
            round(real["fid"], 1),
            round(real["clip_score"], 1),
            round(real["prompt_accuracy"], 3),
            "",
        ]
    )
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")
    if args.write_card:
        from zoo.eval_card import write_figure

        model = zoo.load(args.write_card, device="cpu")
        write_figure(
            str(model.resolved.folder),
            "text-models",
            title="The zoo's text-to-image models on the same prompts",
            command=f"python scripts/text_models.py --models {','.join(ids)} --n {args.n} "
            f"--write-card {args.write_card}",
            columns=columns,
            rows=rows,
            note=f"zoo eval, n={args.n}, image k from seed k with test caption k, each model at "
            f"its defaults; s/image: one request of {args.batch} images per model and round, "
            f"{args.repeat} interleaved rounds, median, one thread. The real row is the "
            "training images against the test images.",
        )


if __name__ == "__main__":
    main()
