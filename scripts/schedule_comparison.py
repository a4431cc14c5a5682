"""Cosine against linear noise schedule at equal training steps (improved DDPM's claim).

Nichol & Dhariwal (2021, sec. 3.2) find the linear schedule destroys information too fast
at the end of the forward process for small images, so that many of its last steps add
little, and the cosine schedule gives better samples at equal training. Here two ddpm models
of the digits are trained with the same seed, data order, network and steps, one with each
schedule, and each is scored with DDIM at 10 and 50 steps at the default guidance (FID,
precision/recall, label accuracy by the dataset's reference classifier, as
``diffusion_figures.py`` scores).

    python scripts/schedule_comparison.py [--steps 1500] [--n 500] [--workdir runs/schedules]
        [--write-card ddpm-digits]

The training runs are resumable: run the same command again after an interruption.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from diffusion_figures import SCORES, draw, score  # noqa: E402

import zoo  # noqa: E402
from zoo import checkpoint  # noqa: E402
from zoo.data import load_split  # noqa: E402
from zoo.eval_score import load_reference, to_8bit  # noqa: E402
from zoo.train import train  # noqa: E402

SCHEDULES = ("linear", "cosine")
SAMPLING = (10, 50)


def trained(workdir: Path, schedule: str, steps: int) -> Path:
    out = workdir / f"ddpm-digits-{schedule}"
    if (out / "README.md").exists():  # trained to the end (its last checkpoint stays)
        return out
    return train(
        "ddpm",
        "digits",
        out,
        steps=steps,
        sets={"schedule": {"beta_schedule": schedule}},
        resume=checkpoint.exists(out),
        force=not checkpoint.exists(out),
        argv=["train", "ddpm", "--data", "digits", "--out", str(out), "--steps", str(steps)]
        + ["--set", json.dumps({"schedule": {"beta_schedule": schedule}})],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500, help="training steps of each model")
    ap.add_argument("--n", type=int, default=500, help="images per score")
    ap.add_argument("--workdir", default="runs/schedules")
    ap.add_argument("--write-card", metavar="MODEL", help="record the table in MODEL's card")
    args = ap.parse_args()

    workdir = Path(args.workdir)
    classifier, _ = load_reference("classifier-digits", "cpu")
    test = load_split("digits", "test", classifier.config.image_size)
    with torch.inference_mode():
        test_features = classifier.features(to_8bit(test["image"]))
    labels = torch.tensor([i % 10 for i in range(args.n)])
    rows = []
    for schedule in SCHEDULES:
        folder = trained(workdir, schedule, args.steps)
        model = zoo.load(str(folder), device="cpu")
        loss = model.resolved.card.zoo.training.get("final_losses", {}).get("mse")
        for steps in SAMPLING:
            images, _ = draw(model, args.n, 10, sampler="ddim", steps=steps)
            s = score(images, labels, classifier, test_features)
            rows.append([schedule, steps, *(s[k] for k in SCORES), loss])
            print(rows[-1], flush=True)
    columns = ["schedule", "DDIM steps", "FID", "precision", "recall", "label accuracy", "loss"]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    if args.write_card:
        from zoo.eval_card import write_figure

        command = (
            f"python scripts/schedule_comparison.py --steps {args.steps} --n {args.n} "
            f"--write-card {args.write_card}"
        )
        write_figure(
            args.write_card,
            "schedules",
            title=f"Cosine against linear schedule ({args.steps} training steps each)",
            command=command,
            columns=columns,
            rows=[[round(v, 4) if isinstance(v, float) else v for v in r] for r in rows],
            note="Two ddpm models of the digits, identical but for the beta schedule (same "
            "seed, data order, network and steps); default guidance; loss = the final "
            "training MSE (on different noise levels per schedule, so not comparable "
            "across rows as a quality measure).",
        )


if __name__ == "__main__":
    main()
