"""How well a latent diffusion model's own autoencoder reconstructs test scenes.

The model's autoencoder (its ``vae``: the weights it decodes with, as stored in its folder)
encodes the first n test images to latents (the posterior mean) and decodes them;
reconstructions are rounded to 8 bits, as every image `zoo eval` scores. Columns: SSIM and
PSNR against the inputs, the latent shape, and the compression (pixels' values per latent
value).

    python scripts/ldm_autoencoder.py ldm-scenes [--n 1000] [--write-card]
"""

from __future__ import annotations

import argparse

import torch

import zoo
from zoo import metrics as M
from zoo.data import load_split
from zoo.eval_score import to_8bit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--write-card", action="store_true")
    args = ap.parse_args()
    model = zoo.load(args.model, device="cpu")
    gen = model.generator
    _, size, _ = gen.image_shape
    test = load_split(model.resolved.card.zoo.dataset or "scenes", "test", size)["image"]
    test = to_8bit(test[: args.n])
    out, shape = [], None
    with torch.inference_mode():
        for i in range(0, len(test), 100):
            x = test[i : i + 100]
            mean, _ = gen.vae.encode(x * 2 - 1)
            shape = tuple(mean.shape[1:])
            out.append(((gen.vae.decode(mean) + 1) / 2).clamp(0, 1))
    recon = to_8bit(torch.cat(out))
    ratio = test[0].numel() / torch.Size(shape).numel()
    row = [
        args.model,
        round(M.ssim(recon, test), 4),
        round(M.psnr(recon, test), 2),
        "x".join(str(d) for d in shape),
        f"{ratio:g}",
    ]
    columns = ["model (its autoencoder)", "SSIM", "PSNR (dB)", "latent", "values per latent value"]
    print(" | ".join(columns))
    print(" | ".join(str(v) for v in row))
    if args.write_card:
        from zoo.eval_card import write_figure

        write_figure(
            str(model.resolved.folder),
            "autoencoder",
            title="Reconstructions by the model's own autoencoder",
            command=f"python scripts/ldm_autoencoder.py {args.model} --n {args.n} --write-card",
            columns=columns,
            rows=[row],
            note=f"the first {len(test)} test images at {size}x{size}, encoded to the posterior "
            "mean and decoded, rounded to 8 bits.",
        )


if __name__ == "__main__":
    main()
