"""Latent against pixel diffusion at the same output size: ldm-scenes against glide-scenes.

Both draw the same images (32x32 scenes, one prompt, the same seeds) with the same sampler
and steps and classifier-free guidance at each card's scale; repeats are interleaved and
the medians compared, as this machine is noisy. Also printed: each model's parameters and
its card's training time and steps.

    python benchmarks/latent_vs_pixel.py [--n 16] [--steps 50] [--sampler ddim] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import zoo

PROMPT = "a large red circle in the center"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latent", default="ldm-scenes")
    ap.add_argument("--pixel", default="glide-scenes")
    ap.add_argument("--n", type=int, default=16, help="images per draw")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--sampler", default="ddim")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    models = {name: zoo.load(name, device="cpu") for name in (args.latent, args.pixel)}

    def draw(model: zoo.Model) -> None:
        model.sample(n=args.n, seed=0, prompt=PROMPT, sampler=args.sampler, steps=args.steps,
                     batch_size=args.n)  # fmt: skip

    for model in models.values():
        draw(model)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.repeat):
        for name, model in models.items():
            t0 = time.perf_counter()
            draw(model)
            times[name].append((time.perf_counter() - t0) / args.n)
    med = {name: statistics.median(v) for name, v in times.items()}
    print(
        f"{args.n} images per draw, {args.sampler} {args.steps} steps, guidance at each card's "
        f"scale, {args.threads} thread(s), {args.repeat} interleaved repeats"
    )
    for name, model in models.items():
        training = model.resolved.card.zoo.training
        print(
            f"{name:>14}: {med[name] * 1000:7.1f} ms/image "
            f"(min {min(times[name]) * 1000:.1f}, max {max(times[name]) * 1000:.1f}); "
            f"{model.resolved.card.zoo.parameters:,} parameters; trained "
            f"{training.get('steps')} steps of {training.get('batch_size')} in "
            f"{training.get('time_seconds', 0) / 60:.0f} min"
        )
    print(f"{args.pixel} / {args.latent} time per image: {med[args.pixel] / med[args.latent]:.2f}")


if __name__ == "__main__":
    main()
