"""WGAN-GP against the original GAN on digits, same data and budget: mode coverage and FID.

Trains both families from scratch with their shipped recipes for the same number of
generator updates and batch size, and at regular points draws 1,000 digits from
each and measures, with the classifier-digits reference network:

- classes covered: digit classes that make up at least 1% of the samples;
- effective classes: exp(entropy) of the predicted-class histogram (10 = uniform);
- FID against the digits test split (classifier-digits features, as `zoo eval`).

    python scripts/wgan_vs_gan.py [--updates 1500] [--every 300] [--write-card]

A benchmark-style experiment, not a test; ~10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

import zoo
from zoo import metrics as M
from zoo.data import load_split
from zoo.registry.discovery import get_registry, load_object

N_SAMPLES = 1000
COVER_SHARE = 0.01


def build(family: str, **overrides):
    spec = get_registry().families[family]
    gen_cls = load_object(spec.generator)
    config = gen_cls.config_class.preset("default", **overrides)
    generator = gen_cls(config)
    recipe = load_object(spec.trainer)(generator, config, torch.device("cpu"))
    return generator, recipe, config


@torch.inference_mode()
def measure(generator, classifier, test_features: torch.Tensor) -> dict[str, float]:
    generator.eval()
    z = torch.randn(
        N_SAMPLES, *generator.latent_shape(), generator=torch.Generator().manual_seed(0)
    )
    images = torch.cat([generator.generate(z[i : i + 200], {}) for i in range(0, N_SAMPLES, 200)])
    feats = classifier.features(images)
    counts = torch.bincount(classifier.logits(images).argmax(1), minlength=10).float()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum().item()
    return {
        "covered": int((p >= COVER_SHARE).sum()),
        "effective": math.exp(entropy),
        "fid": M.fid(test_features, feats),
    }


def run(family: str, updates: int, every: int, classifier, test_features, data) -> list[dict]:
    torch.manual_seed(0)
    per_update = 5 if family == "wgan" else 1  # WGAN: n_critic critic steps per G update
    generator, recipe, config = build(family, steps=updates * per_update)
    order = torch.Generator().manual_seed(0)
    n, rows, t0 = len(data), [], time.perf_counter()
    for step in range(updates * per_update):
        idx = torch.randint(n, (config.batch_size,), generator=order)
        for net in recipe.trainable().values():
            net.train()
        recipe.step({"image": data[idx]})
        done = (step + 1) // per_update
        if (step + 1) % per_update == 0 and done % every == 0:
            row = {
                "family": family,
                "updates": done,
                **measure(generator, classifier, test_features),
            }
            row["seconds"] = round(time.perf_counter() - t0, 1)
            print(row, flush=True)
            rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--updates", type=int, default=1500, help="generator updates per family")
    ap.add_argument("--every", type=int, default=300, help="measure every N generator updates")
    ap.add_argument(
        "--write-card", action="store_true", help="store the table in wgan-digits' card"
    )
    args = ap.parse_args()

    classifier = zoo.load("classifier-digits", device="cpu").network
    with torch.inference_mode():
        test_features = classifier.features(load_split("digits", "test", 16)["image"])
    data = load_split("digits", "train", 16)["image"]
    results = {
        f: run(f, args.updates, args.every, classifier, test_features, data)
        for f in ("gan", "wgan")
    }

    columns = [
        "generator updates",
        "GAN classes covered",
        "WGAN-GP classes covered",
        "GAN effective classes",
        "WGAN-GP effective classes",
        "GAN FID",
        "WGAN-GP FID",
    ]
    rows = []
    for g, w in zip(results["gan"], results["wgan"], strict=True):
        rows.append(
            [
                g["updates"],
                g["covered"],
                w["covered"],
                round(g["effective"], 2),
                round(w["effective"], 2),
                round(g["fid"], 1),
                round(w["fid"], 1),
            ]
        )
    print(columns)
    for r in rows:
        print(r)
    if args.write_card:
        from zoo.eval_card import write_figure

        cmd = f"python scripts/wgan_vs_gan.py --updates {args.updates} --every {args.every} --write-card"
        note = (
            f"Both trained from scratch on the digits train split with their shipped recipes, batch "
            f"64, the same number of generator updates (WGAN-GP makes 5 critic updates per "
            f"generator update, so it sees 5x the batches). At each point {N_SAMPLES:,} samples "
            "are classified by classifier-digits: a class is covered when it makes up at least "
            "1% of them; effective classes = exp(entropy of the class histogram), 10 when "
            "uniform. FID on classifier-digits features against the test split (lower is "
            "better). One seed (0): single runs of GANs vary."
        )
        write_figure(
            "wgan-digits",
            "wgan_vs_gan",
            title="WGAN-GP against the original GAN over training",
            command=cmd,
            columns=columns,
            rows=rows,
            note=note,
        )
        print("wrote the wgan-digits card")


if __name__ == "__main__":
    main()
