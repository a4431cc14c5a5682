"""Why an autoencoder cannot generate, and what denoising buys: the figures of the AE line.

    python scripts/ae_vs_vae.py [--n 1000] [--write-card]

1. Random-latent decodes: for ae-digits and dae-digits, decode N codes drawn from
   N(0, I) (what "sampling" an autoencoder would mean); for vae-digits, its samples
   (the same draw: z ~ N(0, I) through the decoder). FID against the digits test
   split on classifier-digits features, and how many digit classes the
   classifier finds in them; beside each, the model's reconstruction SSIM on the
   test split (an autoencoder reconstructs well and still generates badly).
2. Denoising: SSIM of reconstructions of test digits with Gaussian noise of std
   0.2 and 0.4 added (seed 0), for the AE, the DAE (trained with std 0.3) and
   the noisy input itself.
"""

from __future__ import annotations

import argparse

import torch

import zoo
from zoo import metrics as M
from zoo.data import load_split
from zoo.reconstruct import reconstruct

MODELS = ("ae-digits", "dae-digits", "vae-digits")
NOISE = (0.2, 0.4)


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1000, help="random latents decoded per model")
    ap.add_argument(
        "--write-card", action="store_true", help="store the tables in the ae and dae cards"
    )
    args = ap.parse_args()
    classifier = zoo.load("classifier-digits").network
    test = load_split("digits", "test", 16)["image"]
    test_features = classifier.features(test)

    decode_rows = []
    for mid in MODELS:
        model = zoo.load(mid)
        net = model.generator
        # one generator per image, seeded i, as `zoo sample` draws image i: the VAE row
        # then equals its `zoo eval` FID
        z = torch.cat(
            [net.random_latents(1, torch.Generator().manual_seed(i)) for i in range(args.n)]
        )
        images = (net.decode(z).clamp(0, 1) * 255).round() / 255
        classes = classifier.logits(images).argmax(1).bincount(minlength=10)
        fid = M.fid(test_features, classifier.features(images))
        ssim = M.ssim(reconstruct(model, test)["output"], test)
        decode_rows.append(
            [mid, round(fid, 1), int((classes >= args.n // 100).sum()), round(ssim, 3)]
        )
    decode_cols = [
        "model",
        "FID of N(0, I) decodes",
        "digit classes (>= 1%)",
        "reconstruction SSIM",
    ]

    noise_rows = []
    for sigma in NOISE:
        row: list = [sigma]
        for mid in MODELS[:2]:
            out = reconstruct(zoo.load(mid), test, noise=sigma, seed=0)
            row.append(round(M.ssim(out["output"], test), 3))
        row.append(round(M.ssim(out["noisy"], test), 3))
        noise_rows.append(row)
    noise_cols = ["noise std", "AE SSIM", "DAE SSIM", "noisy input SSIM"]

    for cols, rows in ((decode_cols, decode_rows), (noise_cols, noise_rows)):
        print(cols)
        for r in rows:
            print(r)
    if args.write_card:
        from zoo.eval_card import write_figure

        cmd = f"python scripts/ae_vs_vae.py --n {args.n} --write-card"
        note = (
            f"{args.n:,} codes z ~ N(0, I) decoded by each model (for the VAE these are its "
            "samples), scored against the digits test split on classifier-digits features; the "
            "autoencoders reconstruct test digits well (SSIM) yet their random decodes are far "
            "from digits, because nothing in their training put the codes of digits where "
            "N(0, I) draws. The VAE's KL term does."
        )
        for mid in ("ae-digits", "dae-digits"):
            write_figure(
                mid,
                "random_latents",
                title="Decoding random latents: why an autoencoder cannot generate",
                command=cmd,
                columns=decode_cols,
                rows=decode_rows,
                note=note,
            )
        write_figure(
            "dae-digits",
            "denoising",
            title="Denoising: SSIM against the clean test digits",
            command=cmd,
            columns=noise_cols,
            rows=noise_rows,
            note="Gaussian noise (seed 0) added to the 180 test digits, clipped to [0, 1].",
        )
        write_figure(
            "vae-digits",
            "random_latents",
            title="Decoding random latents, against the autoencoders",
            command=cmd,
            columns=decode_cols,
            rows=decode_rows,
            note=note,
        )
        print("wrote the ae-digits, dae-digits and vae-digits cards")


if __name__ == "__main__":
    main()
