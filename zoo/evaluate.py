"""``zoo eval``: score a model's samples with the zoo's reference networks, beside two reference rows.

Every figure comes with two others measured the same way, so it can be read
without a published baseline: **real vs real** (the dataset's train split
scored against its test split, same N: what a perfect generator reaches) and
**untrained** (a generator of the same family built from the model's
config.json with fresh weights seeded 0, drawn with the same sampler and seeds:
a floor). A trained model should lie between them.

The steps, top to bottom (``evaluate``):

1. Plan (no torch): the metrics (asked, or the defaults for the model's
   capabilities) and the reference networks: ``classifier-<dataset>``, and
   ``clip-<dataset>`` for text models.
2. Load the real images at the reference network's size, rounded to 8 bits like
   the PNGs: the test split (the real side of every comparison) and N train
   images (the real-vs-real row). Per-image conditions (prompts, condition
   images) come from the test split.
3. Draw N images from the model and N from the untrained generator with
   ``zoo.bulk.write_folder`` into a cache folder, so a second run resumes.
   Images of another size than the reference network's are resized (a note
   says so).
4. Extract features, logits and embeddings once per image set.
5. Compute each metric for the model and both rows.

A family plugs in through its capabilities: ``CAPABILITY_METRICS``
(``zoo.eval_metrics``) gives the default metrics and ``CONDITIONS``
(``zoo.eval_plan``) how a test item becomes image k's request fields; a generator
class may set ``eval_metrics`` (metric names) to override the defaults.

The pieces live beside this driver: the metric table in ``zoo.eval_metrics``,
planning, conditions and the cache of drawn images in ``zoo.eval_plan``, features
and metrics in ``zoo.eval_score``, the card and the leaderboard in
``zoo.eval_card``. Importing this module does not import torch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.eval_card import leaderboard_rows, write_card, write_figure
from zoo.eval_metrics import DISTRIBUTION, METRICS
from zoo.eval_plan import (
    CONDITIONS,
    ROW_SPLIT,
    TEST_SPLIT,
    Plan,
    cache_folder,
    cache_root,
    draw,
    plan,
    untrained_twin,
)
from zoo.eval_score import (
    ImageSet,
    Networks,
    features_of,
    load_reference,
    score_set,
    shape_of,
    to_8bit,
)
from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    from zoo.catalog import Resolved

# the public names of ``zoo eval`` for code outside the zoo; the zoo imports each from its home
__all__ = [
    "METRICS",
    "check_options",
    "evaluate",
    "leaderboard_rows",
    "parse_options",
    "plan",
    "write_card",
    "write_figure",
]

MIN_N, MAX_N = 10, 100_000  # at least k + 1 images for precision/recall, some for FID

# -- the whole evaluation ---------------------------------------------------------------


def check_numbers(n: int, seed: int, batch_size: int) -> None:
    """Raise a one-line RequestError for an out-of-range N, seed or batch size."""
    from zoo.registry.schemas import MAX_SEED

    if not MIN_N <= n <= MAX_N:
        raise RequestError(f"--n must lie in {MIN_N}..{MAX_N}, got {n}")
    if not 0 <= seed <= MAX_SEED - n:
        raise RequestError(f"--seed must lie in 0..{MAX_SEED - n}, got {seed}")
    if not 1 <= batch_size <= 4096:
        raise RequestError(f"--batch-size must lie in 1..4096, got {batch_size}")


def evaluate(
    model: str | Plan,
    *,
    metrics: Sequence[str] | str | None = None,
    n: int = 1000,
    seed: int = 0,
    batch_size: int = 64,
    device: str | None = None,
    reference: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    options: dict[str, Any] | None = None,
    split: str = TEST_SPLIT,
    untrained: bool = True,
) -> dict[str, Any]:
    """Score ``model`` and the two reference rows; returns the JSON-ready result.

    Args:
        model: a model id, folder or ``hf:`` name (or a ``plan`` of one).
        metrics: names, or one string "fid,is"; default: the model's defaults.
        n: images drawn from the model (and from the untrained generator), 10..100,000.
        seed: image i is seeded seed + i.
        batch_size: images per forward pass when drawing.
        device: where the model and the reference networks run.
        reference: a reference network instead of ``classifier-<dataset>``.
        cache_dir: where drawn images are kept (default ``cache_root()``).
        progress: progress bars on stderr.
        options: request options every image is drawn with: the family's and the
            sampler's options (e.g. {"truncation": 0.5}) and the shared sampler fields
            "sampler", "steps", "guidance" (e.g. {"sampler": "ddim", "steps": 20});
            figures with options are kept apart in the card.
        split: the split real images and conditions come from ("test"; scenes also
            have "heldout", the attribute pairs training never saw).
        untrained: also draw and score the untrained twin (a sweep over options that
            needs the row once may skip it; its values are then None).

    Returns:
        {model, revision, n, seed, sampler, options, reference_network, dataset, split,
        n_real, metrics: {name: {value, real_vs_real, untrained}}, notes, cache,
        written}; "written" counts the model's images drawn now (0 on a rerun).
    """
    import torch

    from zoo.api import load
    from zoo.data import load_split
    from zoo.registry.schemas import SampleRequest

    check_numbers(n, seed, batch_size)
    # 1. plan
    p = model if isinstance(model, Plan) else plan(model, metrics, reference)
    r, family = p.resolved, p.resolved.family
    if (
        family.can_reconstruct
        and p.needs == {"pairs"}
        and not {"image", "control"} & set(family.capabilities)
    ):
        return evaluate_reconstruction(p, n=n, batch_size=batch_size, device=device, split=split)
    options = check_options(r, options)
    loaded = load(r.name, device=device)
    nets = Networks(*load_reference(p.reference, device), progress=progress)
    if p.clip is not None:
        nets.clip, nets.clip_id = load_reference(p.clip, device)
    notes: list[str] = []

    # 2. real images at the reference network's size (conditions at the model's); a
    #    family may take them from other datasets per option (an unpaired translator's
    #    targets are the other domain)
    from zoo.api import make_request

    drawing = {k: options[k] for k in SAMPLER_FIELDS if k in options}
    own_options = {k: v for k, v in options.items() if k not in SAMPLER_FIELDS}
    family_options = r.options(make_request(options=own_options, **drawing))["family"]
    sides = loaded.generator.eval_datasets(family_options)
    real_ds, cond_ds = sides or (p.dataset, p.dataset)
    ref_shape = shape_of(nets.classifier)
    test = load_split(real_ds, split, ref_shape[1] if ref_shape else None)
    rows = load_split(real_ds, ROW_SPLIT, ref_shape[1] if ref_shape else None)
    n_test, n_rows = len(test["image"]), min(n, len(rows["image"]))
    if n_rows < n:
        notes.append(f"the {ROW_SPLIT} split holds {n_rows} images: real vs real uses {n_rows}")
    index = [k % n_test for k in range(n)]  # the test item behind generated image k
    conditioned = drawn_from(family.capabilities, loaded.generator, p.needs)
    own = test
    gen_shape = tuple(loaded.generator.image_shape)
    if (conditioned or "pairs" in p.needs) and (
        tuple(test["image"].shape[1:]) != gen_shape or cond_ds != real_ds
    ):
        own = load_split(cond_ds, split, gen_shape[-1])
    # an upsampler's input is smaller than its output: its conditions at their own size
    cond_side = (loaded.generator.condition_shape() or gen_shape)[-1]
    given = own
    if conditioned and own["image"].shape[-1] != cond_side:
        given = load_split(cond_ds, split, cond_side)

    # 3. draw from the model and from its untrained twin (cached, resumable)
    sampler = loaded.sampler_name(SampleRequest(n=n, seed=seed, sampler=drawing.get("sampler")))
    request = {
        "n": n,
        "seed": seed,
        "batch_size": batch_size,
        **drawing,
        "sampler": sampler,
        "options": own_options,
    }
    key = {"seed": seed, "sampler": sampler, "dataset": p.dataset, "conditions": conditioned}
    if options or split != TEST_SPLIT:  # (keys of older caches stay as they were)
        key.update(options=options, split=split, sides=[real_ds, cond_ds])
    # options a PNG records even at their default (autocast): a changed default draws anew
    recorded = {
        k: v
        for k, v in loaded.whole(make_request(**request)).get("options", {}).items()
        if k not in own_options
    }
    if recorded:
        key["recorded"] = recorded
    if conditioned and cond_side != gen_shape[-1]:
        key["condition_side"] = cond_side
    folder = cache_folder(cache_root(cache_dir), r, key)
    per_image: list[dict[str, Any]] | None = None
    if conditioned:
        per_image = [{} for _ in range(n)]
        for cap in conditioned:
            fields = CONDITIONS[cap](given, index, folder / "conditions")
            per_image = [{**a, **b} for a, b in zip(per_image, fields, strict=True)]
    images, written = draw(loaded, request, per_image, folder / "samples", progress=progress)
    twin_images = None
    if untrained:
        twin = untrained_twin(loaded)
        twin_images, _ = draw(twin, request, per_image, folder / "untrained", progress=progress)
    for net, name in ((nets.classifier, nets.classifier_id), (nets.clip, nets.clip_id)):
        want = shape_of(net) if net is not None else None
        if want is not None and tuple(images.shape[1:]) != (want[0], want[1], want[1]):
            c, h, w = images.shape[1:]
            notes.append(
                f"generated images are {c}x{h}x{w}; resized to {want[0]}x{want[1]}x{want[1]} "
                f"for {name}"
            )

    prompts = None
    if "text" in family.capabilities and "caption" in test:
        prompts = [test["caption"][i] for i in index]
    targets = to_8bit(own["image"][index]) if "pairs" in p.needs else None
    labels = real_labels = None
    if "class" in family.capabilities:
        from zoo.registry.contracts import Conditions
        from zoo.registry.seeds import image_seeds

        drawn = loaded.generator.drawn_labels(Conditions(), image_seeds(seed, n))
        labels = torch.tensor(drawn) if drawn is not None else None
        if "label" in rows:
            real_labels = rows["label"][:n_rows]
    sets = {
        "value": ImageSet(images, prompts, targets, labels),
        "real_vs_real": ImageSet(
            to_8bit(rows["image"][:n_rows]),
            list(rows["caption"][:n_rows]) if prompts is not None else None,
            labels=real_labels,
        ),
    }
    if twin_images is not None:
        sets["untrained"] = ImageSet(twin_images, prompts, targets, labels)

    # 4. features once per image set; 5. metrics
    real = ImageSet(to_8bit(test["image"]))
    test_side = features_of(nets, real, [m for m in p.metrics if m in DISTRIBUTION], "test")
    results: dict[str, dict[str, float | None]] = {m: {} for m in p.metrics}
    for row, image_set in sets.items():
        side = features_of(nets, image_set, p.metrics, row.replace("_", " "))
        for m, value in score_set(p.metrics, side, test_side, image_set, p.dataset).items():
            results[m][row] = value
    for m in results:
        results[m].setdefault("untrained", None)

    return {
        "model": r.name,
        "revision": r.revision,
        "n": n,
        "seed": seed,
        "sampler": sampler,
        "options": options,
        "reference_network": nets.classifier_id,
        **({"clip_network": nets.clip_id} if nets.clip_id else {}),
        "dataset": real_ds,
        "split": split,
        "n_real": n_test,
        "metrics": results,
        "notes": notes,
        "cache": str(folder),
        "written": written,
    }


def evaluate_reconstruction(
    p: Plan, *, n: int, batch_size: int, device: str | None, split: str = TEST_SPLIT
) -> dict[str, Any]:
    """SSIM/PSNR of an autoencoder's reconstructions of the first ``n`` test images.

    Reconstructions are rounded to 8 bits like every image `zoo eval` scores; the
    untrained row is the same config with fresh weights. There is no real-vs-real
    row: a perfect reconstruction scores SSIM 1 (PSNR unbounded).
    """
    import torch

    from zoo import metrics as M
    from zoo.api import load
    from zoo.data import load_split
    from zoo.reconstruct import reconstruct

    r = p.resolved
    loaded = load(r.name, device=device)
    size = loaded.generator.config.image_size  # type: ignore[attr-defined]
    test = load_split(p.dataset, split, size)["image"][:n]
    results: dict[str, dict[str, float | None]] = {m: {"real_vs_real": None} for m in p.metrics}
    for row, model in (("value", loaded), ("untrained", untrained_twin(loaded))):
        out = torch.cat(
            [
                reconstruct(model, test[i : i + batch_size])["output"]
                for i in range(0, len(test), batch_size)
            ]
        )
        out = to_8bit(out)
        for m in p.metrics:
            value = M.ssim(out, test) if m == "ssim" else M.psnr(out, test)
            results[m][row] = float(f"{M.finite_or_none(value):.6g}")
    return {
        "model": r.name,
        "revision": r.revision,
        "n": len(test),
        "seed": 0,
        "sampler": "reconstruct",
        "options": {},
        "reference_network": None,
        "dataset": p.dataset,
        "split": split,
        "n_real": len(test),
        "metrics": results,
        "notes": [f"reconstructions of the first {len(test)} images of the {split} split"],
        "cache": None,
        "written": 0,
    }


def drawn_from(capabilities: Sequence[str], generator: Any, needs: set[str]) -> list[str]:
    """The conditions each evaluated image is drawn with, from its test item.

    A model that draws from text, a label or nothing is evaluated that way: an image it
    also takes (img2img, inpainting) is an extra, given only when the model cannot draw
    without one (``required_conditions``, an upsampler) or when the metrics compare each
    image with its test item (SSIM, PSNR: then the draw starts from that item).
    """
    caps = [c for c in capabilities if c in CONDITIONS]
    if not {"unconditional", "class", "text"} & set(capabilities) or "pairs" in needs:
        return caps
    required = set(generator.required_conditions())
    return [c for c in caps if c not in ("image", "control") or c in required]


# request fields `zoo eval --option` takes beside options: they choose how images are drawn
SAMPLER_FIELDS = ("sampler", "steps", "guidance")


def check_options(resolved: Resolved, options: dict[str, Any] | None) -> dict[str, Any]:
    """Validate eval ``options`` as request fields the model's family accepts; sorted copy."""
    from pydantic import ValidationError

    from zoo.api import format_validation
    from zoo.registry.schemas import SampleRequest

    options = dict(sorted((options or {}).items()))
    if not options:
        return {}
    fields = {k: options[k] for k in SAMPLER_FIELDS if k in options}
    try:
        request = SampleRequest(
            options={k: v for k, v in options.items() if k not in SAMPLER_FIELDS}, **fields
        )
    except ValidationError as err:
        raise RequestError(format_validation(err)) from None
    resolved.check(request)
    validated = resolved.options(request)
    values = {k: v for opts in validated.values() for k, v in opts.model_dump().items()}
    values.update(request.model_dump(include=set(fields)))
    return {k: values[k] for k in options}


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """['truncation=0.5', 'direction=b2a'] -> {'truncation': 0.5, 'direction': 'b2a'}.

    Values are read as JSON where they parse (numbers, true/false), else kept as text.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not key:
            raise RequestError(f"--option takes KEY=VALUE (e.g. truncation=0.5), got '{pair}'")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out[key] = value
    return out
