"""A cascade's upsampler against plain upsampling: FID and prompt accuracy at 64x64.

Image k (k = 0..n-1) is drawn from seed k with test caption k, once by the base stage alone
(``stage=base``, 32x32) and once by the whole cascade (``stage=cascade``, the upsampler
finishing each base image to 64x64). The base images are the same in both (the base stage
takes the image's own seed), so the rows differ only in how 32 becomes 64:

- "cascade": the model's upsampler, at its card's defaults;
- "base + bilinear": the base images resized to 64 bilinearly;
- "real 32 + bilinear": test images made at 32 and resized (the best plain resizing can do);
- "real 64": training images made at 64 against the test images (real against real).

FID and prompt accuracy are judged by a classifier that reads 64x64 scenes (``--reference``,
``classifier-scenes-64``), against the test split made at 64. A judge at 32 would shrink the
images back and hide what the upsampler adds. Draws are cached under zoo eval's cache.

    python scripts/cascade_figures.py glide-scenes [--n 200] [--write-card]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

import zoo
from zoo.data import load_split
from zoo.eval_plan import cache_folder, cache_root, draw
from zoo.eval_score import ImageSet, Networks, features_of, load_reference, score_set, to_8bit

METRICS = ("fid", "precision", "recall", "prompt_accuracy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a cascade's base model (its card names an upsampler)")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--reference", default="classifier-scenes-64")
    ap.add_argument("--write-card", action="store_true")
    args = ap.parse_args()
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(2)

    model = zoo.load(args.model, device="cpu")
    judge, judge_id = load_reference(args.reference, "cpu")
    nets = Networks(classifier=judge, classifier_id=judge_id)
    test = load_split("scenes", "test", 64)
    captions = [str(test["caption"][k % len(test["caption"])]) for k in range(args.n)]
    per_image = [{"prompt": c} for c in captions]
    root = cache_root(None)
    upsampler = model.resolved.card.zoo.components.get("upsampler")
    if upsampler is None or upsampler.model is None:
        raise SystemExit(f"{args.model}: its card names no upsampler model (zoo.components)")
    upsampler_revision = zoo.load(upsampler.model, device="cpu").resolved.revision

    def drawn(stage: str, size: int) -> tuple[torch.Tensor, float]:
        request = {"n": args.n, "seed": 0, "batch_size": 1, "height": size, "width": size}
        request["options"] = {"stage": stage}
        key = {"script": "cascade_figures", "stage": stage, "size": size, "split": "test"}
        if stage == "cascade":
            key["upsampler"] = upsampler_revision
        start = time.perf_counter()
        images, written = draw(
            model, request, per_image, cache_folder(root, model.resolved, key), progress=True
        )
        spent = (time.perf_counter() - start) / written if written else float("nan")
        return images, spent

    base, base_time = drawn("base", 32)
    cascade, cascade_time = drawn("cascade", 64)

    def bilinear(images: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(images, size=(64, 64), mode="bilinear", align_corners=False)
        return to_8bit(up.clamp(0, 1))

    real32 = load_split("scenes", "test", 32)
    train64 = load_split("scenes", "train", 64)
    sets = {
        "cascade": (cascade, captions),
        "base + bilinear": (bilinear(base), captions),
        "real 32 + bilinear": (bilinear(real32["image"][: args.n]), captions),
        "real 64 (train)": (
            to_8bit(train64["image"][: args.n]),
            [str(c) for c in train64["caption"][: args.n]],
        ),
    }
    reference = ImageSet(to_8bit(test["image"]), [str(c) for c in test["caption"]], None, None)
    real_side = features_of(nets, reference, METRICS, "test 64")
    rows = []
    for name, (images, prompts) in sets.items():
        s = ImageSet(images, prompts, None, None)
        side = features_of(nets, s, METRICS, name)
        scores = score_set(METRICS, side, real_side, s, "scenes")
        seconds = {"cascade": cascade_time, "base + bilinear": base_time}.get(name)
        rows.append(
            [
                name,
                round(scores["fid"] or float("nan"), 1),
                round(scores["precision"] or 0.0, 3),
                round(scores["recall"] or 0.0, 3),
                round(scores["prompt_accuracy"] or 0.0, 3),
                "" if seconds is None or seconds != seconds else round(seconds, 2),
            ]
        )
        print(rows[-1], flush=True)
    columns = ["64x64 from", "FID", "precision", "recall", "prompt accuracy", "s/image"]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(v) for v in row))
    if args.write_card:
        from zoo.eval_card import write_figure

        write_figure(
            str(model.resolved.folder),
            "cascade",
            title="The upsampler against bilinear resizing, at 64x64",
            command=f"python scripts/cascade_figures.py {args.model} --n {args.n} --write-card",
            columns=columns,
            rows=rows,
            note=f"{args.n} test captions, image k from seed k at the cards' defaults; the base "
            "images are the same in the first two rows. Judged by "
            f"{judge_id} (a classifier of 64x64 scenes) against the {len(test['caption'])} "
            "test images made at 64. s/image: the drawing time of that row on one thread "
            "(empty when the draws came from the cache).",
        )


if __name__ == "__main__":
    main()
