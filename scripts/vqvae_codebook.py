"""Codebook usage of a VQ-VAE, and what its PixelCNN prior adds over random codes.

    python scripts/vqvae_codebook.py vqvae-scenes --n 1000 --write-card

Two tables, printed (and with --write-card stored in the model's card):

"codebook": per split (test, and as many train images), the codes the encoder uses,
the dead codes (never chosen), the perplexity exp(H) of code use, and the prior's
cross-entropy on those code grids against the entropy of code frequencies (what a
prior without context would score).

"prior": FID / precision / recall (classifier-scenes features, against the test split,
as `zoo eval` computes them) of n images each: decoded grids of uniformly random codes
(the VQ-VAE alone, ``random_latents``), PixelCNN samples (``zoo sample``, temperature
1), and reconstructions of test images (the ceiling the decoder sets).
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F

import zoo
from zoo.data import load_split
from zoo.eval_score import ImageSet, Networks, features_of, load_reference, score_set, to_8bit

METRICS = ("fid", "precision", "recall")


def usage_row(gen, images: torch.Tensor, split: str) -> list:
    k = gen.config.codebook_size
    with torch.inference_mode():
        codes = torch.cat([gen.codes(images[i : i + 256]) for i in range(0, len(images), 256)])
        ce = (
            sum(
                F.cross_entropy(gen.prior(codes[i : i + 256]), codes[i : i + 256], reduction="sum")
                for i in range(0, len(codes), 256)
            )
            / codes.numel()
        )
    counts = torch.bincount(codes.flatten(), minlength=k).double()
    p = counts[counts > 0] / counts.sum()
    entropy = float(-(p * p.log()).sum())
    used = int((counts > 0).sum())
    return [split, len(images), used, k - used, math.exp(entropy), entropy, float(ce)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default="vqvae-scenes")
    ap.add_argument("--n", type=int, default=1000, help="images per row of the prior table")
    ap.add_argument("--write-card", action="store_true")
    args = ap.parse_args()
    command = f"python scripts/vqvae_codebook.py {args.model} --n {args.n} --write-card"

    model = zoo.load(args.model, device="cpu")
    gen = model.generator
    dataset = model.card.zoo.dataset
    size = gen.config.image_size
    test = load_split(dataset, "test", size)["image"]
    train = load_split(dataset, "train", size)["image"][: len(test)]
    usage = [usage_row(gen, test, "test"), usage_row(gen, train, "train")]
    usage_cols = [
        "split",
        "images",
        f"codes used (of {gen.config.codebook_size})",
        "dead codes",
        "perplexity exp(H)",
        "entropy H of code use (nats)",
        "prior cross-entropy (nats/code)",
    ]

    n = args.n
    with torch.inference_mode():
        uniform = torch.cat(
            [gen.decode(gen.random_latents(1, torch.Generator().manual_seed(s))) for s in range(n)]
        )
        recon = torch.cat(
            [gen.reconstruct(test[i : i + 256]) for i in range(0, min(n, len(test)), 256)]
        )
    samples = model.sample(n=n, seed=0, batch_size=64).images
    nets = Networks(*load_reference(f"classifier-{dataset}", None), progress=False)
    real = features_of(nets, ImageSet(to_8bit(test)), METRICS, "test")
    prior_rows = []
    for name, images in (
        ("uniform random codes, decoded (no prior)", uniform),
        ("PixelCNN prior samples (temperature 1)", samples),
        (f"reconstructions of {len(recon)} test images", recon),
    ):
        s = ImageSet(to_8bit(images.float().clamp(0, 1)))
        scores = score_set(METRICS, features_of(nets, s, METRICS, name), real, s, dataset)
        prior_rows.append([name, len(images), *(scores[m] for m in METRICS)])
    prior_cols = ["images", "n", "FID", "precision", "recall"]

    for cols, rows in ((usage_cols, usage), (prior_cols, prior_rows)):
        print(" | ".join(cols))
        for row in rows:
            print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    if args.write_card:
        from zoo.eval_card import write_figure

        write_figure(
            args.model,
            "codebook",
            title="Codebook usage",
            command=command,
            columns=usage_cols,
            rows=usage,
            note=(
                "Codes of every cell of the code grids of each split; a dead code is one "
                "the encoder never picks. Perplexity exp(H) is the number of equally used "
                "codes with the same entropy. The prior's cross-entropy below H means it "
                "predicts codes from their context better than their frequencies alone do."
            ),
        )
        write_figure(
            args.model,
            "prior",
            title="What the PixelCNN prior adds",
            command=command,
            columns=prior_cols,
            rows=prior_rows,
            note=(
                f"FID, precision and recall on {nets.classifier_id} features against the "
                f"{len(test)} test images, as zoo eval computes them. A VQ-VAE alone has no "
                "distribution over code grids: uniformly random codes decode to texture, "
                "not scenes (the seeds, section 1.2.4); the prior's samples are scenes."
            ),
        )


if __name__ == "__main__":
    main()
